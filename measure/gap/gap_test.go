package gap

import (
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// gaussian returns n draws of a d-dimensional normal with the given mean
// and per-axis standard deviation (diagonal covariance).
func gaussian(seed uint64, n int, mean, sd []float64) [][]float64 {
	s := rng.New(seed, "gap test")
	out := make([][]float64, n)
	for i := range out {
		v := make([]float64, len(mean))
		for j := range v {
			v[j] = mean[j] + sd[j]*s.Norm()
		}
		out[i] = v
	}
	return out
}

func fill(d int, v float64) []float64 {
	out := make([]float64, d)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestEigenSym(t *testing.T) {
	s := rng.New(1, "eig")
	for _, d := range []int{1, 2, 5, 20, 53} {
		a := make([]float64, d*d)
		for i := 0; i < d; i++ {
			for j := i; j < d; j++ {
				v := s.Norm()
				a[i*d+j], a[j*d+i] = v, v
			}
		}
		a[0] *= 1e3 // spread the eigenvalues
		vals, v := eigenSym(a, d, true)
		scale := 0.0
		for _, x := range a {
			scale = max(scale, math.Abs(x))
		}
		// A·V = V·Λ and VᵀV = I.
		for i := 0; i < d; i++ {
			for k := 0; k < d; k++ {
				av, vl, vtv := 0.0, v[i*d+k]*vals[k], 0.0
				for j := 0; j < d; j++ {
					av += a[i*d+j] * v[j*d+k]
					vtv += v[j*d+i] * v[j*d+k]
				}
				if math.Abs(av-vl) > 1e-12*scale*float64(d) {
					t.Fatalf("d=%d: (AV)[%d][%d] = %v, (VΛ) = %v", d, i, k, av, vl)
				}
				want := 0.0
				if i == k {
					want = 1
				}
				if math.Abs(vtv-want) > 1e-12*float64(d) {
					t.Fatalf("d=%d: (VᵀV)[%d][%d] = %v", d, i, k, vtv)
				}
			}
		}
	}
}

func TestSqrtPSD(t *testing.T) {
	s := rng.New(2, "sqrt")
	for _, tc := range []struct{ d, rank int }{{1, 1}, {4, 4}, {12, 12}, {12, 5}, {30, 30}} {
		d := tc.d
		x := make([]float64, d*tc.rank)
		for i := range x {
			x[i] = s.Norm()
		}
		a := make([]float64, d*d) // X·Xᵀ: PSD of the given rank
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				for k := 0; k < tc.rank; k++ {
					a[i*d+j] += x[i*tc.rank+k] * x[j*tc.rank+k]
				}
			}
		}
		r := sqrtPSD(a, d)
		rr := mul(r, r, d)
		for i := range a {
			if math.Abs(rr[i]-a[i]) > 1e-10*float64(d) {
				t.Fatalf("d=%d rank %d: (√A)²[%d] = %v, A = %v", d, tc.rank, i, rr[i], a[i])
			}
			if r[i] != r[(i%d)*d+i/d] {
				t.Fatalf("d=%d: √A not symmetric", d)
			}
		}
	}
}

func sampleMeanVar(x [][]float64, j int) (m, v float64) {
	for _, r := range x {
		m += r[j]
	}
	m /= float64(len(x))
	for _, r := range x {
		v += (r[j] - m) * (r[j] - m)
	}
	return m, v / float64(len(x)-1)
}

func TestFrechetKnown(t *testing.T) {
	// One dimension: (μx−μy)² + (σx−σy)², on the sample moments.
	x := gaussian(3, 500, []float64{1}, []float64{2})
	y := gaussian(4, 700, []float64{-0.5}, []float64{0.5})
	mx, vx := sampleMeanVar(x, 0)
	my, vy := sampleMeanVar(y, 0)
	want := (mx-my)*(mx-my) + (math.Sqrt(vx)-math.Sqrt(vy))*(math.Sqrt(vx)-math.Sqrt(vy))
	got, err := FrechetDistance(x, y)
	if err != nil || math.Abs(got-want) > 1e-12*want {
		t.Errorf("1-D: FD = %v, %v; want %v", got, err, want)
	}

	// Two dimensions, correlated and not commuting: for 2x2 matrices
	// tr √(ΣxΣy) = √(tr(ΣxΣy) + 2√(det Σx det Σy)).
	x = correlated(5, 400, 0.8, [2]float64{1, 3})
	y = correlated(6, 600, -0.3, [2]float64{2, 0.5})
	cx, cy := cov2(x), cov2(y)
	mx0, _ := sampleMeanVar(x, 0)
	mx1, _ := sampleMeanVar(x, 1)
	my0, _ := sampleMeanVar(y, 0)
	my1, _ := sampleMeanVar(y, 1)
	p := mul(cx[:], cy[:], 2)
	trP := p[0] + p[3]
	det := func(c [4]float64) float64 { return c[0]*c[3] - c[1]*c[2] }
	trSqrt := math.Sqrt(trP + 2*math.Sqrt(det(cx)*det(cy)))
	want = (mx0-my0)*(mx0-my0) + (mx1-my1)*(mx1-my1) + cx[0] + cx[3] + cy[0] + cy[3] - 2*trSqrt
	got, err = FrechetDistance(x, y)
	if err != nil || math.Abs(got-want) > 1e-11*want {
		t.Errorf("2-D: FD = %v, %v; want %v", got, err, want)
	}
	if back, _ := FrechetDistance(y, x); math.Abs(back-got) > 1e-11*got {
		t.Errorf("FD not symmetric: %v and %v", got, back)
	}
}

