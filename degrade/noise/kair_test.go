package noise

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func TestSymEigen(t *testing.T) {
	s := rng.New(1, "eigen")
	for trial := 0; trial < 200; trial++ {
		var a mat3
		for i := 0; i < 3; i++ {
			for j := 0; j <= i; j++ {
				a[i][j] = s.Uniform(-2, 2)
				a[j][i] = a[i][j]
			}
		}
		w, v := symEigen(a)
		if !(w[0] >= w[1] && w[1] >= w[2]) {
			t.Fatalf("eigenvalues %v not in decreasing order", w)
		}
		// v diag(w) v^T reconstructs a, and v is orthogonal.
		vt := v.transpose()
		id := v.mul(vt)
		rec := v.mul(mat3{{w[0], 0, 0}, {0, w[1], 0}, {0, 0, w[2]}}).mul(vt)
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				if math.Abs(rec[i][j]-a[i][j]) > 1e-12 {
					t.Fatalf("reconstruction of %v off at (%d,%d): %v", a, i, j, rec[i][j])
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(id[i][j]-want) > 1e-12 {
					t.Fatalf("eigenvectors not orthonormal: %v", id)
				}
			}
		}
	}
}

func TestOrth(t *testing.T) {
	// Singular values 1, 3, 2 on the axes: the columns come out as
	// ±e1, ±e2, ±e0 (decreasing singular value, like scipy.linalg.orth).
	u := orth(mat3{{1, 0, 0}, {0, 3, 0}, {0, 0, 2}})
	want := mat3{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if math.Abs(math.Abs(u[i][j])-want[i][j]) > 1e-12 {
				t.Fatalf("orth(diag(1,3,2)) = %v, want ± %v", u, want)
			}
		}
	}
	// For a random matrix, the columns are left singular vectors:
	// a a^T u_j = s_j^2 u_j with s_j decreasing.
	s := rng.New(2, "orth")
	for trial := 0; trial < 100; trial++ {
		var a mat3
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				a[i][j] = s.Float64()
			}
		}
		u := orth(a)
		aat := a.mul(a.transpose())
		prev := math.Inf(1)
		for j := 0; j < 3; j++ {
			var au [3]float64
			lam := 0.0
			for i := 0; i < 3; i++ {
				au[i] = aat[i][0]*u[0][j] + aat[i][1]*u[1][j] + aat[i][2]*u[2][j]
				lam += au[i] * u[i][j]
			}
			for i := 0; i < 3; i++ {
				if math.Abs(au[i]-lam*u[i][j]) > 1e-10 {
					t.Fatalf("column %d of orth(%v) is not a left singular vector", j, a)
				}
			}
			if lam > prev+1e-12 {
				t.Fatalf("singular values not decreasing for %v", a)
			}
			prev = lam
		}
	}
}

func TestSqrtFactor(t *testing.T) {
	// A positive definite matrix is reproduced; an indefinite one gives
	// Q|Λ|Q^T, the covariance numpy's SVD-based sampler produces.
	pd := mat3{{2, 0.5, 0.1}, {0.5, 1, 0.2}, {0.1, 0.2, 0.5}}
	indef := mat3{{1, 2, 0}, {2, 1, 0}, {0, 0, 3}} // eigenvalues 3, 3, -1
	absIndef := mat3{{2, 1, 0}, {1, 2, 0}, {0, 0, 3}}
	for _, tt := range []struct{ in, want mat3 }{{pd, pd}, {indef, absIndef}} {
		m := sqrtFactor(tt.in)
		got := m.mul(m.transpose())
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				if math.Abs(got[i][j]-tt.want[i][j]) > 1e-12 {
					t.Fatalf("sqrtFactor(%v): m m^T = %v, want %v", tt.in, got, tt.want)
				}
			}
		}
	}
}

