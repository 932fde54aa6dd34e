package features

import (
	"math"
	"math/cmplx"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/jpeg"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
)

func index(name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	panic("no feature " + name)
}

func render(t testing.TB, scene string, size int, seed uint64) *raster.Image {
	t.Helper()
	m, err := samples.Render(scene, size, size, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func constant(c, s int, v ...float32) *raster.Image {
	m := raster.New(c, s, s)
	for k := 0; k < c; k++ {
		p := m.Plane(k)
		for i := range p {
			p[i] = v[k%len(v)]
		}
	}
	return m
}

// withNoise adds Gaussian noise of sd levels (0..255), the same on every
// plane if gray.
func withNoise(m *raster.Image, sd float64, gray bool, seed uint64) *raster.Image {
	out := m.Clone()
	s := rng.New(seed, "features test noise")
	n := m.H * m.W
	for i := 0; i < n; i++ {
		g := s.Norm()
		for c := 0; c < m.C; c++ {
			if !gray && c > 0 {
				g = s.Norm()
			}
			out.Pix[c*n+i] += float32(sd * g / 255)
		}
	}
	return out
}

func TestNames(t *testing.T) {
	if Dim != 53 || len(Names()) != Dim {
		t.Fatalf("Dim = %d, %d names", Dim, len(Names()))
	}
	seen := map[string]bool{}
	for _, n := range Names() {
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
}

func TestFFT(t *testing.T) {
	s := rng.New(1, "fft")
	for _, n := range []int{1, 2, 8, 64} {
		a := make([]complex128, n)
		for i := range a {
			a[i] = complex(s.Norm(), s.Norm())
		}
		want := make([]complex128, n)
		for k := range want {
			for j, v := range a {
				want[k] += v * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/float64(n)))
			}
		}
		fft(a)
		for k := range a {
			if cmplx.Abs(a[k]-want[k]) > 1e-12*float64(n) {
				t.Fatalf("n=%d: bin %d = %v, DFT %v", n, k, a[k], want[k])
			}
		}
	}
}

func TestNoiseEstimate(t *testing.T) {
	gray := constant(3, 64, 0.5)
	tests := []struct {
		name            string
		img             *raster.Image
		luma, chroma    float64 // expected σ in levels
		lumaTol, chrTol float64
	}{
		// Rounding to 8 bits adds 1/12 level² of variance per plane.
		{"clean", gray, 0, 0, 1e-9, 1e-9},
		{"gray noise 10", withNoise(gray, 10, true, 1), math.Sqrt(100 + 1.0/12), 0, 0.4, 1e-6},
		// Independent planes: Y has σ·|(0.299, 0.587, 0.114)|, Cb and Cr
		// have σ·|(0.1687, 0.3313, 0.5)| and σ·|(0.5, 0.4187, 0.0813)|.
		{"colour noise 10", withNoise(gray, 10, false, 2), 10 * 0.6686, 10 * (0.6225 + 0.6572) / 2, 0.4, 0.4},
	}
	for _, tt := range tests {
		f := Patch(tt.img)
		luma := math.Pow(10, f[index("noise_luma")]) - 1
		chroma := math.Pow(10, f[index("noise_chroma")]) - 1
		if math.Abs(luma-tt.luma) > tt.lumaTol || math.Abs(chroma-tt.chroma) > tt.chrTol {
			t.Errorf("%s: noise σ luma %.3f chroma %.3f, want %.3f and %.3f", tt.name, luma, chroma, tt.luma, tt.chroma)
		}
	}
	// A linear ramp has no noise: the kernel cancels planes.
	ramp := raster.New(1, 32, 32)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			ramp.Set(0, y, x, float32(3*x+2*y+10)/255)
		}
	}
	if f := Patch(ramp); math.Abs(f[0]) > 1e-12 {
		t.Errorf("ramp: noise_luma = %v, want 0", f[0])
	}
}

