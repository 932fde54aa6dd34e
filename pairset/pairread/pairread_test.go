package pairread

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
)

// img returns a deterministic h x w test image whose values are multiples
// of 1/255 (so 8-bit files store it exactly), different for each seed.
func img(h, w, seed int) *raster.Image {
	m := raster.New(3, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32((i*37+seed*101)%256) / 255
	}
	return m
}

func save(t *testing.T, p string, m *raster.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// folders writes HR/hr[i] (lrSize*4 square, plus extra) and LR/lr[i].
func folders(t *testing.T, hr, lr []string, extra int) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range hr {
		save(t, filepath.Join(dir, "HR", n), img(16+extra, 16+extra, i))
	}
	for i, n := range lr {
		save(t, filepath.Join(dir, "LR", n), img(4, 4, 50+i))
	}
	return dir
}

func names(s *Set) (lr, hr []string) {
	for _, p := range s.Pairs {
		lr = append(lr, p.Name)
		hr = append(hr, p.HRName)
	}
	return
}

func TestLayouts(t *testing.T) {
	tests := []struct {
		name       string
		hr, lr     []string
		wantLR     []string
		wantHR     []string
		extraHRPix int
	}{
		{"same names", []string{"Canon_001.png", "Canon_002.png"}, []string{"Canon_001.png", "Canon_002.png"},
			[]string{"Canon_001", "Canon_002"}, []string{"Canon_001", "Canon_002"}, 0},
		{"mixed formats", []string{"a.png", "b.jpeg"}, []string{"a.jpg", "b.png"},
			[]string{"a", "b"}, []string{"a", "b"}, 0},
		{"basicsr x4 suffix", []string{"0001.png", "0002.png"}, []string{"0001x4.png", "0002x4.png"},
			[]string{"0001x4", "0002x4"}, []string{"0001", "0002"}, 0},
		{"variant suffix", []string{"a.png"}, []string{"a_00.png", "a_01.png"},
			[]string{"a_00", "a_01"}, []string{"a", "a"}, 0},
		{"subfolders", []string{"x/a.png", "y/a.png"}, []string{"x/a.png", "y/a.png"},
			[]string{"x/a", "y/a"}, []string{"x/a", "y/a"}, 0},
		{"mod-crop remainder", []string{"a.png"}, []string{"a.png"}, []string{"a"}, []string{"a"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := folders(t, tc.hr, tc.lr, tc.extraHRPix)
			s, err := Open(dir, 4)
			if err != nil {
				t.Fatal(err)
			}
			if s.Layout != Folders {
				t.Errorf("layout %v", s.Layout)
			}
			lr, hr := names(s)
			if !reflect.DeepEqual(lr, tc.wantLR) {
				t.Errorf("pairs %v, want %v", lr, tc.wantLR)
			}
			if len(tc.wantHR) > 0 && !reflect.DeepEqual(hr, tc.wantHR) {
				t.Errorf("HR names %v, want %v", hr, tc.wantHR)
			}
			h, l, err := s.Load(0)
			if err != nil {
				t.Fatal(err)
			}
			if h.W != 16 || h.H != 16 || l.W != 4 || l.H != 4 {
				t.Fatalf("loaded HR %dx%d LR %dx%d, want 16x16 and 4x4", h.W, h.H, l.W, l.H)
			}
			// The HR crop is the top-left part of the file.
			full, _, _ := imageio.Load(s.Pairs[0].HRPath, imageio.Options{})
			if want := full.Crop(0, 0, 16, 16); !reflect.DeepEqual(h.Pix, want.Pix) {
				t.Error("HR is not the top-left crop of the file")
			}
		})
	}
}