func TestSampleKAIRNoise(t *testing.T) {
	s := rng.New(3, "kair-sample")
	const n = 20000
	counts := map[KAIRMode]int{}
	levels := map[float64]int{}
	for range n {
		p := SampleKAIRNoise(s, 2, 25)
		counts[p.Mode]++
		levels[p.Level]++
		if p.Level < 2 || p.Level > 25 || p.Level != math.Trunc(p.Level) {
			t.Fatalf("level %g not an integer in [2, 25]", p.Level)
		}
		if (p.Mode == KAIRCorrelated) != (p.Corr != nil) {
			t.Fatalf("mode %s with correlation %v", p.Mode, p.Corr)
		}
		if p.Corr != nil {
			if p.Corr.Level != 25 {
				t.Fatalf("correlated branch level %g, want noise_level2 = 25", p.Corr.Level)
			}
			u := mat3(p.Corr.U)
			id := u.transpose().mul(u)
			for i := 0; i < 3; i++ {
				if math.Abs(id[i][i]-1) > 1e-12 || p.Corr.D[i] < 0 || p.Corr.D[i] >= 1 {
					t.Fatalf("bad correlation %+v", p.Corr)
				}
			}
		}
	}
	if len(levels) != 24 {
		t.Errorf("saw %d distinct levels, want 24", len(levels))
	}
	for mode, prob := range map[KAIRMode]float64{KAIRColour: 0.4, KAIRGray: 0.4, KAIRCorrelated: 0.2} {
		if sd := math.Sqrt(n * prob * (1 - prob)); math.Abs(float64(counts[mode])-n*prob) > 5*sd {
			t.Errorf("mode %s drawn %d times of %d, want about %.0f", mode, counts[mode], n, n*prob)
		}
	}
}

// noiseOf returns out - img per value.
func noiseOf(out, img *raster.Image) []float64 {
	d := make([]float64, len(out.Pix))
	for i := range d {
		d[i] = float64(out.Pix[i]) - float64(img.Pix[i])
	}
	return d
}

// TestKAIRGaussianBranches checks the std of the colour and gray branches
// and that gray noise is shared by the planes. The image is 0.5 so that
// clipping (at 5 sigma for level 25) is negligible.
func TestKAIRGaussianBranches(t *testing.T) {
	img := constImage(3, 128, 128, 0.5)
	for _, mode := range []KAIRMode{KAIRColour, KAIRGray} {
		p := KAIRNoiseParams{Level: 20, Mode: mode}
		out := AddKAIRGaussian(img, p, rng.New(4, string(mode)))
		d := noiseOf(out, img)
		n := img.H * img.W
		_, sd := meanStd(d)
		m := len(d)
		if mode == KAIRGray {
			m = n
			for i := 0; i < n; i++ {
				if d[i] != d[n+i] || d[i] != d[2*n+i] {
					t.Fatalf("gray branch: planes differ at %d", i)
				}
			}
		}
		want := 20.0 / 255
		if tol := 5 * want / math.Sqrt(2*float64(m)); math.Abs(sd-want) > tol {
			t.Errorf("%s: std %.5f, want %.5f ± %.5f", mode, sd, want, tol)
		}
	}
}

// TestKAIRCorrelated checks the empirical covariance of the correlated
// branch against the covariance it is meant to sample. Each entry's
// standard error is sqrt((c_ii c_jj + c_ij^2)/n); the tolerance is 5 of
// them.
func TestKAIRCorrelated(t *testing.T) {
	s := rng.New(5, "corr")
	img := constImage(3, 160, 160, 0.5)
	n := img.H * img.W
	tested := 0
	for tested < 3 {
		p := SampleKAIRNoise(s, 2, 25)
		if p.Mode != KAIRCorrelated {
			continue
		}
		tested++
		m := sqrtFactor(p.Corr.Covariance())
		want := m.mul(m.transpose()) // = Covariance() when it is PSD
		out := AddKAIRGaussian(img, p, s)
		d := noiseOf(out, img)
		var got mat3
		for i := 0; i < n; i++ {
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					got[a][b] += d[a*n+i] * d[b*n+i]
				}
			}
		}
		for a := 0; a < 3; a++ {
			for b := 0; b < 3; b++ {
				got[a][b] /= float64(n)
				se := math.Sqrt((want[a][a]*want[b][b] + want[a][b]*want[a][b]) / float64(n))
				if math.Abs(got[a][b]-want[a][b]) > 5*se {
					t.Errorf("covariance (%d,%d) = %.3e, want %.3e ± %.1e", a, b, got[a][b], want[a][b], 5*se)
				}
			}
		}
		// The JSON form reproduces the draw.
		b, _ := json.Marshal(p)
		var q KAIRNoiseParams
		if err := json.Unmarshal(b, &q); err != nil || *q.Corr != *p.Corr || q.Mode != p.Mode {
			t.Errorf("params %s do not round trip: %v", b, err)
		}
	}
}