func TestColour(t *testing.T) {
	red := constant(3, 32, 1, 0, 0)
	f := Patch(red)
	want := map[string]float64{
		"mean_luma": 0.299 * 255, "std_luma": 0, "saturation": 1,
		"colourfulness": 0.3 * math.Hypot(255, 127.5),
	}
	for n, v := range want {
		if got := f[index(n)]; math.Abs(got-v) > 1e-9 {
			t.Errorf("red: %s = %v, want %v", n, got, v)
		}
	}
	g := Patch(render(t, "bricks", 64, 1))
	gg := Patch(grayOf(render(t, "bricks", 64, 1)))
	if gg[index("colourfulness")] != 0 || gg[index("saturation")] != 0 || math.Abs(gg[index("noise_chroma")]) > 1e-12 {
		t.Errorf("gray image has colour: %v %v", gg[index("colourfulness")], gg[index("saturation")])
	}
	if !(g[index("colourfulness")] > 10) || !(g[index("chroma_detail")] > gg[index("chroma_detail")]+1) {
		t.Errorf("colour image: colourfulness %v, chroma detail %v (gray %v)", g[index("colourfulness")], g[index("chroma_detail")], gg[index("chroma_detail")])
	}
}

func grayOf(m *raster.Image) *raster.Image {
	out := raster.New(1, m.H, m.W)
	n := m.H * m.W
	for i := 0; i < n; i++ {
		out.Pix[i] = 0.299*m.Pix[i] + 0.587*m.Pix[n+i] + 0.114*m.Pix[2*n+i]
	}
	return out
}

// Blur lowers the Laplacian, gradient energy and high spectral bands and
// raises the blur estimate; noise does the opposite to the high bands.
func TestBlurAndNoiseDirections(t *testing.T) {
	for _, scene := range []string{"shapes", "bricks", "landscape"} {
		clean := render(t, scene, 64, 3)
		blurred := blur.Filter2D(clean, blur.Gaussian(11, 2, 2, 0, true))
		noisy := withNoise(clean, 15, false, 4)
		fc, fb, fn := Patch(clean), Patch(blurred), Patch(noisy)
		for _, n := range []string{"laplacian_var", "gradient_energy", "spectrum_4", "spectrum_5"} {
			if !(fb[index(n)] < fc[index(n)]) {
				t.Errorf("%s: blur does not lower %s: %v -> %v", scene, n, fc[index(n)], fb[index(n)])
			}
		}
		if !(fb[index("blur_crete")] > fc[index("blur_crete")]+0.1) {
			t.Errorf("%s: blur_crete %v -> %v after blur", scene, fc[index("blur_crete")], fb[index("blur_crete")])
		}
		if !(fn[index("spectrum_5")] > fc[index("spectrum_5")]) || !(fn[index("noise_luma")] > fc[index("noise_luma")]+0.5) {
			t.Errorf("%s: noise does not raise the high band or the noise estimate", scene)
		}
	}
}

// Blur correlates neighbouring MSCN coefficients: the pair means rise.
// (For white noise they are slightly negative: removing the local mean
// anti-correlates neighbours.)
func TestMSCNPairs(t *testing.T) {
	noise := withNoise(constant(1, 64, 0.5), 20, true, 9)
	blurred := blur.Filter2D(noise, blur.Gaussian(7, 1.2, 1.2, 0, true))
	fn, fb := Patch(noise), Patch(blurred)
	for _, p := range []string{"pair_h", "pair_v", "pair_d1", "pair_d2"} {
		mn, mb := fn[index(p+"_mean")], fb[index(p+"_mean")]
		if !(mn < 0 && mb > mn+0.1) {
			t.Errorf("%s_mean: white noise %v, blurred noise %v", p, mn, mb)
		}
	}
}

// White noise has a flat spectrum: every band holds its share of power.
func TestSpectrumWhite(t *testing.T) {
	f := Patch(withNoise(constant(1, 128, 0.5), 20, true, 5))
	for i := 0; i < 6; i++ {
		if v := f[index("spectrum_0")+i]; math.Abs(v) > 0.12 {
			t.Errorf("white noise: band %d log share %v, want about 0", i, v)
		}
	}
}

