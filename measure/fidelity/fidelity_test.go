package fidelity

import (
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// randomImage returns a c x h x w image of 8-bit values lo..hi (divided by
// 255), so that quantisation leaves it unchanged.
func randomImage(seed uint64, c, h, w, lo, hi int) *raster.Image {
	s := rng.New(seed, "fidelity test")
	m := raster.New(c, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32(s.IntRange(lo, hi)) / 255
	}
	return m
}

// smoothNoisy returns a smooth pattern plus noise, so that SSIM has
// structure to compare.
func smoothNoisy(seed uint64, c, h, w int, noise float64) *raster.Image {
	s := rng.New(seed, "fidelity smooth")
	m := raster.New(c, h, w)
	for k := 0; k < c; k++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := 0.5 + 0.3*math.Sin(float64(x)*0.4+float64(k))*math.Cos(float64(y)*0.3) + noise*s.Norm()
				m.Set(k, y, x, float32(v))
			}
		}
	}
	return m
}

func offset(m *raster.Image, levels int) *raster.Image {
	out := m.Clone()
	for i, v := range out.Pix {
		out.Pix[i] = float32(math.Round(float64(v)*255)+float64(levels)) / 255
	}
	return out
}

func TestIdentical(t *testing.T) {
	a := smoothNoisy(1, 3, 40, 37, 0.05)
	for _, opt := range []Options{{}, {CropBorder: 4}, {TestY: true}, {CropBorder: 2, TestY: true}} {
		if p := PSNR(a, a.Clone(), opt); !math.IsInf(p, 1) {
			t.Errorf("%+v: PSNR of identical images = %v, want +Inf", opt, p)
		}
		if s := SSIM(a, a.Clone(), opt); s != 1 {
			t.Errorf("%+v: SSIM of identical images = %v, want 1", opt, s)
		}
	}
}

// Differences below half an 8-bit level vanish in the rounding, as they do
// in the PNG that BasicSR would read.
func TestQuantisedFirst(t *testing.T) {
	a := randomImage(2, 3, 16, 16, 0, 255)
	b := a.Clone()
	for i := range b.Pix {
		b.Pix[i] += 0.4 / 255
	}
	b.Pix[0] = -3 // clamps to 0
	a.Pix[0] = 0
	if p := PSNR(a, b, Options{}); !math.IsInf(p, 1) {
		t.Errorf("PSNR after sub-level change = %v, want +Inf", p)
	}
}

func TestPSNRKnown(t *testing.T) {
	a := randomImage(3, 3, 30, 20, 20, 200)
	b := offset(a, 10)
	y10 := 10 * 219.0 / 255 // Y difference of a 10-level RGB offset
	gray := raster.New(1, 12, 12)
	for i := range gray.Pix {
		gray.Pix[i] = 100.0 / 255
	}
	tests := []struct {
		name string
		a, b *raster.Image
		opt  Options
		want float64
		tol  float64
	}{
		{"rgb offset 10", a, b, Options{}, 10 * math.Log10(255*255/100.0), 1e-12},
		{"rgb offset 10 crop", a, b, Options{CropBorder: 4}, 10 * math.Log10(255*255/100.0), 1e-12},
		// float32 roundings of to_y_channel move the result by ~1e-6 dB.
		{"y offset 10", a, b, Options{TestY: true}, 20 * math.Log10(255/y10), 1e-4},
		{"gray plane offset 3", gray, offset(gray, -3), Options{TestY: true}, 20 * math.Log10(255/3.0), 1e-4},
		{"one value off by 51", a, withValue(a, 0, 5, 5, a.At(0, 5, 5)+51.0/255), Options{},
			10 * math.Log10(255*255/(51.0*51/float64(3*30*20))), 1e-9},
	}
	for _, tt := range tests {
		if got := PSNR(tt.a, tt.b, tt.opt); math.Abs(got-tt.want) > tt.tol {
			t.Errorf("%s: PSNR = %.9f, want %.9f", tt.name, got, tt.want)
		}
	}
}

func withValue(m *raster.Image, c, y, x int, v float32) *raster.Image {
	out := m.Clone()
	out.Set(c, y, x, v)
	return out
}

