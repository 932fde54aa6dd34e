package jpeg

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func basicsr(t *testing.T) (*safetensors.File, *raster.Image) {
	t.Helper()
	dir := fixture.Dir(t, "fixtures", "basicsr")
	f, err := safetensors.Open(filepath.Join(dir, "ops.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pix, shape, err := f.Float32("image")
	if err != nil {
		t.Fatal(err)
	}
	return f, &raster.Image{C: shape[1], H: shape[2], W: shape[3], Pix: pix}
}

func float32s(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	v, shape, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v, shape
}

// randImage returns a reproducible smooth-plus-noise RGB image in [0, 1].
func randImage(h, w int, seed uint64) *raster.Image {
	s := rng.New(seed, "jpeg-test-image")
	m := raster.New(3, h, w)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := 0.5 + 0.3*math.Sin(float64(x+3*c)/7)*math.Cos(float64(y)/5) + 0.02*(s.Float64()-0.5)
				m.Set(c, y, x, float32(v))
			}
		}
	}
	return m
}

func TestFactor(t *testing.T) {
	tests := []struct {
		q    float64
		want float32
	}{
		// The first three are the factors BasicSR wrote into the quality
		// tensor (ops.json checks).
		{30, 1.6666667461395264},
		{60, 0.800000011920929},
		{95, 0.10000000149011612},
		{50, 1},
		{10, 5},
		{73.4, (200 - float32(73.4)*2) / 100},
	}
	for _, tt := range tests {
		if got := Factor(tt.q); got != tt.want {
			t.Errorf("Factor(%g) = %.9g, want %.9g", tt.q, got, tt.want)
		}
	}
}

func TestTablesFixture(t *testing.T) {
	f, _ := basicsr(t)
	luma, chroma := Tables()
	for _, c := range []struct {
		name string
		got  []float32
	}{
		{"jpeg.y_table_used", luma[:]},
		{"jpeg.c_table_used", chroma[:]},
		{"jpeg.y_table_standard", lumaTable[:]},
		{"jpeg.c_table_standard", chromaTable[:]},
	} {
		want, _ := float32s(t, f, c.name)
		for i := range want {
			if c.got[i] != want[i] {
				t.Errorf("%s[%d] = %v, want %v", c.name, i, c.got[i], want[i])
			}
		}
	}
}

