package gemm

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/rng"
)

// naiveSgemm is the straightforward triple loop, kept as the float32 oracle.
func naiveSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		for j := range crow {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				crow[j] = alpha * s
			} else {
				crow[j] = alpha*s + beta*crow[j]
			}
		}
	}
}

// refSgemm computes alpha*op(A)*op(B) + beta*C in float64 and, for each
// element, the magnitude |alpha|*sum|a||b| + |beta*c| that bounds its
// rounding error.
func refSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (ref, mag []float64) {
	ref = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			r := float64(alpha) * s
			g := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
				g += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			ref[i*n+j], mag[i*n+j] = r, g
		}
	}
	return ref, mag
}

// eps32 is the float32 unit roundoff.
const eps32 = 1.0 / (1 << 24)

// tolerance is the error bound for a sum of k products: (k+2) roundings of
// the magnitude (the classic bound for recursive summation, plus alpha and
// beta), which blocked and fused summation also satisfy.
func tolerance(k int, mag float64) float64 { return float64(k+2) * eps32 * mag }

func randSlice(s *rng.Stream, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(s.Uniform(-1, 1))
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra leading-dimension elements
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_%dx%dx%d_a%g_b%g_pad%d", t(tc.transA), t(tc.transB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	sizes := [][3]int{
		{1, 1, 1}, {1, 17, 1}, {17, 1, 33}, {1, 1, 129}, {2, 3, 4},
		{17, 33, 129}, {13, 31, 7}, {33, 17, 257}, {12, 32, 64}, {24, 64, 300},
		{129, 65, 33}, {257, 33, 17}, {7, 257, 129}, {97, 130, 513},
	}
	ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}}
	for si, s := range sizes {
		for tr := 0; tr < 4; tr++ {
			cs = append(cs, gemmCase{
				transA: tr&1 != 0, transB: tr&2 != 0,
				m: s[0], n: s[1], k: s[2],
				alpha: ab[(si+tr)%4][0], beta: ab[(si+tr)%4][1],
				pad: (si * 3) % 5,
			})
		}
	}
	return cs
}

// operands returns random A, B and C for tc with their leading dimensions.
func (tc gemmCase) operands(seed string) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	s := rng.New(1, "gemm", seed, tc.String())
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc = ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	return randSlice(s, ar*lda), lda, randSlice(s, br*ldb), ldb, randSlice(s, tc.m*ldc), ldc
}

// tilePaths returns every path, and for a path with several tile kernels
// one copy of it restricted to each, so that tests run every micro-kernel.
func tilePaths() []*path {
	var ps []*path
	for _, p := range paths() {
		ps = append(ps, p)
		if len(p.tiles) < 2 {
			continue
		}
		for _, t := range p.tiles {
			q := *p
			q.name = fmt.Sprintf("%s_%dx%d", p.name, t.mr, p.nr)
			q.tiles = []tileKernel{t}
			ps = append(ps, &q)
		}
	}
	return ps
}

func TestSgemmPaths(t *testing.T) {
	for _, p := range tilePaths() {
		t.Run(p.name, func(t *testing.T) {
			defer setPath(p)()
			for _, tc := range gemmCases() {
				a, lda, b, ldb, c, ldc := tc.operands("paths")
				ref, mag := refSgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				if tc.beta == 0 {
					for i := range c {
						c[i] = float32(math.NaN()) // must not be read
					}
				}
				c0 := append([]float32(nil), c...)
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				var worst float64
				for i := 0; i < tc.m; i++ {
					for j := 0; j < ldc; j++ {
						got := c[i*ldc+j]
						if j >= tc.n {
							if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
								t.Fatalf("%v: C[%d][%d] beyond n changed", tc, i, j)
							}
							continue
						}
						d := math.Abs(float64(got) - ref[i*tc.n+j])
						tol := tolerance(tc.k, mag[i*tc.n+j])
						if !(d <= tol) {
							t.Fatalf("%v: C[%d][%d] = %g, want %g (error %.3g > tolerance %.3g)", tc, i, j, got, ref[i*tc.n+j], d, tol)
						}
						if mag[i*tc.n+j] > 0 {
							worst = max(worst, d/(float64(tc.k+2)*eps32*mag[i*tc.n+j]))
						}
					}
				}
				if worst > 0.25 {
					t.Logf("%v: error up to %.2f of the bound", tc, worst)
				}
			}
		})
	}
}

// TestPathsAgree checks every path against the generic one and the float32
// naive loop, and that both assembly paths (same summation order within a
// tile, fused multiply-adds) are close to each other.
func TestPathsAgree(t *testing.T) {
	for _, tc := range gemmCases() {
		a, lda, b, ldb, c, ldc := tc.operands("agree")
		_, mag := refSgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		want := append([]float32(nil), c...)
		naiveSgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		for _, p := range paths() {
			got := append([]float32(nil), c...)
			restore := setPath(p)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			restore()
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					d := math.Abs(float64(got[i*ldc+j] - want[i*ldc+j]))
					if tol := 2 * tolerance(tc.k, mag[i*tc.n+j]); !(d <= tol) {
						t.Fatalf("%v: path %s C[%d][%d] = %g, naive %g (|diff| %.3g > %.3g)", tc, p.name, i, j, got[i*ldc+j], want[i*ldc+j], d, tol)
					}
				}
			}
		}
	}
}