// correlated returns n 2-D points with correlation rho and the given scales,
// shifted by (rho, 1).
func correlated(seed uint64, n int, rho float64, sd [2]float64) [][]float64 {
	s := rng.New(seed, "corr")
	out := make([][]float64, n)
	for i := range out {
		a, b := s.Norm(), s.Norm()
		out[i] = []float64{rho + sd[0]*a, 1 + sd[1]*(rho*a+math.Sqrt(1-rho*rho)*b)}
	}
	return out
}

func cov2(x [][]float64) [4]float64 {
	m0, v0 := sampleMeanVar(x, 0)
	m1, v1 := sampleMeanVar(x, 1)
	c := 0.0
	for _, r := range x {
		c += (r[0] - m0) * (r[1] - m1)
	}
	c /= float64(len(x) - 1)
	return [4]float64{v0, c, c, v1}
}

// With many samples the sample FD approaches the population value, which
// for diagonal covariances is |Δμ|² + Σ(σx−σy)².
func TestFrechetPopulation(t *testing.T) {
	d := 6
	mx, my := fill(d, 0), fill(d, 0)
	sx, sy := fill(d, 1), fill(d, 1)
	my[0], my[3] = 1, -0.5
	sy[1], sy[2] = 2, 0.5
	want := 1 + 0.25 + 1 + 0.25
	got, err := FrechetDistance(gaussian(7, 20000, mx, sx), gaussian(8, 20000, my, sy))
	if err != nil || math.Abs(got-want) > 0.05*want {
		t.Errorf("FD = %v, %v; population value %v", got, err, want)
	}
}

func TestFrechetIdenticalAndShift(t *testing.T) {
	d := 10
	x := gaussian(9, 300, fill(d, 0), fill(d, 1))
	if got, err := FrechetDistance(x, x); err != nil || got > 1e-10 {
		t.Errorf("FD(x, x) = %v, %v; want 0", got, err)
	}
	prev := -1.0
	for _, shift := range []float64{0, 0.2, 0.5, 1, 2} {
		y := gaussian(10, 300, fill(d, shift), fill(d, 1))
		got, err := FrechetDistance(x, y)
		if err != nil || got <= prev {
			t.Errorf("shift %v: FD = %v, %v; want more than %v", shift, got, err, prev)
		}
		prev = got
	}
}

func TestFrechetErrors(t *testing.T) {
	x := [][]float64{{1, 2}}
	if _, err := FrechetDistance(x, [][]float64{{1, 2}, {3, 4}}); !errors.Is(err, ErrTooFew) {
		t.Errorf("one vector: err = %v, want ErrTooFew", err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("no panic for vectors of different lengths")
		}
	}()
	FrechetDistance([][]float64{{1, 2}, {3, 4}}, [][]float64{{1}, {2}})
}

// naiveMMD2 evaluates the unbiased estimator by its definition.
func naiveMMD2(x, y [][]float64) float64 {
	d := float64(len(x[0]))
	k := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += a[i] * b[i]
		}
		return math.Pow(s/d+1, 3)
	}
	m := float64(len(x))
	var xx, yy, xy float64
	for i := range x {
		for j := range x {
			if i != j {
				xx += k(x[i], x[j])
				yy += k(y[i], y[j])
			}
			xy += k(x[i], y[j])
		}
	}
	return (xx+yy)/(m*(m-1)) - 2*xy/(m*m)
}

func TestKIDAgainstDefinition(t *testing.T) {
	x := gaussian(11, 37, []float64{0, 1, 2}, []float64{1, 1, 3})
	y := gaussian(12, 37, []float64{0.5, 1, 1}, []float64{1, 2, 1})
	want := naiveMMD2(x, y)
	// Subsets of the whole sample: every subset gives the same value.
	mean, std, err := KID(x, y, KIDOptions{Subsets: 3, SubsetSize: 37})
	if err != nil || math.Abs(mean-want) > 1e-12*math.Abs(want) || std > 1e-12*math.Abs(want) {
		t.Errorf("KID = %v ± %v, %v; definition gives %v ± 0", mean, std, err, want)
	}
}