func TestMetaInfo(t *testing.T) {
	dir := t.TempDir()
	w, err := pairset.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"b", "a"} {
		v := []pairset.Variant{{LR: img(4, 4, i)}, {LR: img(4, 4, i+10)}, {LR: img(4, 4, i+20)}}
		if err := w.Write(n, img(16, 16, i), v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	// A stray LR file not listed in meta_info.txt is ignored.
	save(t, filepath.Join(dir, "LR", "zzz.png"), img(4, 4, 0))
	s, err := Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	if s.Layout != MetaInfo {
		t.Errorf("layout %v", s.Layout)
	}
	lr, hr := names(s)
	if want := []string{"a_00", "a_01", "a_02", "b_00", "b_01", "b_02"}; !reflect.DeepEqual(lr, want) {
		t.Errorf("pairs %v, want %v", lr, want)
	}
	if want := []string{"a", "a", "a", "b", "b", "b"}; !reflect.DeepEqual(hr, want) {
		t.Errorf("HR names %v, want %v", hr, want)
	}
	_, l, err := s.Load(4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Pix, img(4, 4, 10).Pix) {
		t.Error("b_01 does not hold its variant's pixels")
	}
	// Variants share the HR image in the cache.
	for i := range s.Pairs {
		if _, _, err := s.Load(i); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.CachedBytes(), int64(2*16*16*3+6*4*4*3); got != want {
		t.Errorf("cache holds %d bytes, want %d (8-bit, HR shared by variants)", got, want)
	}

	s, err = OpenWith(dir, Options{Scale: 4, Include: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if lr, _ := names(s); !reflect.DeepEqual(lr, []string{"b_00", "b_01", "b_02"}) {
		t.Errorf("--include b: %v", lr)
	}
}

func TestFilter(t *testing.T) {
	var hr []string
	for _, n := range []string{"Canon_039", "Canon_041", "Canon_049", "Canon_050", "Nikon_041"} {
		hr = append(hr, n+"_LR4.png")
	}
	dir := folders(t, hr, hr, 0)
	inc, err := ParseGlobs("Canon_04[1-9]*, Canon_050*,")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		inc, exc []string
		want     []string
	}{
		{inc, nil, []string{"Canon_041_LR4", "Canon_049_LR4", "Canon_050_LR4"}},
		{inc, []string{"*_049_*"}, []string{"Canon_041_LR4", "Canon_050_LR4"}},
		{nil, []string{"Canon*"}, []string{"Nikon_041_LR4"}},
	}
	for _, tc := range tests {
		s, err := OpenWith(dir, Options{Scale: 4, Include: tc.inc, Exclude: tc.exc})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := names(s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("include %v exclude %v: %v, want %v", tc.inc, tc.exc, got, tc.want)
		}
	}
	if _, err := ParseGlobs("a[,b"); err == nil {
		t.Error("bad pattern accepted")
	}
	_, err = OpenWith(dir, Options{Scale: 4, Include: []string{"Sony*"}})
	wantErr(t, err, "no pair's HR name matches", "Sony*")
	// An unmatched LR file outside the selection is not an error.
	save(t, filepath.Join(dir, "LR", "Sony_001.png"), img(4, 4, 0))
	if _, err := OpenWith(dir, Options{Scale: 4, Include: inc}); err != nil {
		t.Errorf("unmatched file outside the selection: %v", err)
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Run("no HR folder", func(t *testing.T) {
		dir := t.TempDir()
		save(t, filepath.Join(dir, "LR", "a.png"), img(4, 4, 0))
		_, err := Open(dir, 4)
		wantErr(t, err, dir+" has no HR/ folder", "needs HR/ and LR/")
	})
	t.Run("no LR folder", func(t *testing.T) {
		dir := t.TempDir()
		save(t, filepath.Join(dir, "HR", "a.png"), img(16, 16, 0))
		_, err := Open(dir, 4)
		wantErr(t, err, "has no LR/ folder")
	})
	t.Run("not a folder", func(t *testing.T) {
		_, err := Open(filepath.Join(t.TempDir(), "missing"), 4)
		wantErr(t, err, "missing")
	})
	t.Run("LR without HR", func(t *testing.T) {
		lr := []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png"}
		dir := folders(t, []string{"a.png"}, lr, 0)
		_, err := Open(dir, 4)
		wantErr(t, err, "7 LR file(s) have no HR file", "b.png", "f.png", "and 2 more")
	})
	t.Run("HR without LR", func(t *testing.T) {
		dir := folders(t, []string{"a.png", "b.png"}, []string{"a.png"}, 0)
		_, err := Open(dir, 4)
		wantErr(t, err, "1 HR file(s) have no LR file: b.png")
	})
	t.Run("wrong scale", func(t *testing.T) {
		dir := t.TempDir()
		save(t, filepath.Join(dir, "HR", "a.png"), img(8, 8, 0))
		save(t, filepath.Join(dir, "LR", "a.png"), img(4, 4, 0))
		_, err := Open(dir, 4)
		wantErr(t, err, "1 pair(s) of the wrong size", filepath.Join("LR", "a.png")+" is 4x4", "is 8x8", "x4 = 16x16", "fit scale 2")
	})
	t.Run("remainder too large", func(t *testing.T) {
		dir := folders(t, []string{"a.png"}, []string{"a.png"}, 4)
		_, err := Open(dir, 4)
		wantErr(t, err, "is 20x20", "up to 3 pixel(s) larger")
	})
	t.Run("HR smaller", func(t *testing.T) {
		dir := t.TempDir()
		save(t, filepath.Join(dir, "HR", "a.png"), img(15, 16, 0))
		save(t, filepath.Join(dir, "LR", "a.png"), img(4, 4, 0))
		_, err := Open(dir, 4)
		wantErr(t, err, "is 16x15")
	})
	t.Run("unreadable image", func(t *testing.T) {
		dir := folders(t, []string{"a.png"}, []string{"a.png"}, 0)
		p := filepath.Join(dir, "LR", "a.png")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:20], 0o644)
		_, err := Open(dir, 4)
		wantErr(t, err, "unreadable", p)
	})
	t.Run("duplicate names", func(t *testing.T) {
		dir := folders(t, []string{"a.png", "a.jpg"}, []string{"a.png"}, 0)
		_, err := Open(dir, 4)
		wantErr(t, err, "two images named a", "a.jpg", "a.png")
	})
	t.Run("empty HR", func(t *testing.T) {
		dir := folders(t, nil, []string{"a.png"}, 0)
		os.MkdirAll(filepath.Join(dir, "HR"), 0o755)
		_, err := Open(dir, 4)
		wantErr(t, err, "has no images")
	})
	t.Run("bad meta line", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, MetaFile), []byte("HR/a.png, LR/a.png\n0001.png (480,480,3)\n"), 0o644)
		_, err := Open(dir, 4)
		wantErr(t, err, "line 2", "0001.png (480,480,3)")
	})
	t.Run("meta lists missing files", func(t *testing.T) {
		dir := folders(t, []string{"a.png"}, []string{"a.png"}, 0)
		os.WriteFile(filepath.Join(dir, MetaFile), []byte("HR/a.png, LR/a.png\nHR/b.png, LR/b.png\n"), 0o644)
		_, err := Open(dir, 4)
		wantErr(t, err, "2 file(s) that do not exist", "line 2", filepath.Join("HR", "b.png"))
		// Missing files outside the selection do not matter.
		if _, err := OpenWith(dir, Options{Scale: 4, Include: []string{"a"}}); err != nil {
			t.Errorf("selection without the missing pair: %v", err)
		}
	})
	t.Run("meta escapes the folder", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, MetaFile), []byte("../HR/a.png, LR/a.png\n"), 0o644)
		_, err := Open(dir, 4)
		wantErr(t, err, "inside it")
	})
	t.Run("scale 0", func(t *testing.T) {
		_, err := Open(t.TempDir(), 0)
		wantErr(t, err, "scale 0")
	})
}

