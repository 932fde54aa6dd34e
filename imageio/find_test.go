package imageio

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// relPaths returns files relative to root with slashes.
func relPaths(t *testing.T, root string, files []string) []string {
	t.Helper()
	out := make([]string, len(files))
	for i, f := range files {
		r, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.ToSlash(r)
	}
	return out
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	png := encodePNG(t, testImage(3, 2))
	webpData, err := os.ReadFile(filepath.Join(libref, "webp_lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"b.png":                png,
		"a-b.png":              png,
		"a/c.JPG":              []byte("not checked here"),
		"a/d.webp":             webpData,
		"a/notes.txt":          []byte("text"),
		"noext":                png,
		"README":               []byte("# a folder of images\n"),
		"empty":                nil,
		".hidden.png":          png,
		".hiddendir/x.png":     png,
		".b.png.tmp-123":       png,
		"sub/deep/z.tiff":      png,
		"sub/deep/y.Tif":       png,
		"sub/deep/archive.zip": png,
	} {
		writeFile(t, root, name, data)
	}
	links := map[string]string{
		"link-to-b.png": "b.png",
		"linkdir":       "sub/deep",
		"broken.png":    "does-not-exist.png",
		"sub/loop":      "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("cannot make symbolic links here: %v", err)
		}
	}

	files, problems := Find(root)
	want := []string{
		"a-b.png", "a/c.JPG", "a/d.webp", "b.png", "link-to-b.png",
		"linkdir/y.Tif", "linkdir/z.tiff", "noext", "sub/deep/y.Tif", "sub/deep/z.tiff",
	}
	if got := relPaths(t, root, files); !slices.Equal(got, want) {
		t.Errorf("files\n got %q\nwant %q", got, want)
	}
	if len(problems) != 2 {
		t.Fatalf("problems %v, want 2", problems)
	}
	checkFileError(t, problems[0], "scan", filepath.Join(root, "broken.png"), fs.ErrNotExist, []string{"cannot follow"})
	checkFileError(t, problems[1], "scan", filepath.Join(root, "sub", "loop"), nil, []string{"enclosing folder"})

	// The same call gives the same answer.
	again, _ := Find(root)
	if !slices.Equal(again, files) {
		t.Errorf("second Find differs")
	}
}

func TestFindRootProblems(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	files, problems := Find(missing)
	if files != nil || len(problems) != 1 {
		t.Fatalf("got %v, %v", files, problems)
	}
	checkFileError(t, problems[0], "scan", missing, fs.ErrNotExist, nil)

	file := writeFile(t, dir, "x.png", []byte("x"))
	files, problems = Find(file)
	if files != nil || len(problems) != 1 {
		t.Fatalf("got %v, %v", files, problems)
	}
	checkFileError(t, problems[0], "scan", file, nil, []string{"not a folder"})

	files, problems = Find(t.TempDir())
	if len(files) != 0 || len(problems) != 0 {
		t.Errorf("empty folder: %v, %v", files, problems)
	}
}

func TestNames(t *testing.T) {
	root := filepath.FromSlash("/data/in")
	tests := []struct {
		name  string
		files []string // relative, slash-separated, in Find order
		want  []string
	}{
		{"plain", []string{"faces/0001.png", "faces/0002.jpg", "x.tiff"}, []string{"faces/0001", "faces/0002", "x"}},
		{"same stem", []string{"a.jpg", "a.png"}, []string{"a_jpg", "a_png"}},
		{"same stem, case", []string{"A.png", "a.png"}, []string{"A_png", "a_png_2"}},
		{"suffix taken", []string{"a.jpg", "a.png", "a_png.bmp"}, []string{"a_jpg", "a_png", "a_png_2"}},
		{"counter skips candidates", []string{"a.PNG", "a.png", "a_png_2.bmp"}, []string{"a_png", "a_png_3", "a_png_2"}},
		{"folders kept", []string{"x/y.png", "x_y.png"}, []string{"x/y", "x_y"}},
		{"no extension", []string{"a", "a.png"}, []string{"a", "a_png"}},
		{"double extension", []string{"a.png", "a.png.jpg"}, []string{"a", "a.png"}},
		{"folder case", []string{"X/a.png", "x/a.png"}, []string{"X/a_png", "x/a_png_2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := make([]string, len(tc.files))
			for i, f := range tc.files {
				files[i] = filepath.Join(root, filepath.FromSlash(f))
			}
			got, err := Names(root, files)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Names = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := Names(root, []string{filepath.FromSlash("/elsewhere/a.png")}); err == nil {
		t.Errorf("file outside root: no error")
	}
	if _, err := RelName(root, root); err == nil {
		t.Errorf("root itself: no error")
	}
}

// TestNamesUnique draws crowded random folders and checks that names never
// collide, ignoring case, and do not depend on anything but the file list.
func TestNamesUnique(t *testing.T) {
	s := rng.New(7, "imageio-test", "names")
	parts := []string{"a", "A", "a_png", "a_png_2", "b", "a_jpg"}
	exts := []string{"", ".png", ".PNG", ".jpg", ".bmp"}
	for trial := range 300 {
		set := map[string]bool{}
		for range 1 + s.Intn(12) {
			set[parts[s.Intn(len(parts))]+exts[s.Intn(len(exts))]] = true
		}
		var files []string
		for f := range set {
			files = append(files, filepath.Join("root", f))
		}
		slices.Sort(files)
		names, err := Names("root", files)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for i, n := range names {
			if prev, dup := seen[strings.ToLower(n)]; dup {
				t.Fatalf("trial %d: %s and %s both named %q (files %q)", trial, prev, files[i], n, files)
			}
			seen[strings.ToLower(n)] = files[i]
		}
	}
}

func TestFindSkipsTemporaryFromSave(t *testing.T) {
	// Save's temporary name pattern is hidden, so a scan running during a
	// save never lists a half-written file.
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, ".out.png.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	files, problems := Find(dir)
	if len(files) != 0 || len(problems) != 0 {
		t.Errorf("got %v, %v", files, problems)
	}
}
