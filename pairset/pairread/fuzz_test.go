package pairread

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
)

// FuzzMetaInfo feeds arbitrary meta_info.txt files, in a folder holding a
// few real pairs, to OpenWith (what sr train, sr test and bench --test
// read): no panic, and every pair it accepts lies inside the folder.
func FuzzMetaInfo(f *testing.F) {
	f.Add("HR/a.png, LR/a_00.png\nHR/a.png, LR/a_01.png\n")
	f.Add("# comment\n\nHR/sub/b.png, LR/sub/b_00.png\n")
	f.Add("HR/a.png, ..\n")
	f.Add("HR/a.png,LR/a_00.png,LR/a_01.png\n")
	f.Add("/etc/passwd, LR/a_00.png\n")
	f.Add("HR/a.png, LR/missing.png\n")
	f.Add(strings.Repeat("x", 1<<17))
	dir := f.TempDir()
	hr, lr := raster.New(3, 8, 8), raster.New(3, 2, 2)
	for _, p := range []string{"HR/a.png", "HR/sub/b.png"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := imageio.Save(filepath.Join(dir, p), hr, imageio.SaveOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"LR/a_00.png", "LR/a_01.png", "LR/sub/b_00.png"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := imageio.Save(filepath.Join(dir, p), lr, imageio.SaveOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	abs, _ := filepath.Abs(dir)
	f.Fuzz(func(t *testing.T, meta string) {
		if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(meta), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenWith(dir, Options{Scale: 4})
		if err != nil {
			return
		}
		for _, p := range s.Pairs {
			for _, f := range []string{p.HRPath, p.LRPath} {
				a, _ := filepath.Abs(f)
				if !strings.HasPrefix(a, abs+string(filepath.Separator)) {
					t.Fatalf("pair file %s outside the folder, from:\n%s", f, meta)
				}
			}
		}
	})
}