func TestLoadPatchAndCache(t *testing.T) {
	dir := t.TempDir()
	hr, lr := img(40, 48, 1), img(10, 12, 2)
	save(t, filepath.Join(dir, "HR", "a.png"), hr)
	save(t, filepath.Join(dir, "LR", "a.png"), lr)
	// A 16-bit pair goes through the 16-bit cache.
	hr16, lr16 := img(40, 48, 3), img(10, 12, 4)
	for i := range hr16.Pix {
		hr16.Pix[i] = float32(i%65536) / 65535
	}
	for i := range lr16.Pix {
		lr16.Pix[i] = float32(i*997%65536) / 65535
	}
	for _, x := range []struct {
		p string
		m *raster.Image
	}{{filepath.Join(dir, "HR", "b.png"), hr16}, {filepath.Join(dir, "LR", "b.png"), lr16}} {
		if err := imageio.Save(x.p, x.m, imageio.SaveOptions{Bits16: true}); err != nil {
			t.Fatal(err)
		}
	}
	cached, err := Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	uncached, err := OpenWith(dir, Options{Scale: 4, CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cached.Preload(context.Background(), 2, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := cached.CachedBytes(), int64(3*(40*48+10*12)*(1+2)); got != want {
		t.Errorf("cache holds %d bytes, want %d", got, want)
	}
	if uncached.CachedBytes() != 0 {
		t.Error("disabled cache holds images")
	}
	for i, want := range [][2]*raster.Image{{hr, lr}, {hr16, lr16}} {
		for _, s := range []*Set{cached, uncached} {
			h, l, err := s.Load(i)
			if err != nil {
				t.Fatal(err)
			}
			fileHR, _, _ := imageio.Load(s.Pairs[i].HRPath, imageio.Options{})
			if !reflect.DeepEqual(h.Pix, fileHR.Pix) {
				t.Errorf("pair %d: HR differs from a fresh load", i)
			}
			if !reflect.DeepEqual(l.W, want[1].W) {
				t.Errorf("pair %d: LR width %d", i, l.W)
			}
			ph, pl, err := s.LoadPatch(i, 3, 5, 6, 7)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pl.Pix, l.Crop(3, 5, 6, 7).Pix) || !reflect.DeepEqual(ph.Pix, h.Crop(12, 20, 24, 28).Pix) {
				t.Errorf("pair %d: patch differs from the crop of the whole pair", i)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("patch outside the image did not panic")
		}
	}()
	cached.LoadPatch(0, 5, 0, 6, 6)
}

func TestPreloadCancel(t *testing.T) {
	dir := folders(t, []string{"a.png", "b.png"}, []string{"a.png", "b.png"}, 0)
	s, err := Open(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Preload(ctx, 1, nil); err != context.Canceled {
		t.Errorf("cancelled preload: %v", err)
	}
	// A file that turns bad after Open is reported by name.
	os.WriteFile(s.Pairs[1].LRPath, []byte("not an image"), 0o644)
	n := 0
	err = s.Preload(context.Background(), 2, func() { n++ })
	wantErr(t, err, s.Pairs[1].LRPath)
	if n != 2 {
		t.Errorf("done called %d times, want 2", n)
	}
}

func TestRealSR(t *testing.T) {
	dir := fixture.Dir(t, "data", "real_pairs", "RealSR_V3")
	test, _ := ParseGlobs("Canon_04[1-9]*,Canon_050*,Nikon_04[1-9]*,Nikon_050*")
	s, err := OpenWith(dir, Options{Scale: 4, Include: test})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 20 || s.Pairs[0].Name != "Canon_041_LR4" || s.Pairs[19].Name != "Nikon_050_LR4" {
		t.Fatalf("%d pairs, %s .. %s; want the 20 of the test split", s.Len(), s.Pairs[0].Name, s.Pairs[s.Len()-1].Name)
	}
	hr, lr, err := s.Load(0)
	if err != nil {
		t.Fatal(err)
	}
	if hr.W != 512 || hr.H != 512 || lr.W != 128 || lr.H != 128 {
		t.Errorf("Canon_041: HR %dx%d LR %dx%d", hr.W, hr.H, lr.W, lr.H)
	}
	all, err := Open(dir, 4)
	if err != nil || all.Len() != 100 {
		t.Fatalf("whole folder: %v", err)
	}
}
