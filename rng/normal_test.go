package rng

import (
	"math"
	"testing"
)

// TestZigguratTables checks that the layers close: the recursion from zigR
// must end with a top layer of area zigV, or the layers would not be
// equally likely.
func TestZigguratTables(t *testing.T) {
	if e := zigTopError(); math.Abs(e) > 1e-9 {
		t.Fatalf("top layer area off by %g of a layer", e)
	}
	for i := 0; i < zigLayers; i++ {
		if !(zigX[i] > zigX[i+1]) {
			t.Fatalf("layer edges not decreasing at %d: %g, %g", i, zigX[i], zigX[i+1])
		}
	}
}

// TestFillNormalDistribution compares 4M draws with the standard normal:
// moments, tail fractions and a chi-square test on 100 equiprobable bins.
// The seed is fixed, so the test is deterministic; the bounds are 5
// standard errors (chi-square: mean 99, sd 14).
func TestFillNormalDistribution(t *testing.T) {
	const n = 1 << 22
	const std = 2.5
	z := make([]float32, n)
	New(21, "normal").FillNormal(z, std)
	var m1, m2, m4 float64
	var over3, over4 int
	const bins = 100
	var counts [bins]int
	edges := make([]float64, bins-1)
	for k := range edges {
		edges[k] = math.Sqrt2 * math.Erfinv(2*float64(k+1)/bins-1)
	}
	for _, v := range z {
		x := float64(v) / std
		m1 += x
		m2 += x * x
		m4 += x * x * x * x
		if a := math.Abs(x); a > 4 {
			over4++
			over3++
		} else if a > 3 {
			over3++
		}
		lo, hi := 0, len(edges)
		for lo < hi {
			mid := (lo + hi) / 2
			if x < edges[mid] {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		counts[lo]++
	}
	m1, m2, m4 = m1/n, m2/n, m4/n
	if se := 1 / math.Sqrt(n); math.Abs(m1) > 5*se {
		t.Errorf("mean %g, want 0 ± %g", m1, 5*se)
	}
	if se := math.Sqrt(2.0 / n); math.Abs(m2-1) > 5*se {
		t.Errorf("variance %g, want 1 ± %g", m2, 5*se)
	}
	if se := math.Sqrt(96.0 / n); math.Abs(m4-3) > 5*se {
		t.Errorf("fourth moment %g, want 3 ± %g", m4, 5*se)
	}
	for _, c := range []struct {
		sigma float64
		got   int
	}{{3, over3}, {4, over4}} {
		p := math.Erfc(c.sigma / math.Sqrt2)
		want := p * n
		if sd := math.Sqrt(want); math.Abs(float64(c.got)-want) > 5*sd {
			t.Errorf("%d of %d beyond %g sigma, want %.0f ± %.0f", c.got, n, c.sigma, want, 5*sd)
		}
	}
	chi2 := 0.0
	for _, c := range counts {
		d := float64(c) - n/bins
		chi2 += d * d / (n / bins)
	}
	if chi2 > 99+5*14 {
		t.Errorf("chi-square %g on %d bins, want about 99 (sd 14)", chi2, bins)
	}
}

// TestFillNormalPrefix checks that a shorter fill gives the first elements
// of a longer one, and that the stream advances by whole blocks.
func TestFillNormalPrefix(t *testing.T) {
	long := make([]float32, 3*normalChunk+11)
	a := New(8, "prefix")
	a.FillNormal(long, 1)
	for _, m := range []int{1, 2, normalChunk - 1, normalChunk + 1, 2*normalChunk + 3} {
		b := New(8, "prefix")
		short := make([]float32, m)
		b.FillNormal(short, 1)
		for i, v := range short {
			if v != long[i] {
				t.Fatalf("fill of %d: element %d = %g, fill of %d has %g", m, i, v, len(long), long[i])
			}
		}
		if blk, used := b.Counter(); blk != uint64((m+1)/2) || used != 2 {
			t.Fatalf("fill of %d left the stream at block %d (%d used), want %d", m, blk, used, (m+1)/2)
		}
	}
}

// TestZigguratTail checks the tail algorithm on its own: draws that start
// in the base layer beyond zigR must follow the normal law conditioned on
// exceeding zigR, P(Z > R+t | Z > R) = erfc((R+t)/√2) / erfc(R/√2). The
// full-distribution test sees only about 1000 tail values.
func TestZigguratTail(t *testing.T) {
	const n = 200000
	// Layer 0, positive sign, position at the far end of the base strip.
	w := ^uint64(0) &^ 0x1ff
	if z, ok := zigFast(w); ok || z < zigR {
		t.Fatalf("word %x should start a tail draw", w)
	}
	s := New(5, "tail")
	ts := []float64{0.02, 0.05, 0.1, 0.2, 0.4, 0.8}
	beyond := make([]int, len(ts))
	for i := 0; i < n; i++ {
		z := zigSlow(w, s)
		if z < zigR {
			t.Fatalf("tail draw %g below R = %g", z, zigR)
		}
		for k, d := range ts {
			if z > zigR+d {
				beyond[k]++
			}
		}
	}
	for k, d := range ts {
		p := math.Erfc((zigR+d)/math.Sqrt2) / math.Erfc(zigR/math.Sqrt2)
		got := float64(beyond[k]) / n
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(got-p) > 5*se {
			t.Errorf("P(Z > R+%g | Z > R) = %.4f, want %.4f ± %.4f", d, got, p, 5*se)
		}
	}
}
