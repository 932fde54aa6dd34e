package resize

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

var (
	opsOnce sync.Once
	opsFile *safetensors.File
	opsErr  error
)

func openOps(t *testing.T) *safetensors.File {
	t.Helper()
	dir := fixture.Dir(t, "fixtures", "basicsr")
	opsOnce.Do(func() { opsFile, opsErr = safetensors.Open(filepath.Join(dir, "ops.safetensors")) })
	if opsErr != nil {
		t.Fatal(opsErr)
	}
	return opsFile
}

func fixtureImage(t *testing.T, f *safetensors.File, name string) *raster.Image {
	t.Helper()
	v, shape, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return &raster.Image{C: shape[1], H: shape[2], W: shape[3], Pix: v}
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || d != d {
			m = d
		}
	}
	return m
}

func TestInterpolateMatchesTorch(t *testing.T) {
	f := openOps(t)
	img := fixtureImage(t, f, "image")
	for _, m := range Modes {
		for _, sf := range []float64{0.37, 0.5, 1.3} {
			name := fmt.Sprintf("interp.%s.sf%g", m, sf)
			want := fixtureImage(t, f, name)
			got := Scale(img, sf, m)
			check(t, name, got, want)
		}
		for _, hw := range [][2]int{{12, 10}, {17, 14}, {31, 27}, {62, 52}} {
			name := fmt.Sprintf("interp.%s.size%dx%d", m, hw[0], hw[1])
			want := fixtureImage(t, f, name)
			got := Interpolate(img, hw[0], hw[1], m)
			check(t, name, got, want)
		}
	}
}

func check(t *testing.T, name string, got, want *raster.Image) {
	t.Helper()
	if !raster.SameSize(got, want) {
		t.Errorf("%s: size %dx%dx%d, want %dx%dx%d", name, got.C, got.H, got.W, want.C, want.H, want.W)
		return
	}
	d := maxAbsDiff(got.Pix, want.Pix)
	t.Logf("%s: max abs diff %.3g", name, d)
	if d > 1e-5 {
		t.Errorf("%s: max abs diff %.3g > 1e-5", name, d)
	}
}

func TestModeText(t *testing.T) {
	for _, m := range Modes {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Mode
		if err := json.Unmarshal(b, &back); err != nil || back != m {
			t.Errorf("%v: JSON %s decoded to %v, %v", m, b, back, err)
		}
		if p, err := ParseMode(m.String()); err != nil || p != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), p, err)
		}
	}
	if p, err := ParseMode("BiCubic"); err != nil || p != Bicubic {
		t.Errorf("ParseMode is not case-insensitive: %v, %v", p, err)
	}
	if _, err := ParseMode("nearest"); err == nil {
		t.Error("ParseMode accepted nearest")
	}
	if _, err := Mode(7).MarshalText(); err == nil {
		t.Error("invalid mode marshalled")
	}
}

func randomImage(seed uint64, c, h, w int) *raster.Image {
	s := rng.New(seed, "resize test")
	img := raster.New(c, h, w)
	for i := range img.Pix {
		img.Pix[i] = float32(s.Float64())
	}
	return img
}

func constImage(c, h, w int, v float32) *raster.Image {
	img := raster.New(c, h, w)
	for i := range img.Pix {
		img.Pix[i] = v
	}
	return img
}

func TestInterpolateProperties(t *testing.T) {
	for _, m := range Modes {
		// Constant images stay constant.
		for _, hw := range [][2]int{{5, 7}, {40, 33}, {1, 1}, {64, 64}} {
			out := Interpolate(constImage(2, 20, 17, 0.3), hw[0], hw[1], m)
			for i, v := range out.Pix {
				if math.Abs(float64(v)-0.3) > 1e-6 {
					t.Fatalf("%v to %v: pixel %d = %v", m, hw, i, v)
				}
			}
		}
		// Same size is the identity.
		img := randomImage(1, 3, 9, 11)
		if d := maxAbsDiff(Interpolate(img, 9, 11, m).Pix, img.Pix); d != 0 {
			t.Errorf("%v: same size changed the image by %g", m, d)
		}
	}
	// Area with an integer factor is the block mean.
	img := randomImage(2, 1, 8, 12)
	out := Interpolate(img, 2, 3, Area)
	for oy := 0; oy < 2; oy++ {
		for ox := 0; ox < 3; ox++ {
			s := 0.0
			for y := 0; y < 4; y++ {
				for x := 0; x < 4; x++ {
					s += float64(img.At(0, 4*oy+y, 4*ox+x))
				}
			}
			if d := math.Abs(s/16 - float64(out.At(0, oy, ox))); d > 1e-6 {
				t.Errorf("area block (%d,%d): %v, want %v", oy, ox, out.At(0, oy, ox), s/16)
			}
		}
	}
	// Bilinear 2x upscale of a ramp: interior samples are exact
	// interpolations at (i+0.5)/2-0.5 = i/2 - 0.25; the ends are clamped.
	ramp := raster.New(1, 1, 6)
	for x := range ramp.Pix {
		ramp.Pix[x] = float32(x)
	}
	up := Interpolate(ramp, 1, 12, Bilinear)
	for x, v := range up.Pix {
		want := min(max(float64(x)/2-0.25, 0), 5)
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Errorf("bilinear ramp[%d] = %v, want %v", x, v, want)
		}
	}
	// Bicubic 2x upscale of a ramp, interior samples: source i/2 - 0.25
	// has fraction 0.75 (even i = 2k) or 0.25 (odd i = 2k+1), where the
	// A = -0.75 weights are (-0.03515625, 0.26171875, 0.87890625,
	// -0.10546875) and their mirror, giving k - 0.296875 and k + 0.296875
	// exactly (A = -0.5, with linear precision, would give k ∓ 0.25).
	up = Interpolate(ramp, 1, 12, Bicubic)
	for x := 4; x < 8; x++ {
		want := float32(x/2) - 0.296875
		if x%2 == 1 {
			want = float32(x/2) + 0.296875
		}
		if up.Pix[x] != want {
			t.Errorf("bicubic ramp[%d] = %v, want %v", x, up.Pix[x], want)
		}
	}
	step := &raster.Image{C: 1, H: 1, W: 6, Pix: []float32{0, 0, 0, 1, 1, 1}}
	up = Interpolate(step, 1, 12, Bicubic)
	lo, hi := float32(0), float32(1)
	for _, v := range up.Pix {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo >= 0 || hi <= 1 {
		t.Errorf("bicubic step: range [%v, %v], want overshoot on both sides", lo, hi)
	}
}