// For d = 1 the kernel (ab+1)³ expands to Σ_j C(3,j)(ab)^j, so the
// population MMD² is Σ_j C(3,j)(E X^j − E Y^j)² over j = 1..3.
func TestKIDPopulation(t *testing.T) {
	x := gaussian(13, 4000, []float64{0}, []float64{1})
	y := gaussian(14, 4000, []float64{0.5}, []float64{1})
	// Raw moments of N(0.5, 1): 0.5, 1.25, 0.5³ + 3·0.5.
	want := 3*0.25 + 3*0.25*0.25 + 1.625*1.625
	mean, std, err := KID(x, y, KIDOptions{Subsets: 50, SubsetSize: 1000, Seed: 1})
	if err != nil || math.Abs(mean-want) > 0.1*want {
		t.Errorf("KID = %v ± %v, %v; population value %v", mean, std, err, want)
	}
	if !(std > 0) {
		t.Errorf("KID std = %v, want > 0 for differing subsets", std)
	}
}

func TestKIDSameAndShifted(t *testing.T) {
	d := 8
	x := gaussian(15, 600, fill(d, 0), fill(d, 1))
	same := gaussian(16, 600, fill(d, 0), fill(d, 1))
	m0, s0, err := KID(x, same, KIDOptions{Subsets: 20})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m0) > 3*s0+1e-3 {
		t.Errorf("same distribution: KID = %v ± %v, want about 0", m0, s0)
	}
	prev := m0
	for _, shift := range []float64{0.3, 0.6, 1.2} {
		y := gaussian(17, 600, fill(d, shift), fill(d, 1))
		m, s, err := KID(x, y, KIDOptions{Subsets: 20})
		if err != nil || m <= prev || m < 3*s {
			t.Errorf("shift %v: KID = %v ± %v, %v; want clearly above %v", shift, m, s, err, prev)
		}
		prev = m
	}
}

func TestKIDDeterministic(t *testing.T) {
	x := gaussian(18, 300, fill(5, 0), fill(5, 1))
	y := gaussian(19, 200, fill(5, 0.2), fill(5, 1))
	opt := KIDOptions{Subsets: 10, Seed: 7}
	old := runtime.GOMAXPROCS(1)
	m1, s1, _ := KID(x, y, opt)
	runtime.GOMAXPROCS(max(old, 3))
	m2, s2, _ := KID(x, y, opt)
	runtime.GOMAXPROCS(old)
	if m1 != m2 || s1 != s2 {
		t.Errorf("1 worker: %v ± %v; several: %v ± %v", m1, s1, m2, s2)
	}
	opt.Seed = 8
	if m3, _, _ := KID(x, y, opt); m3 == m1 {
		t.Errorf("another seed gave the same subsets")
	}
}

func TestKIDErrors(t *testing.T) {
	x := gaussian(20, 3, fill(2, 0), fill(2, 1))
	y := gaussian(21, 10, fill(2, 0), fill(2, 1))
	tests := []struct {
		name string
		opt  KIDOptions
	}{
		{"default size 1", KIDOptions{}},
		{"size above sample", KIDOptions{SubsetSize: 4}},
		{"negative subsets", KIDOptions{Subsets: -1, SubsetSize: 2}},
	}
	for _, tt := range tests {
		if _, _, err := KID(x, y, tt.opt); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, _, err := KID(x, y, KIDOptions{SubsetSize: 2, Subsets: 2}); err != nil {
		t.Errorf("size 2: %v", err)
	}
}

func TestStandardize(t *testing.T) {
	x := [][]float64{{1, 5, 100}, {3, 5, 200}}
	y := [][]float64{{5, 5, 300}}
	xs, ys := Standardize(x, y)
	all := append(append([][]float64{}, xs...), ys...)
	for j := 0; j < 3; j++ {
		var m, v float64
		for _, r := range all {
			m += r[j]
		}
		m /= 3
		for _, r := range all {
			v += (r[j] - m) * (r[j] - m)
		}
		v /= 3
		wantV := 1.0
		if j == 1 {
			wantV = 0 // constant feature
		}
		if math.Abs(m) > 1e-12 || math.Abs(v-wantV) > 1e-12 {
			t.Errorf("feature %d: mean %v var %v, want 0 and %v", j, m, v, wantV)
		}
	}
	if x[0][0] != 1 {
		t.Errorf("Standardize modified its input")
	}
	// Columns 0 and 2 are affine images of each other: equal z-scores.
	if math.Abs(xs[1][0]-xs[1][2]) > 1e-12 {
		t.Errorf("z-scores %v and %v differ", xs[1][0], xs[1][2])
	}
}

func BenchmarkKID(b *testing.B) {
	x := gaussian(22, 800, fill(53, 0), fill(53, 1))
	y := gaussian(23, 800, fill(53, 0.1), fill(53, 1))
	b.ResetTimer()
	for range b.N {
		KID(x, y, KIDOptions{})
	}
}

func BenchmarkFrechet(b *testing.B) {
	x := gaussian(22, 800, fill(53, 0), fill(53, 1))
	y := gaussian(23, 800, fill(53, 0.1), fill(53, 1))
	b.ResetTimer()
	for range b.N {
		FrechetDistance(x, y)
	}
}