// TestCoefficientsFixture checks the quantised coefficients at quality 60
// against jpeg.q60.coeff_{y,cb,cr}: they must be identical.
func TestCoefficientsFixture(t *testing.T) {
	f, img := basicsr(t)
	c := Compress(img, 60)
	if c.Factor != 0.8 {
		t.Errorf("factor %v, want 0.8", c.Factor)
	}
	for _, p := range []struct {
		name   string
		blocks [][64]int32
	}{{"jpeg.q60.coeff_y", c.Y}, {"jpeg.q60.coeff_cb", c.Cb}, {"jpeg.q60.coeff_cr", c.Cr}} {
		want, shape := float32s(t, f, p.name)
		if shape[1] != len(p.blocks) {
			t.Fatalf("%s: %d blocks, want %d", p.name, len(p.blocks), shape[1])
		}
		bad := 0
		for b := range p.blocks {
			for k := 0; k < 64; k++ {
				if float32(p.blocks[b][k]) != want[b*64+k] {
					if bad < 5 {
						t.Errorf("%s block %d [%d,%d] = %d, want %v", p.name, b, k/8, k%8, p.blocks[b][k], want[b*64+k])
					}
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d coefficients differ", p.name, bad)
		}
	}
}

// TestDiffJPEGFixture compares the output pixels with BasicSR at atol 1e-5.
func TestDiffJPEGFixture(t *testing.T) {
	f, img := basicsr(t)
	for _, c := range []struct {
		name string
		q    float64
	}{{"jpeg.q30", 30}, {"jpeg.q60", 60}, {"jpeg.q95", 95}, {"jpeg.q73.4_tensor", float64(float32(73.4))}} {
		want, _ := float32s(t, f, c.name)
		got := DiffJPEG(img, c.q)
		worst := 0.0
		for i := range want {
			worst = max(worst, math.Abs(float64(got.Pix[i])-float64(want[i])))
		}
		t.Logf("%s: max abs diff %.3g", c.name, worst)
		if worst > 1e-5 {
			t.Errorf("%s: max abs diff %g, want <= 1e-5", c.name, worst)
		}
	}
}

// TestDiffJPEGFlatGray follows a uniform 0.5 image by hand at quality 90
// (factor 0.2): Y = 127.5, so each luma block is -0.5 after the level
// shift; DC = 0.125 * 64 * -0.5 = -4, quantised by 16*0.2 = 3.2 to
// round(-1.25) = -1, dequantised to -3.2; the inverse DCT gives
// 0.25 * 0.5 * -3.2 + 128 = 127.6 everywhere. Chroma is 128 (coefficients
// 0), so R = G = B = 127.6/255.
func TestDiffJPEGFlatGray(t *testing.T) {
	img := raster.New(3, 16, 16)
	for i := range img.Pix {
		img.Pix[i] = 0.5
	}
	c := Compress(img, 90)
	for b, blk := range c.Y {
		for k, v := range blk {
			want := int32(0)
			if k == 0 {
				want = -1
			}
			if v != want {
				t.Fatalf("Y block %d coefficient %d = %d, want %d", b, k, v, want)
			}
		}
	}
	for _, blk := range append(c.Cb, c.Cr...) {
		if blk != ([64]int32{}) {
			t.Fatalf("chroma block %v, want all zero", blk)
		}
	}
	out := c.Decompress()
	for i, v := range out.Pix {
		if math.Abs(float64(v)-127.6/255) > 1e-6 {
			t.Fatalf("value %d = %v, want %v", i, v, 127.6/255)
		}
	}
}

// TestCoefficientOrientation checks the [u,v] layout: a pattern that varies
// only along x (horizontal) has non-zero coefficients only at u = 0.
func TestCoefficientOrientation(t *testing.T) {
	img := raster.New(3, 16, 16)
	for c := 0; c < 3; c++ {
		for y := 0; y < 16; y++ {
			for x := 0; x < 16; x++ {
				img.Set(c, y, x, float32(0.5+0.4*math.Cos(math.Pi*float64(2*x+1)*3/16)))
			}
		}
	}
	c := Compress(img, 95)
	nonzero := 0
	for _, blk := range c.Y {
		for k, v := range blk {
			if v != 0 {
				nonzero++
				if k/8 != 0 {
					t.Errorf("coefficient [u=%d,v=%d] = %d, want 0 for a horizontal pattern", k/8, k%8, v)
				}
			}
		}
	}
	if nonzero == 0 {
		t.Error("no non-zero luma coefficients")
	}
}

func TestDiffJPEGSizes(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {13, 21}, {16, 16}, {17, 40}, {48, 40}} {
		img := randImage(sz[0], sz[1], 1)
		c := Compress(img, 50)
		ph, pw := padded(sz[0]), padded(sz[1])
		if len(c.Y) != ph*pw/64 || len(c.Cb) != ph*pw/256 {
			t.Errorf("%v: %d luma and %d chroma blocks, want %d and %d", sz, len(c.Y), len(c.Cb), ph*pw/64, ph*pw/256)
		}
		out := c.Decompress()
		if out.C != 3 || out.H != sz[0] || out.W != sz[1] {
			t.Fatalf("%v: output %dx%dx%d", sz, out.C, out.H, out.W)
		}
		for _, v := range out.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%v: output value %v outside [0, 1]", sz, v)
			}
		}
	}
}

