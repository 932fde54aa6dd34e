package conv

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

// eps32 is the float32 unit roundoff.
const eps32 = 1.0 / (1 << 24)

// ref holds float64 results and, per element, the sum of the magnitudes of
// its terms and their count, which bound the float32 rounding error.
type ref struct {
	v, mag []float64
	terms  int
}

func newRef(n int) ref { return ref{v: make([]float64, n), mag: make([]float64, n)} }

func (r *ref) add(i int, t float64) {
	r.v[i] += t
	r.mag[i] += math.Abs(t)
}

// tol is the error bound of element i: (terms+2) roundings of its
// magnitude, the classic bound for any summation order with or without
// fused multiply-adds, the +2 for the initial value and the bias.
func (r *ref) tol(i int) float64 { return float64(r.terms+2) * eps32 * r.mag[i] }

// reference computes the three operations in float64 from the definition,
// starting from the initial contents of y, dx, dw and db (the backward
// passes accumulate; Forward overwrites y).
func reference(s Shape, x, w, bias, dy, dx0, dw0, db0 []float32) (y, dx, dw, db ref) {
	ho, wo := s.Out()
	y, dx, dw, db = newRef(s.N*s.Cout*ho*wo), newRef(len(dx0)), newRef(len(dw0)), newRef(len(db0))
	for i, v := range dx0 {
		dx.add(i, float64(v))
	}
	for i, v := range dw0 {
		dw.add(i, float64(v))
	}
	for i, v := range db0 {
		db.add(i, float64(v))
	}
	y.terms = s.Cin * s.K * s.K
	dx.terms = s.Cout * s.K * s.K
	dw.terms = s.N * ho * wo
	db.terms = s.N * ho * wo
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					yi := ((n*s.Cout+co)*ho+oy)*wo + ox
					g := float64(dy[yi])
					if bias != nil {
						y.add(yi, float64(bias[co]))
					}
					db.add(co, g)
					for ci := 0; ci < s.Cin; ci++ {
						for ky := 0; ky < s.K; ky++ {
							iy := oy*s.Stride + ky - s.Pad
							if iy < 0 || iy >= s.H {
								continue
							}
							for kx := 0; kx < s.K; kx++ {
								ix := ox*s.Stride + kx - s.Pad
								if ix < 0 || ix >= s.W {
									continue
								}
								xi := ((n*s.Cin+ci)*s.H+iy)*s.W + ix
								wi := ((co*s.Cin+ci)*s.K+ky)*s.K + kx
								y.add(yi, float64(x[xi])*float64(w[wi]))
								dx.add(xi, g*float64(w[wi]))
								dw.add(wi, g*float64(x[xi]))
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw, db
}

func randSlice(s *rng.Stream, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(s.Uniform(-1, 1))
	}
	return x
}

// shapes returns the test table: batch 1-3, channels 1-19, odd sizes,
// kernels 1 to 7 (even ones too), strides 1 to 3, padding 0 to 3, and a few larger
// shapes that exercise several blocks of the products.
func shapes() []Shape {
	var ss []Shape
	for i, kp := range [][3]int{ // K, stride, pad
		{1, 1, 0}, {1, 2, 0}, {1, 1, 1}, {3, 1, 1}, {3, 1, 0}, {3, 2, 1}, {3, 2, 0}, {5, 1, 2}, {5, 2, 2}, {3, 1, 2}, {5, 1, 0},
		{2, 2, 0}, {4, 1, 2}, {2, 1, 0}, {7, 3, 3}, // even kernels work too
	} {
		for j, sz := range [][5]int{ // N, Cin, Cout, H, W
			{1, 1, 1, 7, 9}, {2, 3, 5, 9, 7}, {3, 19, 2, 6, 11}, {1, 4, 19, 13, 5}, {2, 17, 18, 8, 8},
		} {
			if (i+j)%2 == 1 && j > 1 {
				continue // keep the table quick
			}
			ss = append(ss, Shape{N: sz[0], Cin: sz[1], Cout: sz[2], H: sz[3], W: sz[4], K: kp[0], Stride: kp[1], Pad: kp[2]})
		}
	}
	return append(ss,
		Shape{N: 2, Cin: 48, Cout: 19, H: 21, W: 35, K: 3, Stride: 1, Pad: 1}, // several k blocks, rows across panels
		Shape{N: 3, Cin: 16, Cout: 40, H: 17, W: 33, K: 3, Stride: 2, Pad: 1},
		Shape{N: 1, Cin: 40, Cout: 33, H: 24, W: 32, K: 1, Stride: 1, Pad: 0},
		Shape{N: 2, Cin: 8, Cout: 8, H: 5, W: 5, K: 3, Stride: 1, Pad: 0},
		Shape{N: 1, Cin: 3, Cout: 4, H: 3, W: 4, K: 3, Stride: 1, Pad: 0}, // 1x2 output
		Shape{N: 2, Cin: 2, Cout: 3, H: 5, W: 1, K: 1, Stride: 2, Pad: 0}, // phase planes with no columns
		Shape{N: 1, Cin: 2, Cout: 3, H: 1, W: 6, K: 3, Stride: 3, Pad: 1},
	)
}

// operands returns random inputs for s and random initial gradients.
func operands(s Shape) (x, w, bias, dy, dx, dw, db []float32) {
	r := rng.New(7, "conv", fmt.Sprint(s))
	ho, wo := s.Out()
	return randSlice(r, s.N*s.Cin*s.H*s.W), randSlice(r, s.Cout*s.Cin*s.K*s.K), randSlice(r, s.Cout),
		randSlice(r, s.N*s.Cout*ho*wo), randSlice(r, s.N*s.Cin*s.H*s.W), randSlice(r, s.Cout*s.Cin*s.K*s.K), randSlice(r, s.Cout)
}

// check compares got with the float64 reference and with the naive float32
// loops, and returns the largest error as a fraction of the bound.
func check(t *testing.T, what string, s Shape, got []float32, r ref, naive []float32) float64 {
	t.Helper()
	worst := 0.0
	for i, v := range got {
		d := math.Abs(float64(v) - r.v[i])
		tol := r.tol(i)
		if !(d <= tol) {
			t.Fatalf("%s %+v: element %d = %g, want %g (error %.3g > bound %.3g)", what, s, i, v, r.v[i], d, tol)
		}
		if dn := math.Abs(float64(v) - float64(naive[i])); !(dn <= 2*tol) {
			t.Fatalf("%s %+v: element %d = %g, naive loops %g (|diff| %.3g > %.3g)", what, s, i, v, naive[i], dn, 2*tol)
		}
		if tol > 0 {
			worst = max(worst, d/tol)
		}
	}
	return worst
}

func TestConv(t *testing.T) {
	worst := map[string]float64{}
	for _, s := range shapes() {
		x, w, bias, dy, dx0, dw0, db0 := operands(s)
		ry, rdx, rdw, rdb := reference(s, x, w, bias, dy, dx0, dw0, db0)
		ho, wo := s.Out()

		for _, b := range [][]float32{bias, nil} {
			y := make([]float32, s.N*s.Cout*ho*wo)
			for i := range y {
				y[i] = float32(math.NaN()) // Forward must overwrite
			}
			ny := make([]float32, len(y))
			Forward(s, x, w, b, y)
			naiveForward(s, x, w, b, ny)
			if b == nil {
				ry, _, _, _ = reference(s, x, w, nil, dy, dx0, dw0, db0)
			}
			worst["Forward"] = max(worst["Forward"], check(t, "Forward", s, y, ry, ny))
		}

		dx := append([]float32(nil), dx0...)
		ndx := append([]float32(nil), dx0...)
		BackwardData(s, dy, w, dx)
		naiveBackwardData(s, dy, w, ndx)
		worst["BackwardData"] = max(worst["BackwardData"], check(t, "BackwardData", s, dx, rdx, ndx))
		checkBackwardDataSet(t, s, dy, w)

		dw := append([]float32(nil), dw0...)
		db := append([]float32(nil), db0...)
		ndw := append([]float32(nil), dw0...)
		ndb := append([]float32(nil), db0...)
		BackwardWeight(s, x, dy, dw, db)
		naiveBackwardWeight(s, x, dy, ndw, ndb)
		worst["BackwardWeight"] = max(worst["BackwardWeight"], check(t, "BackwardWeight", s, dw, rdw, ndw))
		worst["bias gradient"] = max(worst["bias gradient"], check(t, "BackwardWeight db", s, db, rdb, ndb))

		dw2 := append([]float32(nil), dw0...)
		BackwardWeight(s, x, dy, dw2, nil)
		for i := range dw2 {
			if dw2[i] != dw[i] {
				t.Fatalf("BackwardWeight %+v: dw differs with db == nil", s)
			}
		}
	}
	t.Logf("kernel %s: largest error as a fraction of the bound: %v", gemm.Kernel(), worst)
}

// TestKernelPaths reruns TestConv in a child process for every kernel path
// of package gemm, chosen with DEGRADIFF_KERNEL.
func TestKernelPaths(t *testing.T) {
	if os.Getenv("DEGRADIFF_KERNEL") != "" {
		t.Skip("already running under a forced kernel")
	}
	for _, k := range []string{"generic", "avx2", "avx512"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConv$|^TestDeterministic$|^TestWinograd$|^TestWinogradDeterministic$|^TestWinogradTiles$", "-test.v")
		cmd.Env = append(os.Environ(), "DEGRADIFF_KERNEL="+k)
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), "not supported on this machine") {
			t.Logf("%s: not supported here", k)
			continue
		}
		if err != nil {
			t.Fatalf("DEGRADIFF_KERNEL=%s: %v\n%s", k, err, out)
		}
		if !strings.Contains(string(out), "kernel "+k+":") {
			t.Fatalf("DEGRADIFF_KERNEL=%s: child did not run the %s path:\n%s", k, k, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "largest error") {
				t.Log(strings.TrimSpace(line))
			}
		}
	}
}

