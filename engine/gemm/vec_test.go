package gemm

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

var vecLens = []int{0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 129, 1000, 4099}

func TestAxpy(t *testing.T) {
	for _, p := range paths() {
		restore := setPath(p)
		for _, n := range vecLens {
			s := rng.New(2, "axpy", p.name)
			x, y := randSlice(s, n), randSlice(s, n+3)
			y0 := append([]float32(nil), y...)
			const alpha = -1.75
			Axpy(alpha, x, y)
			for i := range y {
				want, tol := float64(y0[i]), 0.0
				if i < n {
					want += alpha * float64(x[i])
					// One rounding of the sum, one more for the product
					// on the generic path.
					tol = 2 * eps32 * (math.Abs(alpha*float64(x[i])) + math.Abs(float64(y0[i])))
				}
				if d := math.Abs(float64(y[i]) - want); d > tol {
					t.Fatalf("%s n=%d: y[%d] = %g, want %g", p.name, n, i, y[i], want)
				}
			}
		}
		restore()
	}
}

func TestDot(t *testing.T) {
	for _, n := range vecLens {
		s := rng.New(3, "dot")
		x, y := randSlice(s, n), randSlice(s, n+5)
		var want, mag float64
		for i := range x {
			want += float64(x[i]) * float64(y[i])
			mag += math.Abs(float64(x[i]) * float64(y[i]))
		}
		var asm []float32
		for _, p := range paths() {
			restore := setPath(p)
			got := Dot(x, y)
			restore()
			// Each element goes through at most n/64 + 1 + 6 additions.
			if d, tol := math.Abs(float64(got)-want), float64(n/64+8)*eps32*mag; d > tol {
				t.Errorf("%s n=%d: Dot = %g, want %g (error %.3g > %.3g)", p.name, n, got, want, d, tol)
			}
			if p != genericPath {
				asm = append(asm, got)
			}
		}
		// The assembly paths share the summation order and fuse the same
		// multiply-adds, so they agree bit for bit.
		for _, v := range asm {
			if math.Float32bits(v) != math.Float32bits(asm[0]) {
				t.Errorf("n=%d: assembly paths disagree: %v", n, asm)
			}
		}
	}
}

// TestDotOrder checks the documented summation order with values whose sum
// depends on it: 1e8 in lane 0 cancels only if lane 32 is added to lane 0
// before the small values of lanes 1..31 are.
func TestDotOrder(t *testing.T) {
	x := make([]float32, 200)
	y := make([]float32, 200)
	for i := range y {
		y[i] = 1
	}
	x[0], x[32] = 1e8, -1e8
	for l := 1; l < 32; l++ {
		x[l] = 1
	}
	x[64+1] = 0.5 // second block, lane 1
	x[199] = 2    // tail, lane 199%64 = 7
	for _, p := range paths() {
		restore := setPath(p)
		if got := Dot(x, y); got != 33.5 {
			t.Errorf("%s: Dot = %v, want 33.5", p.name, got)
		}
		restore()
	}
}
