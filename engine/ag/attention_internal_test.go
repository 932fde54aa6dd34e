package ag

import (
	"math"
	"testing"
)

// SetAttentionBlock sets the number of queries per attention block, so that
// tests exercise the chunking on small inputs, and returns a function that
// restores the previous value.
func SetAttentionBlock(n int) (restore func()) {
	old := attnBlock
	attnBlock = n
	return func() { attnBlock = old }
}

func TestAttnExpRow(t *testing.T) {
	// Sweep [-87, 0] (normal results) in rows shifted by a maximum of 3.
	const n = 1 << 21
	row := make([]float32, n)
	for i := range row {
		row[i] = 3 - 87*float32(i)/n
	}
	xs := append([]float32(nil), row...)
	const mul = 0.5 // exact, so that only exp rounds
	sum := attnExpRow(row, 3, mul)
	worst, want64 := 0.0, 0.0
	for i, x := range xs {
		want := math.Exp(float64(x - 3)) // of the float32 argument
		want64 += want
		if rel := math.Abs(float64(row[i])/mul-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 2.5e-7 {
		t.Errorf("worst relative error %.3g over [-87, 0], want <= 2.5e-7 (2 ulp)", worst)
	}
	t.Logf("worst relative error %.3g over [-87, 0]", worst)
	// The sum of 2^21 terms must be as accurate as its terms.
	if rel := math.Abs(float64(sum)-want64) / want64; rel > 2.5e-7 {
		t.Errorf("sum %v, want %v (rel err %.3g)", sum, want64, rel)
	}

	for _, tc := range []struct {
		x, want float32
		tol     float64
	}{
		{0, 1, 0},
		{-1, float32(math.Exp(-1)), 2e-7},
		{-100, 0, 2e-38}, // clamped: about 1e-38, negligible in a sum >= 1
		{float32(math.Inf(-1)), 0, 2e-38},
	} {
		r := []float32{tc.x}
		attnExpRow(r, 0, 1)
		if d := math.Abs(float64(r[0] - tc.want)); d > tc.tol*math.Max(1, float64(tc.want)) {
			t.Errorf("exp(%g) = %g, want %g", tc.x, r[0], tc.want)
		}
	}
	if r := []float32{float32(math.NaN())}; math.IsNaN(float64(attnExpRow(r, 0, 1))) == false {
		t.Errorf("exp(NaN) = %g, want NaN", r[0])
	}
}

func TestAttnBlockBounded(t *testing.T) {
	for _, s := range []int{1, 64, 1024, 4096, 16384, 65536} {
		a := newAttnShape(1, 100000, s, 128, 16)
		if a.block < 1 || a.block > attnBlock {
			t.Errorf("S=%d: block %d outside [1, %d]", s, a.block, attnBlock)
		}
		if s <= attnMaxScores/attnMinBlock && a.block*s > attnMaxScores {
			t.Errorf("S=%d: block %d holds %d scores, want <= %d", s, a.block, a.block*s, attnMaxScores)
		}
	}
	if a := newAttnShape(1, 5, 5, 8, 2); a.block != 5 || a.nblk != 1 {
		t.Errorf("L=5: block %d, %d blocks; want one block of 5", a.block, a.nblk)
	}
}
