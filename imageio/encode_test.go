package imageio

import (
	"bytes"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/raster"
)

// halfway returns a float32 v with v*255 == k+0.5 exactly in float32
// arithmetic, searching the neighbours of (k+0.5)/255.
func halfway(t *testing.T, k int, scale float32) float32 {
	t.Helper()
	v := float32((float64(k) + 0.5) / float64(scale))
	for range 8 {
		switch p := v * scale; {
		case p == float32(k)+0.5:
			return v
		case p < float32(k)+0.5:
			v = math.Nextafter32(v, 2)
		default:
			v = math.Nextafter32(v, -1)
		}
	}
	t.Fatalf("no float32 v with v*%v == %d.5", scale, k)
	return 0
}

func TestQuantize(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name  string
		v     float32
		scale float32
		want  uint32
	}{
		{"zero", 0, 255, 0},
		{"one", 1, 255, 255},
		{"negative", -0.2, 255, 0},
		{"above one", 1.7, 255, 255},
		{"NaN", nan, 255, 0},
		{"+Inf", inf, 255, 255},
		{"-Inf", -inf, 255, 0},
		{"127.5 to even 128", 0.5, 255, 128},
		{"2.5 to even 2", halfway(t, 2, 255), 255, 2},
		{"3.5 to even 4", halfway(t, 3, 255), 255, 4},
		{"just below 2.5", math.Nextafter32(halfway(t, 2, 255), 0), 255, 2},
		{"just above 2.5", math.Nextafter32(halfway(t, 2, 255), 1), 255, 3},
		{"level 17", 17.0 / 255, 255, 17},
		{"16-bit 32767.5 to even 32768", 0.5, 65535, 32768},
		{"16-bit 1", 1, 65535, 65535},
		{"16-bit level", float32(4660) / 65535, 65535, 4660},
	}
	for _, tc := range tests {
		if got := quantize(tc.v, tc.scale); got != tc.want {
			t.Errorf("%s: quantize(%v, %v) = %d, want %d", tc.name, tc.v, tc.scale, got, tc.want)
		}
	}
}

// levels returns a raster whose values are exact 8-bit (or 16-bit) levels
// k/255 (k/65535), varied over pixels and planes.
func levels(c, h, w int, scale float32) *raster.Image {
	m := raster.New(c, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32((i*7919)%int(scale+1)) / scale
	}
	return m
}

func TestToImage(t *testing.T) {
	m := levels(3, 3, 5, 255)
	img := ToImage(m, 8).(*image.RGBA)
	n := 15
	for i := range n {
		for k := range 3 {
			want := uint8(math.Round(float64(m.Pix[k*n+i]) * 255))
			if got := img.Pix[4*i+k]; got != want {
				t.Fatalf("8-bit pixel %d plane %d = %d, want %d", i, k, got, want)
			}
		}
		if img.Pix[4*i+3] != 255 {
			t.Fatalf("alpha %d", img.Pix[4*i+3])
		}
	}
	m16 := levels(3, 3, 5, 65535)
	img16 := ToImage(m16, 16).(*image.RGBA64)
	for i := range n {
		c := img16.RGBA64At(i%5, i/5)
		got := [4]uint16{c.R, c.G, c.B, c.A}
		for k := range 3 {
			if want := uint16(math.Round(float64(m16.Pix[k*n+i]) * 65535)); got[k] != want {
				t.Fatalf("16-bit pixel %d plane %d = %d, want %d", i, k, got[k], want)
			}
		}
		if got[3] != 0xffff {
			t.Fatalf("alpha %d", got[3])
		}
	}
	g := levels(1, 2, 3, 255)
	if gi, ok := ToImage(g, 8).(*image.Gray); !ok || gi.Pix[4] != uint8(math.Round(float64(g.Pix[4])*255)) {
		t.Errorf("1-plane 8-bit: %T", ToImage(g, 8))
	}
	if _, ok := ToImage(g, 16).(*image.Gray16); !ok {
		t.Errorf("1-plane 16-bit: %T", ToImage(g, 16))
	}
	for _, bad := range []func(){
		func() { ToImage(m, 12) },
		func() { ToImage(raster.New(2, 2, 2), 8) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			bad()
		}()
	}
}

func TestToUint8(t *testing.T) {
	m := raster.New(3, 1, 2)
	copy(m.Pix, []float32{0, 1, 0.5, -1, 2, 17.0 / 255}) // R plane, G plane, B plane
	want := []uint8{0, 128, 255, 255, 0, 17}             // HWC
	if got := ToUint8(m); !bytes.Equal(got, want) {
		t.Errorf("ToUint8 = %v, want %v", got, want)
	}
}

