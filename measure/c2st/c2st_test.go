package c2st

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
)

// makeSet renders n images (seeds from first on) of scenes drawn at
// random from scenes (all of samples.Names if nil), applies deg to each and
// cuts their patches.
func makeSet(t testing.TB, n int, first uint64, scenes []string, deg func(*raster.Image, uint64) *raster.Image, opt Options) []Group {
	t.Helper()
	if scenes == nil {
		scenes = samples.Names
	}
	out := make([]Group, n)
	for i := range out {
		seed := first + uint64(i)
		scene := scenes[rng.New(seed, "scene").Intn(len(scenes))]
		m, err := samples.Render(scene, 64, 64, seed)
		if err != nil {
			t.Fatal(err)
		}
		if deg != nil {
			m = deg(m, seed)
		}
		if out[i], err = Cut(m, fmt.Sprint("img", seed), opt); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func gaussian(sigma float64) func(*raster.Image, uint64) *raster.Image {
	return func(m *raster.Image, seed uint64) *raster.Image {
		return noise.AddGaussian(m, noise.GaussianParams{Sigma: sigma, Clip: true, Rounds: true}, rng.New(seed, "noise"))
	}
}

func blurred(sigma float64) func(*raster.Image, uint64) *raster.Image {
	return func(m *raster.Image, _ uint64) *raster.Image {
		return blur.Filter2D(m, blur.Gaussian(11, sigma, sigma, 0, true))
	}
}

// small keeps the tests fast: 5 splits of 150 steps on batches of 16.
var small = Options{Splits: 5, Steps: 150, BatchSize: 16, Seed: 1}

// setSize is the number of images per set: with fewer, a dozen training
// images per set, the network fits content as readily as noise.
const setSize = 24

func TestDistinguishes(t *testing.T) {
	tests := []struct {
		name string
		deg  func(*raster.Image, uint64) *raster.Image
		min  float64
	}{
		// σ = 10 is detected too, but with 12 training images per set
		// about one split in twenty fits content instead (accuracy 0.6).
		{"gaussian noise 20", gaussian(20), 0.9},
		{"gaussian blur 1.5", blurred(1.5), 0.9},
	}
	for _, tt := range tests {
		real := makeSet(t, setSize, 0, nil, nil, small)
		synth := makeSet(t, setSize, 100, nil, tt.deg, small)
		r, err := Run(real, synth, small)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: accuracy %.3f [%.3f, %.3f], p %.2g, splits %v", tt.name, r.Accuracy, r.CILow, r.CIHigh, r.PValue, r.SplitAccuracies)
		if r.Accuracy < tt.min || r.CILow <= 0.5 || r.PValue > 0.05 {
			t.Errorf("%s: accuracy %.3f [%.3f, %.3f], p %.3g, splits %v, loss %.3f; want above %v",
				tt.name, r.Accuracy, r.CILow, r.CIHigh, r.PValue, r.SplitAccuracies, r.TrainLoss, tt.min)
		}
	}
}

func TestSameDistribution(t *testing.T) {
	// One scene with random content: with a handful of scene types, two
	// small sets differ in their mix, a real difference between the two
	// finite sets that the network would find.
	a := makeSet(t, setSize, 0, []string{"shapes"}, gaussian(5), small)
	b := makeSet(t, setSize, 100, []string{"shapes"}, gaussian(5), small)
	r, err := Run(a, b, small)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("same distribution: accuracy %.3f [%.3f, %.3f], p %.2g, splits %v", r.Accuracy, r.CILow, r.CIHigh, r.PValue, r.SplitAccuracies)
	if !(r.CILow <= 0.5 && r.CIHigh >= 0.5) || math.Abs(r.Accuracy-0.5) > 0.15 {
		t.Errorf("same distribution: accuracy %.3f [%.3f, %.3f], splits %v; want 0.5 inside the interval",
			r.Accuracy, r.CILow, r.CIHigh, r.SplitAccuracies)
	}
	if r.ImagesPerSet != setSize || r.TrainImages != setSize/2 || len(r.SplitAccuracies) != 5 || r.Confidence != 0.95 {
		t.Errorf("result bookkeeping: %+v", r)
	}
}

func TestDeterministic(t *testing.T) {
	opt := small
	opt.Steps, opt.Splits = 20, 2
	a := makeSet(t, 6, 0, nil, nil, opt)
	b := makeSet(t, 5, 50, nil, gaussian(10), opt)
	old := runtime.GOMAXPROCS(1)
	r1, err1 := Run(a, b, opt)
	runtime.GOMAXPROCS(max(old, 3))
	r2, err2 := Run(a, b, opt)
	runtime.GOMAXPROCS(old)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if r1.TrainLoss != r2.TrainLoss || fmt.Sprint(r1.SplitAccuracies) != fmt.Sprint(r2.SplitAccuracies) {
		t.Errorf("1 worker: %v %v; several: %v %v", r1.TrainLoss, r1.SplitAccuracies, r2.TrainLoss, r2.SplitAccuracies)
	}
	opt.Seed = 2
	if r3, _ := Run(a, b, opt); r3.TrainLoss == r1.TrainLoss {
		t.Errorf("another seed gave the same training")
	}
}

func TestCut(t *testing.T) {
	m, _ := samples.Render("landscape", 50, 70, 1)
	m.Pix[0] = 1.7 // clamps to 1
	opt := Options{PatchSize: 16, Patches: 6, Seed: 4}
	g, err := Cut(m, "a", opt)
	if err != nil || len(g) != 6 {
		t.Fatalf("Cut: %d patches, %v", len(g), err)
	}
	again, _ := Cut(m, "a", opt)
	other, _ := Cut(m, "b", opt)
	differ := false
	for i, p := range g {
		if len(p) != 3*16*16 {
			t.Fatalf("patch of %d values", len(p))
		}
		for k, v := range p {
			if v != again[i][k] {
				t.Fatalf("Cut is not deterministic")
			}
			if q := v * 255; q != float32(math.Round(float64(q))) || v < 0 || v > 1 {
				t.Fatalf("value %v is not an 8-bit level", v)
			}
			if v != other[i][k] {
				differ = true
			}
		}
		// The patch is a grid-aligned crop of the image.
		found := false
		for y0 := 0; y0+16 <= 50 && !found; y0 += 8 {
			for x0 := 0; x0+16 <= 70 && !found; x0 += 8 {
				found = level(m.At(1, y0+3, x0+5)) == p[16*16+3*16+5] && level(m.At(2, y0+15, x0+15)) == p[2*16*16+255]
			}
		}
		if !found {
			t.Errorf("patch %d is not a grid-aligned crop", i)
		}
	}
	if !differ {
		t.Errorf("another name gave the same patches")
	}
	gray := raster.New(1, 16, 16)
	for i := range gray.Pix {
		gray.Pix[i] = float32(i%256) / 255
	}
	gg, _ := Cut(gray, "g", Options{PatchSize: 16, Patches: 1})
	for i := 0; i < 256; i++ {
		if gg[0][i] != gray.Pix[i] || gg[0][256+i] != gray.Pix[i] || gg[0][512+i] != gray.Pix[i] {
			t.Fatalf("gray image not repeated on three planes")
		}
	}
	for _, bad := range []struct {
		img *raster.Image
		opt Options
	}{
		{raster.New(3, 15, 40), Options{PatchSize: 16}},
		{raster.New(2, 40, 40), Options{PatchSize: 16}},
		{raster.New(3, 40, 40), Options{PatchSize: 12}},
	} {
		if _, err := Cut(bad.img, "x", bad.opt); err == nil {
			t.Errorf("%dx%dx%d %+v: no error", bad.img.C, bad.img.H, bad.img.W, bad.opt)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, o := range []Options{
		{PatchSize: 20}, {PatchSize: 8}, {PatchSize: 264}, {Patches: -1}, {Splits: 1},
		{Steps: -1}, {BatchSize: -2}, {Width: -1}, {LR: -1}, {Confidence: 1}, {Confidence: -0.5},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestRunErrors(t *testing.T) {
	opt := Options{PatchSize: 16, Patches: 2, Splits: 2, Steps: 1}
	two := makeSet(t, 2, 0, nil, nil, opt)
	if _, err := Run(two[:1], two, opt); !errors.Is(err, ErrTooFew) {
		t.Errorf("one image: %v, want ErrTooFew", err)
	}
	if _, err := Run(two, []Group{{make([]float32, 10)}, {make([]float32, 10)}}, opt); err == nil {
		t.Errorf("wrong patch size: no error")
	}
	if _, err := Run(two, []Group{{}, {}}, opt); err == nil {
		t.Errorf("empty group: no error")
	}
}

func TestSummarise(t *testing.T) {
	r := Result{Confidence: 0.95, SplitAccuracies: []float64{0.6, 0.7, 0.8, 0.5, 0.9}}
	summarise(&r, 1)
	sd := math.Sqrt(0.025)
	half := 2.7764451051977987 * math.Sqrt(1.2) * sd
	if math.Abs(r.Accuracy-0.7) > 1e-12 || math.Abs(r.StdDev-sd) > 1e-12 ||
		math.Abs(r.CILow-(0.7-half)) > 1e-9 || r.CIHigh != 1 {
		t.Errorf("summary %+v, want mean 0.7 sd %v interval ±%v clipped at 1", r, sd, half)
	}
	// t = 0.2/(√1.2·sd) with 4 degrees of freedom.
	tt := 0.2 / (math.Sqrt(1.2) * sd)
	if want := 1 - studentCDF(tt, 4); math.Abs(r.PValue-want) > 1e-12 || !(r.PValue > 0.1 && r.PValue < 0.2) {
		t.Errorf("p-value %v, want %v (between 0.1 and 0.2)", r.PValue, want)
	}
	perfect := Result{Confidence: 0.9, SplitAccuracies: []float64{1, 1, 1}}
	summarise(&perfect, 1)
	if perfect.PValue != 0 || perfect.CILow != 1 || perfect.CIHigh != 1 {
		t.Errorf("perfect splits: %+v", perfect)
	}
}

func TestStudent(t *testing.T) {
	tests := []struct{ p, df, want float64 }{
		{0.975, 1, 12.706204736174698},
		{0.975, 4, 2.7764451051977987},
		{0.975, 10, 2.2281388519649385},
		{0.95, 30, 1.6972608943617378},
		{0.995, 2, 9.924843200918276},
		{0.975, 1e6, 1.959966},
		{0.025, 4, -2.7764451051977987},
	}
	for _, tt := range tests {
		if got := studentQuantile(tt.p, tt.df); math.Abs(got-tt.want) > 1e-6*math.Abs(tt.want) {
			t.Errorf("t quantile(%v, %v) = %v, want %v", tt.p, tt.df, got, tt.want)
		}
	}
	// t with 1 degree of freedom is Cauchy: CDF = 1/2 + atan(t)/π.
	for _, x := range []float64{-5, -0.3, 0, 0.7, 40} {
		if got, want := studentCDF(x, 1), 0.5+math.Atan(x)/math.Pi; math.Abs(got-want) > 1e-13 {
			t.Errorf("CDF(%v, 1) = %v, want %v", x, got, want)
		}
	}
	// I_x(a, 1) = x^a.
	for _, c := range [][2]float64{{0.3, 2.5}, {0.9, 0.5}, {0.01, 7}} {
		if got, want := betaInc(c[1], 1, c[0]), math.Pow(c[0], c[1]); math.Abs(got-want) > 1e-13 {
			t.Errorf("I_%v(%v, 1) = %v, want %v", c[0], c[1], got, want)
		}
	}
}

func TestBCEWithLogits(t *testing.T) {
	z := ag.Param("z", tensor.FromData([]float32{-3, -0.5, 0, 2, 30}, 5, 1))
	y := []float32{0, 1, 1, 0, 1}
	want := 0.0
	for i, v := range z.Value.Data {
		p := 1 / (1 + math.Exp(-float64(v)))
		if y[i] == 1 {
			want -= math.Log(p)
		} else {
			want -= math.Log(1 - p)
		}
	}
	want /= 5
	g := ag.NewGraph(true)
	l := bceWithLogits(g, z, y)
	if math.Abs(float64(l.Value.Data[0])-want) > 1e-6 {
		t.Errorf("loss %v, want %v", l.Value.Data[0], want)
	}
	g.Backward(l)
	for i, v := range z.Value.Data {
		grad := (1/(1+math.Exp(-float64(v))) - float64(y[i])) / 5
		if math.Abs(float64(z.Grad.Data[i])-grad) > 1e-7 {
			t.Errorf("grad[%d] = %v, want %v", i, z.Grad.Data[i], grad)
		}
	}
}

func TestPrepare(t *testing.T) {
	s := 8
	p := make([]float32, 3*s*s)
	for i := range p {
		p[i] = 0.25
	}
	p[2*s*s+3*s+4] = 1 // one bright blue pixel
	p[s*s] = 0.5       // one brighter green corner pixel
	in := prepare(p, s)
	for c := 0; c < 3; c++ {
		for i := 0; i < s*s; i++ {
			y, x := i/s, i%s
			near := (c == 2 && y >= 2 && y <= 4 && x >= 3 && x <= 5) || (c == 1 && y <= 1 && x <= 1)
			if res := in[c*s*s+i]; near != (res != 0) {
				t.Fatalf("plane %d pixel (%d,%d): residual %v", c, y, x, res)
			}
		}
	}
	if got, want := in[2*s*s+3*s+4], float32(residualGain*0.75*8/9); math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("residual at the blue pixel %v, want %v", got, want)
	}
	// Mirroring without repeating the edge: the corner's neighbourhood
	// holds it once and eight values 0.25.
	if got, want := in[s*s], float32(residualGain*(0.5-(0.5+8*0.25)/9)); math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("residual at the corner %v, want %v", got, want)
	}
}

func BenchmarkRun2x50(b *testing.B) {
	opt := Options{Seed: 1}
	real := makeSet(b, 50, 0, nil, nil, opt)
	synth := makeSet(b, 50, 100, nil, gaussian(5), opt)
	b.ResetTimer()
	for range b.N {
		r, err := Run(real, synth, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Accuracy, "accuracy")
	}
}