// Y of a gray pixel v is 16 + 219 v/255.
func TestYOfGray(t *testing.T) {
	a, b := raster.New(3, 12, 12), raster.New(3, 12, 12)
	for i := range a.Pix {
		a.Pix[i] = 40.0 / 255
		b.Pix[i] = 200.0 / 255
	}
	d := 219.0 * 160 / 255
	want := 20 * math.Log10(255/d)
	if got := PSNR(a, b, Options{TestY: true}); math.Abs(got-want) > 1e-4 {
		t.Errorf("PSNR(Y) gray 40 vs 200 = %v, want %v", got, want)
	}
	// Constant planes: SSIM is the luminance term only.
	ya, yb := 16+219*40.0/255, 16+219*200.0/255
	wantS := (2*ya*yb + ssimC1) / (ya*ya + yb*yb + ssimC1)
	if got := SSIM(a, b, Options{TestY: true}); math.Abs(got-wantS) > 1e-6 {
		t.Errorf("SSIM(Y) gray 40 vs 200 = %v, want %v", got, wantS)
	}
}

func TestCropBorder(t *testing.T) {
	a := randomImage(4, 3, 20, 20, 0, 255)
	b := a.Clone()
	for c := 0; c < 3; c++ {
		for i := 0; i < 20; i++ {
			b.Set(c, 0, i, 1-a.At(c, 0, i))
			b.Set(c, i, 19, 1-a.At(c, i, 19))
		}
	}
	if p := PSNR(a, b, Options{}); math.IsInf(p, 0) {
		t.Fatalf("border change not seen without crop")
	}
	if p := PSNR(a, b, Options{CropBorder: 1}); !math.IsInf(p, 1) {
		t.Errorf("PSNR with the changed border cropped = %v, want +Inf", p)
	}
	if s := SSIM(a, b, Options{CropBorder: 1}); s != 1 {
		t.Errorf("SSIM with the changed border cropped = %v, want 1", s)
	}
}

// naiveSSIM evaluates the SSIM definition directly: for every window
// position, Gaussian-weighted mean, centred variances and covariance.
func naiveSSIM(x, y []float64, h, w int) float64 {
	var g [11]float64
	sum := 0.0
	for i := range g {
		d := float64(i - 5)
		g[i] = math.Exp(-d * d / 4.5)
		sum += g[i]
	}
	for i := range g {
		g[i] /= sum
	}
	total := 0.0
	n := 0
	for oy := 0; oy+11 <= h; oy++ {
		for ox := 0; ox+11 <= w; ox++ {
			var mx, my float64
			for i := 0; i < 11; i++ {
				for j := 0; j < 11; j++ {
					mx += g[i] * g[j] * x[(oy+i)*w+ox+j]
					my += g[i] * g[j] * y[(oy+i)*w+ox+j]
				}
			}
			var vx, vy, cxy float64
			for i := 0; i < 11; i++ {
				for j := 0; j < 11; j++ {
					dx := x[(oy+i)*w+ox+j] - mx
					dy := y[(oy+i)*w+ox+j] - my
					vx += g[i] * g[j] * dx * dx
					vy += g[i] * g[j] * dy * dy
					cxy += g[i] * g[j] * dx * dy
				}
			}
			c1, c2 := 6.5025, 58.5225
			total += (2*mx*my + c1) * (2*cxy + c2) / ((mx*mx + my*my + c1) * (vx + vy + c2))
			n++
		}
	}
	return total / float64(n)
}

// plane8 returns plane c of m cropped by b as 8-bit values in float64.
func plane8(m *raster.Image, c, b int) []float64 {
	var out []float64
	for y := b; y < m.H-b; y++ {
		for x := b; x < m.W-b; x++ {
			out = append(out, math.RoundToEven(float64(float32(min(max(m.At(c, y, x), 0), 1))*255)))
		}
	}
	return out
}