// TestDeterministic checks that results do not depend on GOMAXPROCS, for
// products shared out by rows and by columns, whole and ragged.
func TestDeterministic(t *testing.T) {
	cases := []gemmCase{
		{m: 300, n: 517, k: 129, alpha: 1, beta: 0},
		{transA: true, m: 700, n: 96, k: 300, alpha: 1, beta: 1},
		{transB: true, m: 64, n: 1000, k: 200, alpha: 2, beta: 0.5, pad: 3},
		{transA: true, transB: true, m: 257, n: 255, k: 513, alpha: 1, beta: 0},
		// Several depth and column blocks, split by columns and by rows.
		{transB: true, m: 100, n: 700, k: 900, alpha: 1.5, beta: -0.5, pad: 1},
		{m: 401, n: 1100, k: 800, alpha: 1, beta: 0.5},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, p := range tilePaths() {
		restore := setPath(p)
		for _, tc := range cases {
			a, lda, b, ldb, c, ldc := tc.operands("det")
			var first []float32
			for _, procs := range []int{1, 2, 3, 4} {
				runtime.GOMAXPROCS(procs)
				got := append([]float32(nil), c...)
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%s %v: GOMAXPROCS=%d differs from 1 at %d: %g vs %g", p.name, tc, procs, i, got[i], first[i])
					}
				}
			}
		}
		restore()
	}
}

// TestRowPlans checks that the tiles cover the rows of C in order, with
// only the last one sticking out, and that on the AVX-512 path they waste
// less than one tile of the fastest height.
func TestRowPlans(t *testing.T) {
	for _, p := range tilePaths() {
		for m := 1; m <= 200; m++ {
			r := planRows(p, m)
			row := 0
			for i := range r.count() {
				if r.start(i) != row {
					t.Fatalf("%s m=%d: tile %d starts at %d, want %d", p.name, m, i, r.start(i), row)
				}
				if row >= m {
					t.Fatalf("%s m=%d: tile %d starts at %d, past C", p.name, m, i, row)
				}
				row += r.tile(i).mr
			}
			if r.start(r.count()) != row || row < m {
				t.Fatalf("%s m=%d: tiles cover %d rows (start(count) %d)", p.name, m, row, r.start(r.count()))
			}
			if row-m >= r.main.mr {
				t.Errorf("%s m=%d: tiles cover %d rows", p.name, m, row)
			}
		}
	}
	if p := paths()[0]; p.name == "avx512" {
		r := planRows(p, 1024)
		if r.main.mr != 14 || r.start(r.count()) != 1024 {
			t.Errorf("avx512 m=1024: %d tiles of %d then %d more, covering %d rows", r.nMain, r.main.mr, r.nTail, r.start(r.count()))
		}
	}
}

// TestSchedule checks that the units of a product compute every tile of C
// exactly once per depth block, the depth blocks of each tile in order.
func TestSchedule(t *testing.T) {
	shapes := [][3]int{{300, 517, 129}, {64, 4096, 576}, {576, 64, 4096}, {13, 5000, 300}, {5000, 13, 300}, {3000, 9000, 1000}, {1024, 1024, 1024}}
	for _, p := range tilePaths() {
		for _, s := range shapes {
			for _, w := range []int{1, 2, 3, 8} {
				j := &job{p: p, m: s[0], n: s[1], k: s[2]}
				j.schedule(w)
				seen := make([]int, j.tiles*j.npan) // depth blocks done per (tile, panel)
				var total int64
				for q := range j.njc * j.nkb {
					units, _ := j.phaseUnits(q)
					total += int64(units)
					pc, kc := j.depth(q)
					pp0, pp1 := j.phasePanels(q)
					if kc <= 0 || pp1-pp0 > j.ncp {
						t.Fatalf("%s %v w=%d: phase %d (depth %d, %d panels) does not fit", p.name, s, w, q, kc, pp1-pp0)
					}
					for u := range units {
						t0, t1, p0, p1 := j.unitBounds(q, u)
						for ti := t0; ti < t1; ti++ {
							for pn := p0; pn < p1; pn++ {
								if pn < pp0 || pn >= pp1 || seen[ti*j.npan+pn] != pc {
									t.Fatalf("%s %v w=%d: tile %d panel %d gets depth %d after %d", p.name, s, w, ti, pn, pc, seen[ti*j.npan+pn])
								}
								seen[ti*j.npan+pn] = pc + kc
							}
						}
					}
				}
				for i, d := range seen {
					if d != j.k {
						t.Fatalf("%s %v w=%d: tile %d panel %d summed to depth %d of %d", p.name, s, w, i/j.npan, i%j.npan, d, j.k)
					}
				}
				if total != j.total {
					t.Errorf("%s %v w=%d: %d tickets, job says %d", p.name, s, w, total, j.total)
				}
			}
		}
	}
}

