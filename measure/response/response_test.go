package response

import (
	"errors"
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// noise returns a c x h x w image of uniform values in [0, 1).
func noise(seed uint64, c, h, w int) *raster.Image {
	r := rng.New(seed, "response-test")
	m := raster.New(c, h, w)
	for i := range m.Pix {
		m.Pix[i] = float32(r.Float64())
	}
	return m
}

// binomial is the separable 3x3 filter [1 2 1]/4 x [1 2 1]/4.
func binomial() *Filter {
	h := []float64{0.25, 0.5, 0.25}
	w := &Filter{Size: 3, Weights: make([]float64, 9)}
	for y := range 3 {
		for x := range 3 {
			w.Weights[y*3+x] = h[y] * h[x]
		}
	}
	return w
}

func TestFitRecoversFilter(t *testing.T) {
	want := &Filter{Size: 5, Weights: make([]float64, 25), Offset: 0.01}
	r := rng.New(7, "filter")
	for i := range want.Weights {
		want.Weights[i] = r.Float64() - 0.4
	}
	f, err := NewFitter(5)
	if err != nil {
		t.Fatal(err)
	}
	// Two images of different sizes and planes, added apart and merged.
	g, _ := NewFitter(5)
	a, b := noise(1, 3, 24, 30), noise(2, 1, 40, 20)
	if err := f.Add(a, want.Apply(a), 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(b, want.Apply(b), 3); err != nil {
		t.Fatal(err)
	}
	f.Merge(g)
	got, err := f.Solve()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Offset-want.Offset) > 1e-5 {
		t.Errorf("offset %v, want %v", got.Offset, want.Offset)
	}
	for i := range want.Weights {
		if math.Abs(got.Weights[i]-want.Weights[i]) > 1e-5 {
			t.Fatalf("weight %d: %v, want %v", i, got.Weights[i], want.Weights[i])
		}
	}
	if d := Distance(got, want); d > 1e-4 {
		t.Errorf("distance of the fit to the filter %v, want about 0", d)
	}
}

func TestGain(t *testing.T) {
	id := &Filter{Size: 3, Weights: []float64{0, 0, 0, 0, 1, 0, 0, 0, 0}}
	for _, tc := range []struct {
		name string
		w    *Filter
		f    float64
		want float64
	}{
		{"identity at 0", id, 0, 1},
		{"identity at Nyquist", id, 0.5, 1},
		// [1 2 1]/4 has gain cos^2(pi f) along each axis.
		{"binomial at 0", binomial(), 0, 1},
		{"binomial at 0.25", binomial(), 0.25, 0.5},
		{"binomial at 0.1", binomial(), 0.1, math.Pow(math.Cos(math.Pi*0.1), 2)},
		{"binomial at Nyquist", binomial(), 0.5, 0},
	} {
		if got := tc.w.Gain(tc.f); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: gain %v, want %v", tc.name, got, tc.want)
		}
	}
	if g := binomial().Gains(); len(g) != len(Frequencies) || math.Abs(g[len(g)-1]) > 1e-12 {
		t.Errorf("Gains: %v", g)
	}
}

func TestDistance(t *testing.T) {
	id := &Filter{Size: 1, Weights: []float64{1}}
	louder := &Filter{Size: 1, Weights: []float64{1.1}}
	if d := Distance(id, id); d != 0 {
		t.Errorf("distance to itself %v", d)
	}
	if d, want := Distance(louder, id), math.Log(1.1); math.Abs(d-want) > 1e-12 {
		t.Errorf("10%% louder: distance %v, want %v", d, want)
	}
	if math.Abs(Distance(louder, id)-Distance(id, louder)) > 1e-15 {
		t.Error("distance is not symmetric")
	}
	// The binomial filter removes the Nyquist frequency: the bound on
	// the gains keeps the distance finite.
	if d := Distance(binomial(), id); math.IsInf(d, 0) || math.IsNaN(d) || d < 0.5 {
		t.Errorf("binomial against identity: %v", d)
	}
}

func TestErrors(t *testing.T) {
	for _, size := range []int{0, 2, 17} {
		if _, err := NewFitter(size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	f, _ := NewFitter(3)
	if err := f.Add(raster.New(1, 8, 8), raster.New(1, 8, 9), 0); err == nil {
		t.Error("images of different sizes accepted")
	}
	flat := raster.New(1, 16, 16)
	if err := f.Add(flat, flat, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Solve(); !errors.Is(err, ErrSingular) {
		t.Errorf("flat images: %v, want ErrSingular", err)
	}
	g, _ := NewFitter(7)
	small := noise(3, 1, 8, 8) // 4 pixels inside the border, 50 unknowns
	if err := g.Add(small, small, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Solve(); !errors.Is(err, ErrSingular) {
		t.Errorf("too few pixels: %v, want ErrSingular", err)
	}
}

func TestLuma(t *testing.T) {
	m := raster.New(3, 1, 2)
	copy(m.Pix, []float32{1, 0, 0, 1, 0, 0})
	y := Luma(m)
	if y.C != 1 || math.Abs(float64(y.Pix[0])-0.299) > 1e-6 || math.Abs(float64(y.Pix[1])-0.587) > 1e-6 {
		t.Errorf("luma %v", y.Pix)
	}
	g := raster.New(1, 2, 2)
	if Luma(g) != g {
		t.Error("a one-plane image was converted")
	}
}