func TestSSIMAgainstDefinition(t *testing.T) {
	a := smoothNoisy(5, 3, 31, 27, 0.02)
	b := smoothNoisy(6, 3, 31, 27, 0.08)
	for _, crop := range []int{0, 3} {
		h, w := 31-2*crop, 27-2*crop
		want := 0.0
		for c := 0; c < 3; c++ {
			want += naiveSSIM(plane8(a, c, crop), plane8(b, c, crop), h, w)
		}
		want /= 3
		got := SSIM(a, b, Options{CropBorder: crop})
		if math.Abs(got-want) > 1e-10 {
			t.Errorf("crop %d: SSIM = %.15f, definition gives %.15f", crop, got, want)
		}
		if !(got > 0.2 && got < 0.99) {
			t.Errorf("crop %d: SSIM %v is not in the informative range; test images are poor", crop, got)
		}
		// Y channel: the definition on BT.601 luma (float64 formula; the
		// float32 roundings of BasicSR move values by ~1e-5 levels).
		ya, yb := lumaOf(a, crop), lumaOf(b, crop)
		wantY := naiveSSIM(ya, yb, h, w)
		if gotY := SSIM(a, b, Options{CropBorder: crop, TestY: true}); math.Abs(gotY-wantY) > 1e-6 {
			t.Errorf("crop %d: SSIM(Y) = %.12f, definition gives %.12f", crop, gotY, wantY)
		}
	}
}

func lumaOf(m *raster.Image, b int) []float64 {
	r, g, bl := plane8(m, 0, b), plane8(m, 1, b), plane8(m, 2, b)
	out := make([]float64, len(r))
	for i := range r {
		out[i] = 16 + (65.481*r[i]+128.553*g[i]+24.966*bl[i])/255
	}
	return out
}

func TestSSIMTooSmall(t *testing.T) {
	a := randomImage(7, 3, 14, 30, 0, 255)
	if s := SSIM(a, a, Options{CropBorder: 2}); !math.IsNaN(s) {
		t.Errorf("SSIM of a 10-row crop = %v, want NaN", s)
	}
	if s := SSIM(a, a, Options{CropBorder: 1}); s != 1 {
		t.Errorf("SSIM of a 12-row crop of identical images = %v, want 1", s)
	}
}

func TestPanics(t *testing.T) {
	a := raster.New(3, 8, 8)
	tests := []struct {
		name string
		f    func()
	}{
		{"size mismatch", func() { PSNR(a, raster.New(3, 8, 9), Options{}) }},
		{"plane mismatch", func() { SSIM(a, raster.New(1, 8, 8), Options{}) }},
		{"crop too large", func() { PSNR(a, a, Options{CropBorder: 4}) }},
		{"negative crop", func() { SSIM(a, a, Options{CropBorder: -1}) }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tt.name)
				}
			}()
			tt.f()
		}()
	}
}

// The result must not depend on the number of workers.
func TestWorkersIndependent(t *testing.T) {
	a := smoothNoisy(8, 3, 150, 97, 0.05)
	b := smoothNoisy(9, 3, 150, 97, 0.05)
	opt := Options{CropBorder: 4, TestY: true}
	old := runtime.GOMAXPROCS(1)
	p1, s1 := PSNR(a, b, opt), SSIM(a, b, Options{})
	runtime.GOMAXPROCS(max(old, 3))
	p2, s2 := PSNR(a, b, opt), SSIM(a, b, Options{})
	runtime.GOMAXPROCS(old)
	if p1 != p2 || s1 != s2 {
		t.Errorf("1 worker: %v %v; several: %v %v", p1, s1, p2, s2)
	}
}

func TestQuantize(t *testing.T) {
	tests := []struct {
		v    float32
		want uint8
	}{
		{-1, 0}, {float32(math.NaN()), 0}, {0, 0}, {1, 255}, {2, 255},
		{0.5, 128}, // 127.5 rounds half to even: 128
		{100.0 / 255, 100}, {254.4 / 255, 254}, {0.6 / 255, 1},
	}
	for _, tt := range tests {
		if got := Quantize(tt.v); got != tt.want {
			t.Errorf("Quantize(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func BenchmarkSSIM512(b *testing.B) {
	x := smoothNoisy(10, 3, 512, 512, 0.05)
	y := smoothNoisy(11, 3, 512, 512, 0.05)
	b.ResetTimer()
	for range b.N {
		SSIM(x, y, Options{CropBorder: 4})
	}
}
