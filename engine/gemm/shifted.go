package gemm

import (
	"fmt"
	"math"
)

// A Shifted product is a sum of products whose right factors are windows
// of one matrix B at column offsets: column q of C is
//
//	C[i][q] = bias[i] + sum over t of sum over p of A_t[i][p] * B[p][q+Offs[t]]
//
// in the BF16 precision (bf16 factors, float32 sums). A stride-1
// convolution is one, with B the zero-padded image (channels x flattened
// pixels), t running over the kernel taps and Offs[t] the tap's offset in
// the flattened image: no im2col matrix is ever formed. On AMX tiles
// (ShiftedTiles) every block of 16 pair rows of B is loaded straight from
// B, whose pair rows are LDB apart.
//
// B holds bf16 pairs as PackPair makes them: rows 2r and 2r+1 of B, column
// x, at B[r*LDB+x] (GatherRowsPairs lays them out). A holds the A_t as
// PackShiftedA packs them.
type Shifted struct {
	M, K int       // rows of C; the depth of each A_t, a multiple of 32
	A    []float32 // the packed A_t, len(Offs) of them
	Offs []int     // the column offset of each B_t in B, >= 0
	B    []float32
	LDB  int
	Bias []float32 // M values added to every column, or nil
}

// ShiftedTiles reports whether Shifted products run on AMX tiles: in the
// BF16 precision, on a CPU with AMX-BF16. Elsewhere Mul runs in Go
// (correct, slow): callers pick another method there.
func ShiftedTiles() bool {
	return CurrentPrecision() == BF16 && active.Load().bf16.amx
}

// ShiftedASize returns the size of the packed A of a Shifted product of m
// rows, depth k and the given number of shifts.
func ShiftedASize(m, k, shifts int) int { return shifts * k / 2 * m }

// PackShiftedA packs the shifts matrices A_t (m x k, element (i, p) of A_t
// at a[i*rs+p*ps+t*ts]) into dst for a Shifted product: for each t and
// each block of 32 values of the depth, the m rows of 16 bf16 pairs one
// after another, as AMX tiles load them. Rows stored contiguously (ps 1)
// pack fastest.
func PackShiftedA(dst, a []float32, m, k, shifts, rs, ps, ts int) {
	if m < 1 || k < 32 || k%32 != 0 || shifts < 1 {
		panic(fmt.Sprintf("gemm.PackShiftedA: %d rows, depth %d (a multiple of 32 wanted), %d shifts", m, k, shifts))
	}
	if len(dst) < ShiftedASize(m, k, shifts) {
		panic(fmt.Sprintf("gemm.PackShiftedA: dst has %d elements, want %d", len(dst), ShiftedASize(m, k, shifts)))
	}
	_ = a[(m-1)*rs+(k-1)*ps+(shifts-1)*ts]
	chunks := k / 32
	for t := range shifts {
		dt := dst[t*chunks*m*16:][:chunks*m*16]
		if ps == 1 && packPairRows(dt, a[t*ts:], rs, m, k) {
			continue
		}
		for c := range chunks {
			blk := dt[c*m*16:][:m*16]
			for i := range m {
				for q := range 16 {
					p := 32*c + 2*q
					blk[i*16+q] = PackPair(a[i*rs+p*ps+t*ts], a[i*rs+(p+1)*ps+t*ts])
				}
			}
		}
	}
}

// Mul computes columns q0 to q0+n-1 of C: column q0+j goes to c[i*ldc+j]
// for row i, as C + beta*(what c held), beta 0 leaving c unread. The
// depth is summed whole for every output, in an order that does not
// depend on q0 or n (so results do not depend on how columns are shared
// out). B must hold the columns read in whole blocks of 32: up to
// q0 + 32*ceil(n/32) - 1 + max(Offs) in the last pair row.
func (s *Shifted) Mul(c []float32, ldc, q0, n int, beta float32) {
	s.check(c, ldc, q0, n)
	if ShiftedTiles() && mulShiftedTiles(s, c, ldc, q0, n, beta) {
		return
	}
	s.mulGo(c, ldc, q0, n, beta)
}

func (s *Shifted) check(c []float32, ldc, q0, n int) {
	if s.M < 1 || s.K < 32 || s.K%32 != 0 || len(s.Offs) == 0 || q0 < 0 || n < 1 || ldc < n {
		panic(fmt.Sprintf("gemm.Shifted.Mul: %d rows, depth %d, %d shifts, columns %d+%d, ldc %d", s.M, s.K, len(s.Offs), q0, n, ldc))
	}
	if len(s.A) < ShiftedASize(s.M, s.K, len(s.Offs)) {
		panic(fmt.Sprintf("gemm.Shifted.Mul: A has %d elements, want %d", len(s.A), ShiftedASize(s.M, s.K, len(s.Offs))))
	}
	most := 0
	for _, o := range s.Offs {
		if o < 0 {
			panic(fmt.Sprintf("gemm.Shifted.Mul: negative offset %d", o))
		}
		most = max(most, o)
	}
	if end := (s.K/2-1)*s.LDB + q0 + (n+31)/32*32 + most; s.LDB < 1 || len(s.B) < end {
		panic(fmt.Sprintf("gemm.Shifted.Mul: B has %d elements, want %d (LDB %d)", len(s.B), end, s.LDB))
	}
	if len(c) < (s.M-1)*ldc+n {
		panic(fmt.Sprintf("gemm.Shifted.Mul: c has %d elements, want %d", len(c), (s.M-1)*ldc+n))
	}
	if s.Bias != nil && len(s.Bias) < s.M {
		panic(fmt.Sprintf("gemm.Shifted.Mul: %d biases for %d rows", len(s.Bias), s.M))
	}
}

// mulGo is Mul in Go: vdpbf16ps's arithmetic (dotPairBF16), shift by
// shift, pair by pair.
func (s *Shifted) mulGo(c []float32, ldc, q0, n int, beta float32) {
	chunks := s.K / 32
	for i := range s.M {
		row := c[i*ldc:][:n]
		for j := range row {
			var acc float32
			for t, off := range s.Offs {
				for ch := range chunks {
					a := s.A[((t*chunks+ch)*s.M+i)*16:][:16]
					for q, av := range a {
						acc = dotPairBF16(acc, av, s.B[(16*ch+q)*s.LDB+q0+j+off])
					}
				}
			}
			if s.Bias != nil {
				acc += s.Bias[i]
			}
			if beta != 0 {
				acc = float32(math.FMA(float64(beta), float64(row[j]), float64(acc)))
			}
			row[j] = acc
		}
	}
}