// TestScaleUsesInverseFactor checks the coordinate mapping of Scale: with
// factor 0.37 it uses 1/0.37, not in/out = 48/17, so it differs from
// Interpolate to the same size for bilinear and bicubic but not for area.
func TestScaleUsesInverseFactor(t *testing.T) {
	img := randomImage(3, 1, 48, 40)
	for _, m := range Modes {
		a := Scale(img, 0.37, m)
		b := Interpolate(img, 17, 14, m)
		d := maxAbsDiff(a.Pix, b.Pix)
		if m == Area && d != 0 {
			t.Errorf("area: Scale and Interpolate differ by %g", d)
		}
		if m != Area && d < 1e-4 {
			t.Errorf("%v: Scale and Interpolate agree (%g): coordinate map not 1/factor", m, d)
		}
	}
}

func TestScaleDeterministicAcrossWorkers(t *testing.T) {
	img := randomImage(4, 3, 100, 90)
	for _, m := range Modes {
		a := Scale(img, 0.61, m)
		b := Scale(img, 0.61, m)
		if maxAbsDiff(a.Pix, b.Pix) != 0 {
			t.Errorf("%v: results differ between runs", m)
		}
	}
}

func benchImage() *raster.Image { return randomImage(5, 3, 512, 512) }

func BenchmarkInterpolateBicubic512to128(b *testing.B) {
	img := benchImage()
	for range b.N {
		Interpolate(img, 128, 128, Bicubic)
	}
}

func BenchmarkInterpolateArea512to128(b *testing.B) {
	img := benchImage()
	for range b.N {
		Interpolate(img, 128, 128, Area)
	}
}

func BenchmarkInterpolateBilinear512to128(b *testing.B) {
	img := benchImage()
	for range b.N {
		Interpolate(img, 128, 128, Bilinear)
	}
}

func BenchmarkInterpolateBicubic128to512(b *testing.B) {
	img := randomImage(6, 3, 128, 128)
	for range b.N {
		Interpolate(img, 512, 512, Bicubic)
	}
}

func TestIndependentOfWorkers(t *testing.T) {
	img := randomImage(15, 3, 70, 53)
	run := func() [][]float32 {
		var out [][]float32
		for _, m := range Modes {
			out = append(out, Interpolate(img, 31, 90, m).Pix)
		}
		for _, in := range inters {
			out = append(out, OpenCV(img, 23, 41, in).Pix)
		}
		return append(out, Imresize(img, 0.3, true).Pix)
	}
	prev := runtime.GOMAXPROCS(1)
	one := run()
	runtime.GOMAXPROCS(prev)
	two := run()
	for i := range one {
		if d := maxAbsDiff(one[i], two[i]); d != 0 {
			t.Errorf("result %d: GOMAXPROCS 1 vs %d differ by %g", i, prev, d)
		}
	}
}

// TestScaleKeepsSize: scale 1 (Real-ESRGAN's "keep") is the identity in
// every mode. A factor that keeps the size without being 1 (48·1.01 ->
// 48) is the identity for bilinear, which ATen copies whenever the sizes
// match, and for area; bicubic still resamples with coordinates scaled by
// 1/1.01.
func TestScaleKeepsSize(t *testing.T) {
	img := randomImage(16, 3, 48, 40)
	for _, m := range Modes {
		if d := maxAbsDiff(Scale(img, 1, m).Pix, img.Pix); d != 0 {
			t.Errorf("%v: scale 1 changed the image by %g", m, d)
		}
		out := Scale(img, 1.01, m)
		if out.H != 48 || out.W != 40 {
			t.Fatalf("%v: size %dx%d", m, out.H, out.W)
		}
		d := maxAbsDiff(out.Pix, img.Pix)
		if (m == Bicubic) != (d != 0) {
			t.Errorf("%v: scale 1.01 changed the image by %g", m, d)
		}
	}
}
