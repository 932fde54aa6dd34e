package gemm

import (
	"testing"

	"github.com/degradiff/degradiff/rng"
)

func TestTranspose(t *testing.T) {
	sizes := []int{1, 3, 15, 16, 17, 32, 33, 50}
	for _, p := range paths() {
		restore := setPath(p)
		for _, rows := range sizes {
			for _, cols := range sizes {
				s := rng.New(4, "transpose")
				lds, ldd := cols+2, rows+3
				src := randSlice(s, rows*lds)
				dst := make([]float32, cols*ldd)
				for i := range dst {
					dst[i] = -7
				}
				Transpose(dst, ldd, src, lds, rows, cols)
				for c := 0; c < cols; c++ {
					for r := 0; r < ldd; r++ {
						want := float32(-7) // padding untouched
						if r < rows {
							want = src[r*lds+c]
						}
						if got := dst[c*ldd+r]; got != want {
							t.Fatalf("%s %dx%d: dst[%d][%d] = %v, want %v", p.name, rows, cols, c, r, got, want)
						}
					}
				}
			}
		}
		restore()
	}
}

func TestRowsHelpers(t *testing.T) {
	s := rng.New(5, "rows")
	src := randSlice(s, 5000)
	for _, p := range paths() {
		restore := setPath(p)
		for _, rows := range []int{1, 5, 12, 16, 17, 40} {
			for _, cols := range []int{1, 16, 31, 32, 33, 64} {
				offs := make([]int, rows)
				for r := range offs {
					offs[r] = s.Intn(len(src) - cols + 1)
				}
				offs[0] = len(src) - cols // a row ending at the end of src
				ldd := rows + 2
				dst := make([]float32, cols*ldd)
				TransposeRows(dst, ldd, src, offs, cols)
				for c := 0; c < cols; c++ {
					for r := 0; r < ldd; r++ {
						var want float32
						if r < rows {
							want = src[offs[r]+c]
						}
						if got := dst[c*ldd+r]; got != want {
							t.Fatalf("%s TransposeRows %dx%d: dst[%d][%d] = %v, want %v", p.name, rows, cols, c, r, got, want)
						}
					}
				}
				ldg := cols + 1
				g := make([]float32, rows*ldg)
				GatherRows(g, ldg, src, offs, cols)
				for r := 0; r < rows; r++ {
					for c := 0; c < ldg; c++ {
						var want float32
						if c < cols {
							want = src[offs[r]+c]
						}
						if got := g[r*ldg+c]; got != want {
							t.Fatalf("%s GatherRows %dx%d: dst[%d][%d] = %v, want %v", p.name, rows, cols, r, c, got, want)
						}
					}
				}
			}
		}
		restore()
	}
	for name, f := range map[string]func(){
		"TransposeRows past end": func() { TransposeRows(make([]float32, 100), 2, src, []int{0, len(src) - 3}, 4) },
		"GatherRows negative":    func() { GatherRows(make([]float32, 100), 4, src, []int{-1}, 4) },
		"Transpose short dst":    func() { Transpose(make([]float32, 10), 4, src, 4, 4, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestPackPanelsB checks the packed panels of op(B), whole and ragged, from
// row-major and transposed matrices, against the definition.
func TestPackPanelsB(t *testing.T) {
	s := rng.New(6, "panels")
	for _, p := range paths() {
		nr := p.nr
		for _, tc := range []struct{ n, p0, p1, pc, kc int }{
			{5 * nr, 0, 5, 0, 7}, {5*nr + 3, 1, 6, 2, 16}, {3 * nr, 2, 3, 1, 5}, {nr - 1, 0, 1, 0, 9}, {7*nr + 1, 0, 8, 3, 33},
		} {
			for _, xMajor := range []bool{false, true} {
				k := tc.pc + tc.kc + 2
				ld := tc.n + 3
				rows := k
				if xMajor {
					ld, rows = k+1, tc.n
				}
				o := operand{d: randSlice(s, rows*ld), ld: ld, xMajor: xMajor}
				dst := make([]float32, (tc.p1-tc.p0)*nr*tc.kc+5)
				for i := range dst {
					dst[i] = -9
				}
				packPanelsB(p, &o, dst, tc.n, tc.p0, tc.p1, tc.pc, tc.kc)
				for i, got := range dst {
					want := float32(-9) // beyond the panels: untouched
					if q := i / (nr * tc.kc); q < tc.p1-tc.p0 {
						pp, x := i%(nr*tc.kc)/nr, (tc.p0+q)*nr+i%nr
						want = 0 // past n
						if x < tc.n {
							if xMajor {
								want = o.d[x*ld+tc.pc+pp]
							} else {
								want = o.d[(tc.pc+pp)*ld+x]
							}
						}
					}
					if got != want {
						t.Fatalf("%s %+v xMajor %v: dst[%d] = %v, want %v", p.name, tc, xMajor, i, got, want)
					}
				}
			}
		}
	}
}