// TestTilesAgree checks that the tile kernels of a path give the same bits,
// whole or sticking out of C, so that results do not depend on which tiles
// cover a row.
func TestTilesAgree(t *testing.T) {
	for _, p := range paths() {
		if len(p.tiles) < 2 {
			continue
		}
		for _, tc := range gemmCases() {
			a, lda, b, ldb, c, ldc := tc.operands("tiles")
			restore := setPath(p)
			want := append([]float32(nil), c...)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			restore()
			for _, tk := range p.tiles {
				q := *p
				q.tiles = []tileKernel{tk}
				restore := setPath(&q)
				got := append([]float32(nil), c...)
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				restore()
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %v: %dx%d tiles alone differ at %d: %g vs %g", p.name, tc, tk.mr, p.nr, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestMulOperandsMatchesSgemm(t *testing.T) {
	for _, p := range paths() {
		restore := setPath(p)
		for _, tc := range gemmCases() {
			if tc.m*tc.n*tc.k < 1000 {
				continue
			}
			a, lda, b, ldb, c, ldc := tc.operands("operands")
			want := append([]float32(nil), c...)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			da := &Dense{a, lda, !tc.transA}
			db := &Dense{b, ldb, tc.transB}
			type mulFunc func(m, n, k int, alpha float32, a, b Operand, beta float32, c []float32, ldc int)
			for name, f := range map[string]mulFunc{"MulOperands": MulOperands, "MulOperandsSerial": MulOperandsSerial} {
				for _, wrap := range []bool{false, true} {
					var oa, ob Operand = da, db
					if wrap {
						// Hide the *Dense so the driver goes through Pack.
						oa, ob = struct{ Operand }{da}, struct{ Operand }{db}
					}
					got := append([]float32(nil), c...)
					f(tc.m, tc.n, tc.k, tc.alpha, oa, ob, tc.beta, got, ldc)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %v: %s (through Pack: %v) differs from Sgemm at %d: %g vs %g", p.name, tc, name, wrap, i, got[i], want[i])
						}
					}
				}
			}
		}
		restore()
	}
}

func TestZeroSizes(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
	if want := []float32{3, 6, 9, 12}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("k=0, beta=3: C = %v, want %v", c, want)
	}
	c = []float32{1, float32(math.NaN()), 3, 4}
	Sgemm(false, false, 2, 2, 3, 0, make([]float32, 6), 3, make([]float32, 6), 2, 0, c, 2)
	if want := []float32{0, 0, 0, 0}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("alpha=0, beta=0: C = %v, want %v", c, want)
	}
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 12)
	cases := []struct {
		name string
		f    func()
	}{
		{"short A", func() { Sgemm(false, false, 4, 3, 4, 1, a, 4, a, 3, 0, a, 3) }},
		{"small lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short C", func() { Sgemm(false, false, 3, 4, 2, 1, a, 2, a, 4, 0, a[:11], 4) }},
		{"negative", func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"nil operand", func() { MulOperands(1, 1, 1, 1, nil, nil, 0, a, 1) }},
		{"axpy short y", func() { Axpy(1, a, a[:3]) }},
		{"dot short y", func() { Dot(a, a[:3]) }},
	}
	for _, tc := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	s := rng.New(1, "allocs")
	const m, n, k = 200, 300, 150
	a, b, c := randSlice(s, m*k), randSlice(s, k*n), make([]float32, m*n)
	bt := randSlice(s, n*k)
	// Wrapped so that the driver goes through Pack; boxed once here.
	da, db := &Dense{a, k, true}, &Dense{b, n, false}
	var ao, bo Operand = struct{ Operand }{&Dense{a, k, true}}, struct{ Operand }{&Dense{bt, k, true}}
	x, y := randSlice(s, 1000), randSlice(s, 1000)
	for _, p := range paths() {
		restore := setPath(p)
		for name, f := range map[string]func(){
			"Sgemm":            func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) },
			"SgemmTT":          func() { Sgemm(true, true, m, n, k, 1, a, m, bt, k, 1, c, n) },
			"MulOperands":      func() { MulOperands(m, n, k, 1, ao, bo, 0, c, n) },
			"MulOperandsDense": func() { MulOperands(m, n, k, 1, da, db, 0, c, n) },
			"Axpy":             func() { Axpy(0.5, x, y) },
			"Dot":              func() { _ = Dot(x, y) },
		} {
			f() // warm up: workers and buffers
			if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
				t.Errorf("%s %s: %v allocations per call", p.name, name, allocs)
			}
		}
		restore()
	}
}

// TestKernelSelection checks that every available instruction set has its
// path and that Kernel names the active one.
func TestKernelSelection(t *testing.T) {
	all := paths()
	if len(all) != len(kernel.Available()) || all[len(all)-1] != genericPath {
		t.Fatalf("paths %d for instruction sets %v", len(all), kernel.Available())
	}
	for i, p := range all {
		if want := kernel.Available()[i].String(); p.name != want {
			t.Errorf("path %s for instruction set %s", p.name, want)
		}
		restore := setPath(p)
		if Kernel() != p.name {
			t.Errorf("Kernel() = %q with path %s", Kernel(), p.name)
		}
		restore()
	}
}
