package noise

import (
	"encoding/json"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// randImage returns a reproducible random image in [0, 1].
func randImage(c, h, w int, seed uint64) *raster.Image {
	s := rng.New(seed, "noise-test-image")
	m := raster.New(c, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32(s.Float64())
	}
	return m
}

func constImage(c, h, w int, v float32) *raster.Image {
	m := raster.New(c, h, w)
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

func equalPix(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// meanStd returns the mean and std of xs.
func meanStd(xs []float64) (float64, float64) {
	var s, q float64
	for _, x := range xs {
		s += x
		q += x * x
	}
	n := float64(len(xs))
	m := s / n
	return m, math.Sqrt(q/n - m*m)
}

func TestRoundEven(t *testing.T) {
	tests := []struct{ in, want float32 }{
		{0.5, 0}, {1.5, 2}, {2.5, 2}, {3.5, 4}, {-0.5, 0}, {-1.5, -2}, {2.4999, 2}, {254.5, 254},
	}
	for _, tt := range tests {
		if got := roundEven(tt.in); got != tt.want {
			t.Errorf("roundEven(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFinish(t *testing.T) {
	img := &raster.Image{C: 1, H: 1, W: 4, Pix: []float32{0.1, 0.9, 0.5, 0.02}}
	noise := []float32{-0.2, 0.21, 0.001, 0.0007}
	tests := []struct {
		clip, rounds bool
		want         []float64
	}{
		{false, false, []float64{-0.1, 1.11, 0.501, 0.0207}},
		{true, false, []float64{0, 1, 0.501, 0.0207}},
		{false, true, []float64{-26.0 / 255, 283.0 / 255, 128.0 / 255, 5.0 / 255}},
		{true, true, []float64{0, 1, 128.0 / 255, 5.0 / 255}},
	}
	for _, tt := range tests {
		n := &raster.Image{C: 1, H: 1, W: 4, Pix: append([]float32(nil), noise...)}
		got := finish(img, n, tt.clip, tt.rounds).Pix
		for i, w := range tt.want {
			if math.Abs(float64(got[i])-w) > 1e-6 {
				t.Errorf("clip=%v rounds=%v: value %d = %v, want %v", tt.clip, tt.rounds, i, got[i], w)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		values []float32
		want   float64
	}{
		{[]float32{0.5}, 1},
		{[]float32{0, 1}, 2},
		{[]float32{0, 0.5, 1}, 4},
		{[]float32{0.1, 0.1001, 0.9}, 2},        // 0.1 and 0.1001 round to the same level
		{[]float32{-3, 0, 2, 1}, 2},             // clamped to 0 and 255
		{[]float32{0, 1.0 / 255, 2.0 / 255}, 4}, // distinct levels
	}
	for _, tt := range tests {
		img := &raster.Image{C: 1, H: 1, W: len(tt.values), Pix: tt.values}
		if got := Levels(img); got != tt.want {
			t.Errorf("Levels(%v) = %g, want %g", tt.values, got, tt.want)
		}
	}
	all := raster.New(1, 1, 300)
	for i := range all.Pix {
		all.Pix[i] = float32(i%256) / 255
	}
	if got := Levels(all); got != 256 {
		t.Errorf("Levels(all 256 values) = %g, want 256", got)
	}
}

func TestGrayNoiseIdenticalAcrossPlanes(t *testing.T) {
	img := randImage(3, 33, 47, 1)
	s := rng.New(1, "gray")
	for name, n := range map[string]*raster.Image{
		"gaussian": GaussianNoise(img, 15, true, s),
		"poisson":  PoissonNoise(img, 2, true, s),
	} {
		if !equalPix(n.Plane(0), n.Plane(1)) || !equalPix(n.Plane(0), n.Plane(2)) {
			t.Errorf("%s gray noise differs across planes", name)
		}
		if equalPix(n.Plane(0), make([]float32, len(n.Plane(0)))) {
			t.Errorf("%s gray noise is all zero", name)
		}
	}
	for name, n := range map[string]*raster.Image{
		"gaussian": GaussianNoise(img, 15, false, s),
		"poisson":  PoissonNoise(img, 2, false, s),
	} {
		if equalPix(n.Plane(0), n.Plane(1)) {
			t.Errorf("%s colour noise is identical across planes", name)
		}
	}
}

// TestGaussianStd checks the noise std without fixtures: 196608 values of
// N(0, (sigma/255)^2); the std's standard error is sigma/255/sqrt(2n).
func TestGaussianStd(t *testing.T) {
	img := constImage(3, 256, 256, 0.5)
	for _, sigma := range []float64{1, 10, 30} {
		n := GaussianNoise(img, sigma, false, rng.New(2, "std"))
		xs := make([]float64, len(n.Pix))
		for i, v := range n.Pix {
			xs[i] = float64(v)
		}
		m, sd := meanStd(xs)
		want := sigma / 255
		se := want / math.Sqrt(float64(len(xs)))
		if math.Abs(m) > 5*se || math.Abs(sd-want) > 5*want/math.Sqrt(2*float64(len(xs))) {
			t.Errorf("sigma %g: mean %.2e std %.6f, want 0 and %.6f", sigma, m, sd, want)
		}
	}
}

// TestPoissonAgainstRoundedImage checks that the noise is computed against
// the image rounded to 1/255 and added to the unrounded image:
// out - img + round(img) is a count divided by vals.
func TestPoissonAgainstRoundedImage(t *testing.T) {
	img := raster.New(1, 64, 64)
	for i := range img.Pix {
		img.Pix[i] = 0.3001 // level 77 (76.53 rounds up)
		if i%2 == 1 {
			img.Pix[i] = 0.7002 // level 179
		}
	}
	if v := Levels(img); v != 2 {
		t.Fatalf("Levels = %g, want 2", v)
	}
	out := AddPoisson(img, PoissonParams{Scale: 1}, rng.New(3, "rounded"))
	var sum float64
	for i, v := range out.Pix {
		r := float64(quantise255(img.Pix[i])) / 255
		k := (float64(v) - float64(img.Pix[i]) + r) * 2
		if math.Abs(k-math.Round(k)) > 1e-5 || k < -1e-5 {
			t.Fatalf("value %d: out %v, img %v: (out-img+round(img))*vals = %v, want a count", i, v, img.Pix[i], k)
		}
		sum += k / 2
	}
	// The counts have mean r*vals; check the mean of out-img+r ≈ mean r.
	mean := sum / float64(len(out.Pix))
	wantMean := (77.0 + 179.0) / 2 / 255
	if se := math.Sqrt(wantMean / 2 / float64(len(out.Pix))); math.Abs(mean-wantMean) > 5*se {
		t.Errorf("mean of Poisson sample %.5f, want %.5f ± %.5f", mean, wantMean, 5*se)
	}
}

func TestPoissonScale(t *testing.T) {
	img := randImage(3, 40, 40, 4)
	a := PoissonNoise(img, 1, false, rng.New(5, "scale"))
	b := PoissonNoise(img, 0.5, false, rng.New(5, "scale"))
	for i := range a.Pix {
		if math.Abs(float64(b.Pix[i])-0.5*float64(a.Pix[i])) > 1e-7 {
			t.Fatalf("scale 0.5 noise %v is not half of scale 1 noise %v", b.Pix[i], a.Pix[i])
		}
	}
}

// TestDeterminism checks that results depend only on the stream, not on
// GOMAXPROCS.
func TestDeterminism(t *testing.T) {
	img := randImage(3, 128, 128, 6)
	run := func() [][]float32 {
		var outs [][]float32
		s := rng.New(7, "det")
		g, _ := RandomGaussian(img, GaussianRange{Sigma: [2]float64{1, 30}, GrayProb: 0.4, Clip: true, Rounds: true}, s)
		p := AddPoisson(img, PoissonParams{Scale: 1, Clip: true}, s)
		pg := AddPoisson(img, PoissonParams{Scale: 3, Gray: true}, s)
		k := AddKAIRPoisson(img, KAIRPoissonParams{Vals: 300}, s)
		ps := rng.New(1, "kair-params")
		kp := SampleKAIRNoise(ps, 2, 25)
		for kp.Mode != KAIRCorrelated {
			kp = SampleKAIRNoise(ps, 2, 25)
		}
		kg := AddKAIRGaussian(img, kp, s)
		return append(outs, g.Pix, p.Pix, pg.Pix, k.Pix, kg.Pix)
	}
	prev := runtime.GOMAXPROCS(1)
	one := run()
	runtime.GOMAXPROCS(max(prev, 2))
	two := run()
	runtime.GOMAXPROCS(prev)
	for i := range one {
		if !equalPix(one[i], two[i]) {
			t.Errorf("output %d differs between GOMAXPROCS 1 and 2", i)
		}
	}
	// A second call on the same (advanced) stream gives different noise.
	s := rng.New(8, "advance")
	a := PoissonNoise(img, 1, false, s)
	b := PoissonNoise(img, 1, false, s)
	if equalPix(a.Pix, b.Pix) {
		t.Error("two PoissonNoise calls on one stream gave the same noise")
	}
}

func TestSampleRanges(t *testing.T) {
	s := rng.New(9, "sample")
	gr := GaussianRange{Sigma: [2]float64{1, 30}, GrayProb: 0.4, Clip: true}
	pr := PoissonRange{Scale: [2]float64{0.05, 3}, GrayProb: 0.4, Rounds: true}
	const n = 20000
	grayG, grayP := 0, 0
	for range n {
		g := SampleGaussian(s, gr)
		if g.Sigma < 1 || g.Sigma > 30 || g.Sigma != float64(float32(g.Sigma)) || !g.Clip || g.Rounds {
			t.Fatalf("SampleGaussian gave %+v", g)
		}
		if g.Gray {
			grayG++
		}
		p := SamplePoisson(s, pr)
		if p.Scale < 0.05 || p.Scale > 3 || p.Clip || !p.Rounds {
			t.Fatalf("SamplePoisson gave %+v", p)
		}
		if p.Gray {
			grayP++
		}
	}
	// Binomial(n, 0.4): 5 sd = 346.
	for name, k := range map[string]int{"gaussian": grayG, "poisson": grayP} {
		if math.Abs(float64(k)-0.4*n) > 5*math.Sqrt(n*0.4*0.6) {
			t.Errorf("%s: gray %d times of %d, want about %d", name, k, n, int(0.4*n))
		}
	}
}

// TestRandomMatchesSampleThenAdd checks that the Random functions are
// Sample followed by Add on the same stream, so Params reproduce them.
func TestRandomMatchesSampleThenAdd(t *testing.T) {
	img := randImage(3, 20, 30, 10)
	gr := GaussianRange{Sigma: [2]float64{1, 30}, GrayProb: 0.5, Clip: true, Rounds: true}
	pr := PoissonRange{Scale: [2]float64{0.05, 3}, GrayProb: 0.5, Clip: true}
	for seed := uint64(0); seed < 8; seed++ {
		s1, s2 := rng.New(seed, "random"), rng.New(seed, "random")
		out, p := RandomGaussian(img, gr, s1)
		// Round trip the params through JSON, as a manifest would.
		b, _ := json.Marshal(p)
		var q GaussianParams
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatal(err)
		}
		if SampleGaussian(s2, gr) != q {
			t.Fatalf("seed %d: params %s do not round trip", seed, b)
		}
		if !equalPix(out.Pix, AddGaussian(img, q, s2).Pix) {
			t.Errorf("seed %d: RandomGaussian differs from SampleGaussian+AddGaussian", seed)
		}
		outP, pp := RandomPoisson(img, pr, s1)
		if SamplePoisson(s2, pr) != pp || !equalPix(outP.Pix, AddPoisson(img, pp, s2).Pix) {
			t.Errorf("seed %d: RandomPoisson differs from SamplePoisson+AddPoisson", seed)
		}
	}
}