func TestBlockiness(t *testing.T) {
	clean := render(t, "landscape", 128, 6)
	compressed, err := jpeg.Real(clean, 10)
	if err != nil {
		t.Fatal(err)
	}
	// 8x8 constant blocks of random levels: pure blocking.
	blocks := raster.New(1, 64, 64)
	s := rng.New(7, "blocks")
	for by := 0; by < 8; by++ {
		for bx := 0; bx < 8; bx++ {
			v := float32(s.IntRange(60, 200)) / 255
			for y := 0; y < 8; y++ {
				for x := 0; x < 8; x++ {
					blocks.Set(0, 8*by+y, 8*bx+x, v)
				}
			}
		}
	}
	b := index("blockiness")
	fc, fj, fb := Patch(clean.Crop(32, 32, 64, 64)), Patch(compressed.Crop(32, 32, 64, 64)), Patch(blocks)
	if math.Abs(fc[b]) > 0.3 {
		t.Errorf("clean image: blockiness %v, want about 0", fc[b])
	}
	if !(fj[b] > fc[b]+0.3) {
		t.Errorf("JPEG q10: blockiness %v, clean %v", fj[b], fc[b])
	}
	if !(fb[b] > 5) {
		t.Errorf("8x8 blocks: blockiness %v, want large", fb[b])
	}
	// Shifting the crop off the grid hides the blocks.
	if fs := Patch(compressed.Crop(36, 36, 64, 64)); !(fs[b] < fj[b]) {
		t.Errorf("off-grid crop: blockiness %v, on-grid %v", fs[b], fj[b])
	}
}

func TestShapeFits(t *testing.T) {
	for _, a := range []float64{0.2, 0.5, 1, 2, 4, 10} {
		if got := solveShape(ggdRatio(a)); math.Abs(got-a) > 1e-9*a {
			t.Errorf("solveShape(ggdRatio(%v)) = %v", a, got)
		}
	}
	if ggdRatio(2)-2/math.Pi > 1e-15 {
		t.Errorf("ggdRatio(2) = %v, want 2/π", ggdRatio(2))
	}
	s := rng.New(8, "shape")
	gauss := make([]float64, 200000)
	laplace := make([]float64, len(gauss))
	for i := range gauss {
		gauss[i] = 3 * s.Norm()
		e := -math.Log(1 - s.Float64())
		if s.Float64() < 0.5 {
			e = -e
		}
		laplace[i] = e
	}
	if a, v := fitGGD(gauss); math.Abs(a-2) > 0.03 || math.Abs(v-9) > 0.1 {
		t.Errorf("Gaussian: shape %v variance %v, want 2 and 9", a, v)
	}
	if a, v := fitGGD(laplace); math.Abs(a-1) > 0.02 || math.Abs(v-2) > 0.05 {
		t.Errorf("Laplace: shape %v variance %v, want 1 and 2", a, v)
	}
	if a, m, l, r := fitAGGD(gauss); math.Abs(a-2) > 0.03 || math.Abs(m) > 0.05 || math.Abs(l-9) > 0.15 || math.Abs(r-9) > 0.15 {
		t.Errorf("Gaussian AGGD: %v %v %v %v", a, m, l, r)
	}
	// Only positive values: the mean is positive, the left variance 0.
	half := make([]float64, len(gauss))
	for i, v := range gauss {
		half[i] = math.Abs(v)
	}
	if a, m, l, r := fitAGGD(half); !(m > 0) || l != 0 || math.Abs(r-9) > 0.15 || math.IsNaN(a) {
		t.Errorf("half-Gaussian AGGD: %v %v %v %v", a, m, l, r)
	}
	if a, v := fitGGD(make([]float64, 10)); a != shapeMin || v != 0 {
		t.Errorf("zeros: shape %v variance %v", a, v)
	}
}

// Degenerate images give finite features.
func TestFinite(t *testing.T) {
	checker := raster.New(3, 32, 32)
	for i := range checker.Pix {
		checker.Pix[i] = float32((i + i/32) % 2)
	}
	for name, m := range map[string]*raster.Image{
		"black": constant(3, 32, 0), "white": constant(3, 32, 1), "gray plane": constant(1, 32, 0.3),
		"checker": checker, "out of range": constant(3, 32, -2, 3, float32(math.NaN())),
	} {
		for i, v := range Patch(m) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s: %s = %v", name, names[i], v)
			}
		}
	}
	f := Patch(constant(3, 32, 0.5))
	if f[index("blur_crete")] != 1 || f[index("mscn_shape")] != shapeMin || f[index("blockiness")] != 0 {
		t.Errorf("flat patch: blur %v, mscn shape %v, blockiness %v", f[index("blur_crete")], f[index("mscn_shape")], f[index("blockiness")])
	}
}

