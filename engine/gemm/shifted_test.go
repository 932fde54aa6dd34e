package gemm

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// shiftedCase builds a Shifted product of m rows, depth k and the given
// offsets over B columns wide, with random factors.
func shiftedCase(s *rng.Stream, m, k, cols int, offs []int, bias bool) (*Shifted, []float32) {
	// A_t's elements interleaved with the other shifts', as conv's weights.
	raw := randSlice(s, m*k*len(offs))
	sh := &Shifted{M: m, K: k, Offs: offs, LDB: cols + 57}
	sh.A = make([]float32, ShiftedASize(m, k, len(offs)))
	PackShiftedA(sh.A, raw, m, k, len(offs), k*len(offs), len(offs), 1)
	b := randSlice(s, k*cols)
	sh.B = make([]float32, k/2*sh.LDB)
	offsB := make([]int, k)
	for p := range offsB {
		offsB[p] = p * cols
	}
	GatherRowsPairs(sh.B, sh.LDB, b, offsB, cols)
	if bias {
		sh.Bias = randSlice(s, m)
	}
	return sh, raw
}

// shiftedRef is the product in float64 from the bf16-rounded factors, and
// the sum of the terms' magnitudes (the error bound's scale).
func shiftedRef(sh *Shifted, raw []float32, i, q int) (sum, mag float64) {
	n := len(sh.Offs)
	for t, off := range sh.Offs {
		for p := range sh.K {
			a := float64(fromBF16(toBF16(raw[i*sh.K*n+p*n+t])))
			pair := math.Float32bits(sh.B[p/2*sh.LDB+q+off])
			bv := float64(fromBF16(uint16(pair >> (16 * (p % 2)))))
			sum += a * bv
			mag += math.Abs(a * bv)
		}
	}
	if sh.Bias != nil {
		sum += float64(sh.Bias[i])
		mag += math.Abs(float64(sh.Bias[i]))
	}
	return sum, mag
}

// TestShiftedMul checks Shifted.Mul (on AMX tiles where this machine has
// them) and its Go version against float64 sums of the same bf16 factors,
// for row counts around the tiles' 16 and 32, partial column blocks, with
// and without bias, beta 0, 1 and 0.5; and that the tiles' bits do not
// depend on how the columns are split.
func TestShiftedMul(t *testing.T) {
	defer SetPrecision(BF16)()
	s := rng.New(1, "gemm", "shifted")
	offs := []int{0, 1, 2, 19, 20, 21, 38, 39, 40}
	for _, m := range []int{3, 16, 20, 32, 45} {
		for _, k := range []int{32, 96} {
			for _, bias := range []bool{false, true} {
				const cols = 150
				sh, raw := shiftedCase(s, m, k, cols, offs, bias)
				for _, beta := range []float32{0, 1, 0.5} {
					for _, span := range [][2]int{{0, 1}, {3, 29}, {5, 64}, {7, 100}} {
						q0, n := span[0], span[1]
						name := fmt.Sprintf("m=%d k=%d bias=%v beta=%v cols=%d+%d", m, k, bias, beta, q0, n)
						const ldc = 111
						prior := randSlice(s, m*ldc)
						got := append([]float32(nil), prior...)
						sh.Mul(got, ldc, q0, n, beta)
						goGot := append([]float32(nil), prior...)
						sh.mulGo(goGot, ldc, q0, n, beta)
						for i := range m {
							for j := range ldc {
								x := i*ldc + j
								if j >= n {
									if math.Float32bits(got[x]) != math.Float32bits(prior[x]) {
										t.Fatalf("%s: row %d column %d outside the block was written", name, i, j)
									}
									continue
								}
								want, mag := shiftedRef(sh, raw, i, q0+j)
								want += float64(beta) * float64(prior[x])
								mag += math.Abs(float64(beta) * float64(prior[x]))
								tol := mag*float64(k*len(offs))*0x1p-24 + 1e-30
								for which, v := range map[string]float32{"Mul": got[x], "mulGo": goGot[x]} {
									if d := math.Abs(float64(v) - want); d > tol {
										t.Fatalf("%s: %s (%d, %d) = %g, want %g (off %g, bound %g)", name, which, i, j, v, want, d, tol)
									}
								}
							}
						}
						if n > 1 {
							split := append([]float32(nil), prior...)
							sh.Mul(split, ldc, q0, 1, beta)
							sh.Mul(split[1:], ldc, q0+1, n-1, beta)
							for x := range split {
								if math.Float32bits(split[x]) != math.Float32bits(got[x]) {
									t.Fatalf("%s: element %d is %g split, %g whole", name, x, split[x], got[x])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestPackShiftedA checks the layout of the packed A: shift t, depth block
// c, row i, pair q.
func TestPackShiftedA(t *testing.T) {
	const m, k, shifts = 5, 64, 3
	raw := make([]float32, m*k*shifts)
	for x := range raw {
		raw[x] = float32(x)
	}
	dst := make([]float32, ShiftedASize(m, k, shifts))
	// a[i*rs+p*ps+t*ts] with the shift outermost.
	PackShiftedA(dst, raw, m, k, shifts, k, 1, m*k)
	for tt := range shifts {
		for c := range k / 32 {
			for i := range m {
				for q := range 16 {
					p := 32*c + 2*q
					want := PackPair(raw[i*k+p+tt*m*k], raw[i*k+p+1+tt*m*k])
					if got := dst[((tt*(k/32)+c)*m+i)*16+q]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("t=%d c=%d i=%d q=%d: %#x, want %#x", tt, c, i, q, math.Float32bits(got), math.Float32bits(want))
					}
				}
			}
		}
	}
}
