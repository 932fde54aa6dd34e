package ag_test

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

var linearCases = []struct {
	x    []int
	out  int
	bias bool
}{
	{[]int{5, 7}, 3, true},
	{[]int{5, 7}, 3, false},
	{[]int{2, 3, 4}, 6, true},
	{[]int{4}, 2, true},
	{[]int{1, 1}, 1, false},
}

func linearF(g *ag.Graph, in []*ag.Var) *ag.Var {
	var b *ag.Var
	if len(in) > 2 {
		b = in[2]
	}
	return g.Linear(in[0], in[1], b)
}

func linearInputs(xs []int, out int, bias bool) []*tensor.Tensor {
	in := []*tensor.Tensor{agtest.Random(1, xs...), agtest.Random(2, out, xs[len(xs)-1])}
	if bias {
		in = append(in, agtest.Random(3, out))
	}
	return in
}

func TestLinear(t *testing.T) {
	for _, c := range linearCases {
		t.Run(fmt.Sprintf("x%v_out%d_bias%v", c.x, c.out, c.bias), func(t *testing.T) {
			in := linearInputs(c.x, c.out, c.bias)
			vars := []*ag.Var{ag.Const(in[0]), ag.Const(in[1])}
			if c.bias {
				vars = append(vars, ag.Const(in[2]))
			}
			got := linearF(ag.NewGraph(false), vars).Value
			nin := c.x[len(c.x)-1]
			wantShape := append(append([]int(nil), c.x[:len(c.x)-1]...), c.out)
			if !tensor.SameShape(got.Shape, wantShape) {
				t.Fatalf("shape %v, want %v", got.Shape, wantShape)
			}
			want := tensor.New(wantShape...)
			for r := 0; r < len(in[0].Data)/nin; r++ {
				for o := 0; o < c.out; o++ {
					s := 0.0
					if c.bias {
						s = float64(in[2].Data[o])
					}
					for i := 0; i < nin; i++ {
						s += float64(in[0].Data[r*nin+i]) * float64(in[1].Data[o*nin+i])
					}
					want.Data[r*c.out+o] = float32(s)
				}
			}
			if d := tensor.MaxAbsDiff(got, want); d > 1e-6 {
				t.Errorf("max |linear - loops| = %.3g, want <= 1e-6", d)
			}
			agtest.GradCheck(t, linearF, in, agtest.Options{Tol: 2e-3})
		})
	}
	t.Run("frozen_weight", func(t *testing.T) {
		agtest.GradCheck(t, linearF, linearInputs([]int{3, 5}, 4, true), agtest.Options{Tol: 2e-3, Const: []int{1}})
	})
}

func TestLinearDeterministic(t *testing.T) {
	bitIdenticalAtProcs(t, linearF, linearInputs([]int{3, 700, 33}, 17, true))
}

// matmulRef returns op(a)*op(b) for 2-D a and b, in float64.
func matmulRef(a, b []float32, as, bs []int, transA, transB bool) ([]float64, int, int) {
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	n := bs[1]
	if transB {
		n = bs[0]
	}
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*as[1]+i])
		}
		return float64(a[i*as[1]+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*bs[1]+p])
		}
		return float64(b[p*bs[1]+j])
	}
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				c[i*n+j] += at(i, p) * bt(p, j)
			}
		}
	}
	return c, m, n
}

// matmulShapes returns the stored shapes of a and b for op(a) = m x k and
// op(b) = k x n.
func matmulShapes(m, k, n int, transA, transB bool) (as, bs []int) {
	as, bs = []int{m, k}, []int{k, n}
	if transA {
		as = []int{k, m}
	}
	if transB {
		bs = []int{n, k}
	}
	return
}

func TestMatMul(t *testing.T) {
	for _, m := range []int{1, 3} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			transA, transB := tr[0], tr[1]
			t.Run(fmt.Sprintf("m%d_tA%v_tB%v", m, transA, transB), func(t *testing.T) {
				as, bs := matmulShapes(m, 5, 4, transA, transB)
				a, b := agtest.Random(1, as...), agtest.Random(2, bs...)
				got := ag.NewGraph(false).MatMul(ag.Const(a), ag.Const(b), transA, transB).Value
				want, wm, wn := matmulRef(a.Data, b.Data, as, bs, transA, transB)
				if !tensor.SameShape(got.Shape, []int{wm, wn}) {
					t.Fatalf("shape %v, want [%d %d]", got.Shape, wm, wn)
				}
				for i, w := range want {
					if d := float64(got.Data[i]) - w; d > 1e-6 || d < -1e-6 {
						t.Fatalf("element %d = %v, want %v", i, got.Data[i], w)
					}
				}
				agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var {
					return g.MatMul(in[0], in[1], transA, transB)
				}, []*tensor.Tensor{a, b}, agtest.Options{Tol: 2e-3})
			})
		}
	}
	expectShapeError(t, "MatMul", func() {
		ag.NewGraph(false).MatMul(ag.Const(tensor.New(3, 4)), ag.Const(tensor.New(3, 4)), false, false)
	})
}

func TestBatchMatMul(t *testing.T) {
	const nb = 3
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		transA, transB := tr[0], tr[1]
		t.Run(fmt.Sprintf("tA%v_tB%v", transA, transB), func(t *testing.T) {
			as, bs := matmulShapes(4, 3, 5, transA, transB)
			a := agtest.Random(1, append([]int{nb}, as...)...)
			b := agtest.Random(2, append([]int{nb}, bs...)...)
			got := ag.NewGraph(false).BatchMatMul(ag.Const(a), ag.Const(b), transA, transB).Value
			if !tensor.SameShape(got.Shape, []int{nb, 4, 5}) {
				t.Fatalf("shape %v, want [%d 4 5]", got.Shape, nb)
			}
			sa, sb := len(a.Data)/nb, len(b.Data)/nb
			for i := 0; i < nb; i++ {
				want, _, _ := matmulRef(a.Data[i*sa:(i+1)*sa], b.Data[i*sb:(i+1)*sb], as, bs, transA, transB)
				for j, w := range want {
					if d := float64(got.Data[i*20+j]) - w; d > 1e-6 || d < -1e-6 {
						t.Fatalf("batch %d element %d = %v, want %v", i, j, got.Data[i*20+j], w)
					}
				}
			}
			f := func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.BatchMatMul(in[0], in[1], transA, transB) }
			agtest.GradCheck(t, f, []*tensor.Tensor{a, b}, agtest.Options{Tol: 2e-3})
			bitIdenticalAtProcs(t, f, []*tensor.Tensor{a, b})
		})
	}
	expectShapeError(t, "BatchMatMul", func() {
		ag.NewGraph(false).BatchMatMul(ag.Const(tensor.New(2, 3, 4)), ag.Const(tensor.New(3, 4, 5)), false, false)
	})
}