// Values are rounded to 8 bits first, as a saved image would be.
func TestQuantised(t *testing.T) {
	m := render(t, "rings", 32, 1)
	for i, v := range m.Pix {
		m.Pix[i] = float32(math.Round(float64(v)*255)) / 255
	}
	shifted := m.Clone()
	for i := range shifted.Pix {
		shifted.Pix[i] += 0.3 / 255
	}
	a, b := Patch(m), Patch(shifted)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("%s: %v and %v after a sub-level shift", names[i], a[i], b[i])
		}
	}
}

func TestCrops(t *testing.T) {
	opt := Options{Patches: 20, Seed: 3}
	c1, err := Crops(200, 130, "a.png", opt)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := Crops(200, 130, "a.png", opt)
	c3, _ := Crops(200, 130, "b.png", opt)
	same := 0
	for i, c := range c1 {
		if c != c2[i] {
			t.Fatalf("crops differ between calls: %v and %v", c, c2[i])
		}
		if c == c3[i] {
			same++
		}
		if c[0]%8 != 0 || c[1]%8 != 0 || c[0] < 0 || c[1] < 0 || c[0]+64 > 200 || c[1]+64 > 130 {
			t.Errorf("crop %v outside the grid or the image", c)
		}
	}
	if same == len(c1) {
		t.Errorf("another name gave the same crops")
	}
	if c, err := Crops(64, 64, "x", Options{}); err != nil || len(c) != 8 || c[0] != [2]int{0, 0} {
		t.Errorf("64x64 image: crops %v, %v", c, err)
	}
	for _, bad := range []struct {
		h, w int
		opt  Options
	}{
		{63, 100, Options{}}, {100, 100, Options{PatchSize: 48}}, {100, 100, Options{PatchSize: 16}},
		{2000, 2000, Options{PatchSize: 1024}}, {100, 100, Options{Patches: -1}},
	} {
		if _, err := Crops(bad.h, bad.w, "x", bad.opt); err == nil {
			t.Errorf("%dx%d %+v: no error", bad.w, bad.h, bad.opt)
		}
	}
}

func TestImage(t *testing.T) {
	m := render(t, "landscape", 96, 2)
	opt := Options{PatchSize: 32, Patches: 5, Seed: 1}
	old := runtime.GOMAXPROCS(1)
	f1, err := Image(m, "land", opt)
	runtime.GOMAXPROCS(max(old, 3))
	f2, _ := Image(m, "land", opt)
	runtime.GOMAXPROCS(old)
	if err != nil || len(f1) != 5 {
		t.Fatalf("Image: %d vectors, %v", len(f1), err)
	}
	crops, _ := Crops(96, 96, "land", opt)
	for i, c := range crops {
		want := Patch(m.Crop(c[0], c[1], 32, 32))
		for j := range want {
			if f1[i][j] != want[j] || f2[i][j] != want[j] {
				t.Fatalf("patch %d feature %s: %v, %v, crop alone %v", i, names[j], f1[i][j], f2[i][j], want[j])
			}
		}
	}
	if _, err := Image(raster.New(2, 64, 64), "two", Options{}); err == nil {
		t.Errorf("2-plane image: no error")
	}
}

func TestPatchPanics(t *testing.T) {
	for _, m := range []*raster.Image{raster.New(3, 32, 16), raster.New(3, 48, 48), raster.New(3, 16, 16), raster.New(4, 32, 32)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%dx%dx%d: no panic", m.C, m.H, m.W)
				}
			}()
			Patch(m)
		}()
	}
}

func BenchmarkImage128(b *testing.B) {
	m := render(b, "landscape", 128, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := Image(m, "bench", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPatch64(b *testing.B) {
	m := render(b, "landscape", 64, 1)
	b.ResetTimer()
	for range b.N {
		Patch(m)
	}
}
