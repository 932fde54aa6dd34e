package imageio

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

// TestSharedData reads the header of every image under ../shared/data and
// decodes a sample: every eighth file and every unusual one (alpha, gray,
// 16-bit, content not matching the extension).
func TestSharedData(t *testing.T) {
	root := fixture.Dir(t, "data")
	files, problems := Find(root)
	for _, p := range problems {
		t.Errorf("scan problem: %v", p)
	}
	if len(files) < 100 {
		t.Fatalf("found only %d images under %s", len(files), root)
	}
	extFormat := map[string]string{".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff"}
	decoded := 0
	for i, f := range files {
		info, err := ReadInfo(f, Options{})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		mismatch := extFormat[strings.ToLower(filepath.Ext(f))] != info.Format
		if i%8 != 0 && !info.HasAlpha && !info.Gray && info.BitDepth != 16 && !mismatch {
			continue
		}
		m, full, err := Load(f, Options{})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		decoded++
		if m.C != 3 || m.W != info.Width || m.H != info.Height || full.Format != info.Format || full.BitDepth != info.BitDepth {
			t.Errorf("%s: header %+v, decoded %+v as %dx%dx%d", f, info, full, m.C, m.H, m.W)
		}
		for _, v := range m.Pix {
			if !(v >= 0 && v <= 1) {
				t.Errorf("%s: sample %v outside [0, 1]", f, v)
				break
			}
		}
	}
	t.Logf("%d files, %d decoded", len(files), decoded)
	names, err := Names(root, files)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[strings.ToLower(n)] {
			t.Errorf("duplicate item name %q", n)
		}
		seen[strings.ToLower(n)] = true
	}
}

// TestSharedOddFiles checks the odd files the data README lists against an
// independent decode: the stored samples of the 16-bit and 8-bit RGBA PNGs
// (alpha dropped), a gray PNG, and files whose extension lies.
func TestSharedOddFiles(t *testing.T) {
	dir := fixture.Dir(t, "data", "real_lq", "natural")
	for _, tc := range []struct {
		path   string
		format string
		depth  int
		alpha  bool
		gray   bool
	}{
		{"RealESRGAN_inputs/tree_alpha_16bit.png", "png", 16, true, false},
		{"RealESRGAN_inputs/children-alpha.png", "png", 8, true, false},
		{"RealESRGAN_inputs/00017_gray.png", "png", 8, false, true},
		{"RealESRGAN_inputs/wolf_gray.jpg", "jpeg", 8, false, true},
		{"RealSet80/flower2.jpeg", "png", 8, true, false},
		{"RealSet80/36.png", "jpeg", 8, false, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(tc.path))
			m, info, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || info.BitDepth != tc.depth || info.HasAlpha != tc.alpha || info.Gray != tc.gray {
				t.Errorf("info %+v", info)
			}
			if tc.format != "png" {
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					var want [3]float32
					switch p := img.(type) {
					case *image.NRGBA64:
						c := p.NRGBA64At(x, y)
						want = [3]float32{v16(c.R), v16(c.G), v16(c.B)}
					case *image.NRGBA:
						c := p.NRGBAAt(x, y)
						want = [3]float32{v8(c.R), v8(c.G), v8(c.B)}
					case *image.Gray:
						v := v8(p.GrayAt(x, y).Y)
						want = [3]float32{v, v, v}
					default:
						t.Fatalf("decoded %T", img)
					}
					if got := rgbAt(m, x-b.Min.X, y-b.Min.Y); got != want {
						t.Fatalf("(%d,%d) = %v, want stored %v", x, y, got, want)
					}
				}
			}
		})
	}
}

// TestSharedStructure checks the truncation detector on real files: every
// PNG and JPEG under ../shared/data is complete, and none is once its last
// two bytes are cut.
func TestSharedStructure(t *testing.T) {
	files, _ := Find(fixture.Dir(t, "data"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{0, 2} {
			w := newWalker(sniff(data))
			if w == nil {
				break
			}
			w.Write(data[:len(data)-cut])
			if w.complete() != (cut == 0) {
				t.Errorf("%s cut by %d: complete = %v", f, cut, w.complete())
			}
		}
	}
}