// TestDeterministic checks that results do not depend on GOMAXPROCS.
func TestDeterministic(t *testing.T) {
	checkDeterministic(t, []Shape{
		{N: 3, Cin: 24, Cout: 40, H: 30, W: 34, K: 3, Stride: 1, Pad: 1},
		{N: 1, Cin: 24, Cout: 40, H: 40, W: 33, K: 3, Stride: 2, Pad: 1},
		{N: 4, Cin: 64, Cout: 32, H: 16, W: 16, K: 1, Stride: 1, Pad: 0},
	})
	t.Logf("kernel %s: deterministic", gemm.Kernel())
}

// checkDeterministic runs the three operations on each shape with
// GOMAXPROCS 1 to 4 and fails unless every result is the same bits.
func checkDeterministic(t *testing.T, shapes []Shape) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, s := range shapes {
		x, w, bias, dy, dx0, dw0, db0 := operands(s)
		var first [][]float32
		for _, procs := range []int{1, 2, 3, 4} {
			runtime.GOMAXPROCS(procs)
			ho, wo := s.Out()
			y := make([]float32, s.N*s.Cout*ho*wo)
			dx := append([]float32(nil), dx0...)
			dw := append([]float32(nil), dw0...)
			db := append([]float32(nil), db0...)
			Forward(s, x, w, bias, y)
			BackwardData(s, dy, w, dx)
			BackwardWeight(s, x, dy, dw, db)
			got := [][]float32{y, dx, dw, db}
			if first == nil {
				first = got
				continue
			}
			for k, name := range []string{"y", "dx", "dw", "db"} {
				for i := range got[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(first[k][i]) {
						t.Fatalf("%+v: %s[%d] with GOMAXPROCS=%d differs from GOMAXPROCS=1: %g vs %g", s, name, i, procs, got[k][i], first[k][i])
					}
				}
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	checkNoAllocs(t, []Shape{
		{N: 4, Cin: 16, Cout: 16, H: 20, W: 20, K: 3, Stride: 1, Pad: 1},
		{N: 1, Cin: 16, Cout: 16, H: 20, W: 20, K: 3, Stride: 2, Pad: 1},
		{N: 2, Cin: 16, Cout: 16, H: 20, W: 20, K: 1, Stride: 1, Pad: 0},
	})
}

// checkNoAllocs fails unless the three operations on each shape allocate
// nothing once they have run twice.
func checkNoAllocs(t *testing.T, shapes []Shape) {
	t.Helper()
	for _, s := range shapes {
		x, w, bias, dy, dx, dw, db := operands(s)
		ho, wo := s.Out()
		y := make([]float32, s.N*s.Cout*ho*wo)
		for name, f := range map[string]func(){
			"Forward":        func() { Forward(s, x, w, bias, y) },
			"BackwardData":   func() { BackwardData(s, dy, w, dx) },
			"BackwardWeight": func() { BackwardWeight(s, x, dy, dw, db) },
		} {
			f()
			f()
			if a := testing.AllocsPerRun(10, f); a != 0 {
				t.Errorf("%s %+v: %v allocations per call", name, s, a)
			}
		}
	}
}

func TestEmptyAndPanics(t *testing.T) {
	// No input channels: y is the bias, dw has nothing to add to, db does.
	s := Shape{N: 2, Cin: 0, Cout: 2, H: 3, W: 3, K: 3, Stride: 1, Pad: 1}
	y := make([]float32, 2*2*9)
	Forward(s, nil, nil, []float32{1, 2}, y)
	for i, v := range y {
		if want := float32(1 + i/9%2); v != want {
			t.Fatalf("Cin=0: y[%d] = %v, want %v", i, v, want)
		}
	}
	dy := make([]float32, len(y))
	for i := range dy {
		dy[i] = 1
	}
	db := []float32{0, 0}
	BackwardWeight(s, nil, dy, nil, db)
	if db[0] != 18 || db[1] != 18 {
		t.Errorf("Cin=0: db = %v, want [18 18]", db)
	}
	Forward(Shape{N: 0, Cin: 1, Cout: 1, H: 1, W: 1, K: 1, Stride: 1}, nil, []float32{1}, nil, nil)

	good := Shape{N: 1, Cin: 2, Cout: 3, H: 4, W: 4, K: 3, Stride: 1, Pad: 1}
	x, w, bias, dy2, dx, dw, db2 := operands(good)
	for name, f := range map[string]func(){
		"stride 0":        func() { Forward(Shape{N: 1, Cin: 1, Cout: 1, H: 3, W: 3, K: 1}, x, w, nil, make([]float32, 9)) },
		"kernel too big":  func() { Forward(Shape{N: 1, Cin: 1, Cout: 1, H: 2, W: 2, K: 3, Stride: 1}, x, w, nil, x) },
		"short y":         func() { Forward(good, x, w, bias, make([]float32, 47)) },
		"short w":         func() { BackwardData(good, dy2, w[:10], dx) },
		"short dw":        func() { BackwardWeight(good, x, dy2, dw[:5], db2) },
		"short db":        func() { BackwardWeight(good, x, dy2, dw, db2[:2]) },
		"negative pad":    func() { BackwardData(Shape{N: 1, Cin: 1, Cout: 1, H: 3, W: 3, K: 1, Stride: 1, Pad: -1}, dy2, w, dx) },
		"short bias":      func() { Forward(good, x, w, bias[:1], make([]float32, 48)) },
		"short x":         func() { Forward(good, x[:31], w, nil, make([]float32, 48)) },
		"short dx":        func() { BackwardData(good, dy2, w, dx[:3]) },
		"negative height": func() { BackwardWeight(Shape{N: 1, Cin: 1, Cout: 1, H: -3, W: 3, K: 1, Stride: 1}, x, dy2, dw, nil) },
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

// checkBackwardDataSet checks that BackwardDataSet overwrites whatever dx
// held (NaN here) with what BackwardData adds into zeros, exactly.
func checkBackwardDataSet(t *testing.T, s Shape, dy, w []float32) {
	t.Helper()
	want := make([]float32, s.N*s.Cin*s.H*s.W)
	BackwardData(s, dy, w, want)
	got := make([]float32, len(want))
	for i := range got {
		got[i] = float32(math.NaN())
	}
	BackwardDataSet(s, dy, w, got)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("BackwardDataSet %+v: element %d = %g, BackwardData into zeros %g", s, i, got[i], want[i])
		}
	}
}