func TestKAIRSpeckle(t *testing.T) {
	img := constImage(3, 128, 128, 0.4)
	img.Pix[0] = 1.5 // clipped to 1 before the noise is applied
	p := KAIRNoiseParams{Level: 20, Mode: KAIRColour}
	out := AddKAIRSpeckle(img, p, rng.New(6, "speckle"))
	d := noiseOf(out, img)[1:]
	_, sd := meanStd(d)
	want := 0.4 * 20 / 255
	if tol := 5 * want / math.Sqrt(2*float64(len(d))); math.Abs(sd-want) > tol {
		t.Errorf("speckle std %.5f, want %.5f ± %.5f", sd, want, tol)
	}
	if out.Pix[0] > 1 {
		t.Errorf("speckle output %v > 1", out.Pix[0])
	}
	// Speckle on black stays black.
	zero := constImage(3, 8, 8, 0)
	for _, v := range AddKAIRSpeckle(zero, p, rng.New(7, "speckle")).Pix {
		if v != 0 {
			t.Fatalf("speckle noise on a black image gave %v", v)
		}
	}
}

// TestKAIRPoisson checks both branches on a constant image of level 102
// (0.4): the colour branch gives poisson(0.4*vals)/vals with mean 0.4 and
// variance 0.4/vals; the gray branch adds one noise plane (the luma of a
// gray pixel is the pixel) to all planes.
func TestKAIRPoisson(t *testing.T) {
	img := constImage(3, 128, 128, 0.4)
	r := 102.0 / 255
	const vals = 1000
	n := img.H * img.W
	for _, gray := range []bool{false, true} {
		out := AddKAIRPoisson(img, KAIRPoissonParams{Vals: vals, Gray: gray}, rng.New(8, "kair-poisson"))
		xs := make([]float64, len(out.Pix))
		for i, v := range out.Pix {
			xs[i] = float64(v)
		}
		m := len(xs)
		if gray {
			m = n
			for i := 0; i < n; i++ {
				if out.Pix[i] != out.Pix[n+i] || out.Pix[i] != out.Pix[2*n+i] {
					t.Fatalf("gray branch: planes differ at %d", i)
				}
			}
		}
		mean, sd := meanStd(xs)
		wantSD := math.Sqrt(r / vals)
		if se := wantSD / math.Sqrt(float64(m)); math.Abs(mean-r) > 5*se {
			t.Errorf("gray=%v: mean %.5f, want %.5f ± %.5f", gray, mean, r, 5*se)
		}
		if tol := 5 * wantSD / math.Sqrt(2*float64(m)); math.Abs(sd-wantSD) > tol {
			t.Errorf("gray=%v: std %.5f, want %.5f ± %.5f", gray, sd, wantSD, tol)
		}
	}
	s := rng.New(9, "kair-poisson-sample")
	grays := 0
	for range 10000 {
		p := SampleKAIRPoisson(s)
		if p.Vals < 100 || p.Vals >= 10000 {
			t.Fatalf("vals %g outside [100, 10000)", p.Vals)
		}
		if p.Gray {
			grays++
		}
	}
	if math.Abs(float64(grays)-5000) > 250 {
		t.Errorf("gray branch chosen %d times of 10000, want about 5000", grays)
	}
}