// TestDiffJPEGQuality checks that the error falls as the quality rises.
func TestDiffJPEGQuality(t *testing.T) {
	img := randImage(64, 64, 2)
	prev := math.Inf(1)
	for _, q := range []float64{10, 30, 60, 90, 99} {
		out := DiffJPEG(img, q)
		var se float64
		for i, v := range out.Pix {
			d := float64(v - img.Pix[i])
			se += d * d
		}
		rmse := math.Sqrt(se / float64(len(out.Pix)))
		if rmse >= prev {
			t.Errorf("quality %g: rmse %.4f not below %.4f", q, rmse, prev)
		}
		prev = rmse
	}
	if prev > 0.01 {
		t.Errorf("quality 99: rmse %.4f, want < 0.01", prev)
	}
}

func TestDeterminism(t *testing.T) {
	img := randImage(100, 90, 3)
	prev := runtime.GOMAXPROCS(1)
	a := DiffJPEG(img, 47.5)
	runtime.GOMAXPROCS(max(prev, 2))
	b := DiffJPEG(img, 47.5)
	runtime.GOMAXPROCS(prev)
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			t.Fatalf("value %d differs between GOMAXPROCS 1 and 2", i)
		}
	}
}

func TestReal(t *testing.T) {
	img := randImage(37, 53, 4)
	prev := math.Inf(1)
	for _, q := range []int{10, 50, 95} {
		out, err := Real(img, q)
		if err != nil {
			t.Fatal(err)
		}
		if !raster.SameSize(out, img) {
			t.Fatalf("output %dx%dx%d", out.C, out.H, out.W)
		}
		var se float64
		for i, v := range out.Pix {
			if k := v * 255; k != float32(math.Round(float64(k))) || v < 0 || v > 1 {
				t.Fatalf("output %v is not an 8-bit level", v)
			}
			d := float64(v - img.Pix[i])
			se += d * d
		}
		rmse := math.Sqrt(se / float64(len(out.Pix)))
		t.Logf("quality %d: rmse %.4f", q, rmse)
		if rmse >= prev {
			t.Errorf("quality %d: rmse %.4f not below %.4f", q, rmse, prev)
		}
		prev = rmse
	}
	if prev > 0.015 {
		t.Errorf("quality 95: rmse %.4f, want < 0.015", prev)
	}

	// A flat colour survives quality 100 to within rounding of the colour
	// conversions; out-of-range values are clamped first.
	flat := raster.New(3, 8, 8)
	for c, v := range []float32{1.7, 0.4, -0.2} {
		for i := range flat.Plane(c) {
			flat.Plane(c)[i] = v
		}
	}
	out, err := Real(flat, 100)
	if err != nil {
		t.Fatal(err)
	}
	for c, v := range []float64{1, 0.4, 0} {
		for _, got := range out.Plane(c) {
			if math.Abs(float64(got)-v) > 2.0/255 {
				t.Fatalf("plane %d: %v, want %v within 2/255", c, got, v)
			}
		}
	}

	// Gray images round trip as grayscale JPEGs.
	gray := &raster.Image{C: 1, H: 9, W: 11, Pix: append([]float32(nil), img.Pix[:99]...)}
	g, err := Real(gray, 90)
	if err != nil {
		t.Fatal(err)
	}
	if g.C != 1 || g.H != 9 || g.W != 11 {
		t.Fatalf("gray output %dx%dx%d", g.C, g.H, g.W)
	}
}

func TestSample(t *testing.T) {
	s := rng.New(5, "quality")
	seen := map[float64]bool{}
	for range 5000 {
		p := SampleQuality(s, 30, 95)
		if p.Quality < 30 || p.Quality > 95 || p.Quality != float64(float32(p.Quality)) {
			t.Fatalf("SampleQuality gave %v", p.Quality)
		}
		k := SampleKAIRQuality(s)
		if k.Quality < 30 || k.Quality > 95 || k.Quality != math.Trunc(k.Quality) {
			t.Fatalf("SampleKAIRQuality gave %v", k.Quality)
		}
		seen[k.Quality] = true
	}
	if len(seen) != 66 {
		t.Errorf("SampleKAIRQuality: %d distinct values, want 66", len(seen))
	}
}