// TestRoundTrip saves and loads rasters: PNG exactly at 8 and 16 bits, a
// 1-plane raster as gray, JPEG within a few levels.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	smooth := FromImage(smoothImage(48, 32))
	smoothGray := &raster.Image{C: 1, H: smooth.H, W: smooth.W, Pix: smooth.Plane(1)}
	tests := []struct {
		name   string
		m      *raster.Image
		opt    SaveOptions
		maxErr float32 // in levels of 255
		info   Info
	}{
		{"rgb8.png", levels(3, 17, 23, 255), SaveOptions{}, 0, Info{Format: "png", BitDepth: 8}},
		{"rgb16.png", levels(3, 17, 23, 65535), SaveOptions{Bits16: true}, 0, Info{Format: "png", BitDepth: 16}},
		{"gray8.png", levels(1, 17, 23, 255), SaveOptions{}, 0, Info{Format: "png", BitDepth: 8, Gray: true}},
		{"gray16.PNG", levels(1, 17, 23, 65535), SaveOptions{Bits16: true}, 0, Info{Format: "png", BitDepth: 16, Gray: true}},
		{"smooth.jpg", smooth, SaveOptions{}, 6, Info{Format: "jpeg", BitDepth: 8}},
		{"smooth.JPEG", smooth, SaveOptions{JPEGQuality: 100}, 6, Info{Format: "jpeg", BitDepth: 8}},
		{"sub/dir/gray.jpg", smoothGray, SaveOptions{}, 2, Info{Format: "jpeg", BitDepth: 8, Gray: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(tc.name))
			if err := Save(path, tc.m, tc.opt); err != nil {
				t.Fatal(err)
			}
			got, info, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.info.Width, tc.info.Height, tc.info.Orientation = tc.m.W, tc.m.H, 1
			if info != tc.info {
				t.Errorf("info %+v, want %+v", info, tc.info)
			}
			n := tc.m.H * tc.m.W
			var worst float32
			for k := range 3 {
				for i := range n {
					want := tc.m.Pix[min(k, tc.m.C-1)*n+i]
					worst = max(worst, float32(math.Abs(float64(got.Pix[k*n+i]-want)))*255)
				}
			}
			if worst > tc.maxErr {
				t.Errorf("max error %.2f levels, want <= %v", worst, tc.maxErr)
			}
		})
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	m := levels(3, 8, 8, 255)
	t.Run("replaces atomically", func(t *testing.T) {
		path := filepath.Join(dir, "out.png")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Save(path, m, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
		if _, _, err := Load(path, Options{}); err != nil {
			t.Error(err)
		}
		noTemporaries(t, dir)
	})
	t.Run("bad extension", func(t *testing.T) {
		path := filepath.Join(dir, "out.gif")
		err := Save(path, m, SaveOptions{})
		checkFileError(t, err, "save", path, ErrUnsupported, []string{`".gif"`, ".png, .jpg or .jpeg"})
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file created: %v", err)
		}
	})
	t.Run("16-bit JPEG", func(t *testing.T) {
		path := filepath.Join(dir, "deep.jpg")
		err := Save(path, m, SaveOptions{Bits16: true})
		checkFileError(t, err, "save", path, ErrUnsupported, []string{"8 bits"})
	})
	t.Run("bad quality", func(t *testing.T) {
		path := filepath.Join(dir, "q.jpg")
		err := Save(path, m, SaveOptions{JPEGQuality: 101})
		checkFileError(t, err, "save", path, nil, []string{"quality 101"})
	})
	t.Run("rename fails", func(t *testing.T) {
		// A non-empty folder at the target path: everything succeeds but
		// the rename, and the temporary file must go.
		path := filepath.Join(dir, "taken.png")
		writeFile(t, path, "keep", []byte("x"))
		err := Save(path, m, SaveOptions{})
		checkFileError(t, err, "save", path, nil, nil)
		noTemporaries(t, dir)
	})
	t.Run("parent is a file", func(t *testing.T) {
		path := filepath.Join(dir, "out.png", "x.png")
		err := Save(path, m, SaveOptions{})
		checkFileError(t, err, "save", path, nil, nil)
	})
	t.Run("permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which may write any folder: cannot test permission errors")
		}
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0o555); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(locked, "x.png")
		err := Save(path, m, SaveOptions{})
		checkFileError(t, err, "save", path, os.ErrPermission, []string{"permission denied"})
	})
	t.Run("encode to writer", func(t *testing.T) {
		var b bytes.Buffer
		if err := Encode(&b, m, "jpg", SaveOptions{JPEGQuality: 80}); err != nil {
			t.Fatal(err)
		}
		if Sniff(b.Bytes()) != "jpeg" {
			t.Errorf("not a JPEG")
		}
		if err := Encode(&b, m, "bmp", SaveOptions{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("bmp: %v", err)
		}
	})
}

// noTemporaries fails if Save left a temporary file in dir.
func noTemporaries(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
