package noise

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// poissonCDF returns P(K <= k) for K ~ Poisson(lambda), summing the
// probabilities exp(k ln λ - λ - ln k!) from 0 (an independent formula:
// the tables use a recursion from the mode).
func poissonCDF(lambda float64, k int) float64 {
	if lambda == 0 {
		return 1
	}
	s := 0.0
	for i := 0; i <= k; i++ {
		lg, _ := math.Lgamma(float64(i + 1))
		s += math.Exp(float64(i)*math.Log(lambda) - lambda - lg)
	}
	return s
}

var tableRates = []float64{0, 1e-3, 0.5, 3, 9.9, 37.5, 100.4, 256, 1000, 9999.7}

// TestPoissonTableCDF checks every threshold of the tables against the
// Poisson CDF, and that the counts left out at either end are negligible.
// Tolerance: 1e-13 for λ <= 256, 1e-10 beyond, where the reference formula
// itself loses digits (λ and ln k! near 1e5 cancel to a few units).
func TestPoissonTableCDF(t *testing.T) {
	for _, lam := range tableRates {
		tb := newPoissonTable(lam)
		tol := 1e-13
		if lam > 256 {
			tol = 1e-10
		}
		if lam > 0 {
			if below := poissonCDF(lam, tb.k0-1); tb.k0 > 0 && below > 1e-17 {
				t.Errorf("λ=%g: counts below %d left out hold %g", lam, tb.k0, below)
			}
			// The upper tail summed term by term: 1 - CDF would lose it
			// to rounding.
			last := tb.k0 + len(tb.thr) - 1
			above := 0.0
			for k := last + 1; ; k++ {
				lg, _ := math.Lgamma(float64(k + 1))
				p := math.Exp(float64(k)*math.Log(lam) - lam - lg)
				above += p
				if p < 1e-30 {
					break
				}
			}
			if above > 1e-17 {
				t.Errorf("λ=%g: counts above %d left out hold %g", lam, last, above)
			}
		}
		// Walk the CDF alongside the table.
		worst := 0.0
		cdf := poissonCDF(lam, tb.k0)
		for j, thr := range tb.thr {
			if j > 0 {
				k := tb.k0 + j
				lg, _ := math.Lgamma(float64(k + 1))
				cdf += math.Exp(float64(k)*math.Log(lam) - lam - lg)
			}
			worst = max(worst, math.Abs(float64(thr)/(1<<53)-min(cdf, 1)))
		}
		if worst > tol {
			t.Errorf("λ=%g: table CDF off by %g, want <= %g", lam, worst, tol)
		}
	}
}

// TestPoissonTableInversion checks that draw returns the smallest count
// whose threshold exceeds u, against a linear search, at every threshold,
// next to it and at random points.
func TestPoissonTableInversion(t *testing.T) {
	s := rng.New(1, "inversion")
	for _, lam := range tableRates {
		tb := newPoissonTable(lam)
		want := func(u uint64) int {
			for j, thr := range tb.thr {
				if u < thr {
					return tb.k0 + j
				}
			}
			t.Fatalf("λ=%g: u=%d beyond the last threshold", lam, u)
			return 0
		}
		us := []uint64{0, 1<<53 - 1}
		for _, thr := range tb.thr {
			us = append(us, thr-1, thr, min(thr+1, 1<<53-1))
		}
		for range 2000 {
			us = append(us, s.Uint64()>>11)
		}
		for _, u := range us {
			if u >= 1<<53 {
				continue
			}
			if got, w := tb.draw(u), want(u); got != w {
				t.Fatalf("λ=%g: draw(%d) = %d, want %d", lam, u, got, w)
			}
		}
	}
}

// TestDrawPoissonDistribution draws 200k counts per rate through
// drawPoisson and compares them with Poisson(λ): mean, variance and a
// chi-square test over the counts with expected frequency >= 20 (the rest
// pooled into two tail cells), at 5 standard errors / chi-square sds. The
// largest rate exercises the rejection sampler beyond the tables.
func TestDrawPoissonDistribution(t *testing.T) {
	const n = 200000
	for _, lam := range []float64{0.5, 3, 9.9, 37.5, 256, 9999.7, 2 * poissonTableMax} {
		t.Run(fmt.Sprint(lam), func(t *testing.T) {
			var p poissonLevels
			p.lambda[7] = lam
			levels := make([]uint8, n)
			for i := range levels {
				levels[i] = 7
			}
			counts := make([]float32, n)
			drawPoisson(counts, levels, &p, rng.New(2, "dist", fmt.Sprint(lam)))
			hist := map[int]int{}
			var m1, m2 float64
			for _, c := range counts {
				k := float64(c)
				m1 += k
				m2 += k * k
				hist[int(c)]++
			}
			m1 /= n
			v := m2/n - m1*m1
			if se := math.Sqrt(lam / n); math.Abs(m1-lam) > 5*se {
				t.Errorf("mean %g, want %g ± %g", m1, lam, 5*se)
			}
			// Var of the sample variance: (μ4 - σ⁴)/n with μ4 = λ + 3λ².
			if se := math.Sqrt((lam + 2*lam*lam) / n); math.Abs(v-lam) > 5*se {
				t.Errorf("variance %g, want %g ± %g", v, lam, 5*se)
			}
			if lam > poissonTableMax {
				return
			}
			// Cells: k with expected count >= 20, plus the two tails.
			chi2, cells := 0.0, 0
			lo, hi := int(lam), int(lam)
			pmf := func(k int) float64 {
				lg, _ := math.Lgamma(float64(k + 1))
				return math.Exp(float64(k)*math.Log(lam) - lam - lg)
			}
			for lo > 0 && pmf(lo-1)*n >= 20 {
				lo--
			}
			for pmf(hi+1)*n >= 20 {
				hi++
			}
			seen := 0
			for k := lo; k <= hi; k++ {
				e := pmf(k) * n
				d := float64(hist[k]) - e
				chi2 += d * d / e
				cells++
				seen += hist[k]
			}
			below := poissonCDF(lam, lo-1)
			above := 1 - poissonCDF(lam, hi)
			tailObs := n - seen
			if e := (below + above) * n; e > 0 {
				d := float64(tailObs) - e
				chi2 += d * d / e
				cells++
			}
			dof := float64(cells - 1)
			if chi2 > dof+5*math.Sqrt(2*dof) {
				t.Errorf("chi-square %g with %g degrees of freedom", chi2, dof)
			}
		})
	}
}

// TestDrawPoissonWorkers checks that counts do not depend on GOMAXPROCS
// and that levels are drawn from their own tables, across many chunks.
func TestDrawPoissonWorkers(t *testing.T) {
	const n = 5*poissonChunk + 17
	var p poissonLevels
	for q := range p.lambda {
		p.lambda[q] = float64(q) * 0.9
	}
	levels := make([]uint8, n)
	for i := range levels {
		levels[i] = uint8(i * 7)
	}
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		out := make([]float32, n)
		drawPoisson(out, levels, &p, rng.New(3, "workers"))
		return out
	}
	a, b := run(1), run(4)
	if !equalPix(a, b) {
		t.Fatal("counts differ between GOMAXPROCS 1 and 4")
	}
	for i, c := range a {
		if levels[i] == 0 && c != 0 {
			t.Fatalf("value %d: rate 0 gave count %g", i, c)
		}
	}
}
