package ag_test

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
)

// TestStepAllocatesNothing checks that once a graph's pools and arenas are
// filled, a training step (forward, backward, Reset) allocates nothing on
// the heap, for every operation, with the loops run inline (GOMAXPROCS 1)
// or on the worker pool (2).
func TestStepAllocatesNothing(t *testing.T) {
	params, steps := opSteps()
	for _, s := range steps {
		g := ag.NewGraph(true)
		step := func() {
			g.Backward(s.loss(g))
			g.Reset()
			ag.ZeroGrad(params)
		}
		for _, procs := range []int{1, 2} {
			if n := agtest.StepAllocs(procs, step); n != 0 {
				t.Errorf("%s, GOMAXPROCS %d: %v heap allocations per step, want 0", s.name, procs, n)
			}
		}
	}
}

// TestGradientsIgnorePoolContents checks that no backward pass reads an
// activation gradient it did not write: after a Reset that leaves NaN in
// every pooled buffer, the same step gives the same parameter gradients.
func TestGradientsIgnorePoolContents(t *testing.T) {
	params, steps := opSteps()
	for _, s := range steps {
		g := ag.NewGraph(true)
		g.Backward(s.loss(g))
		want := make([][]float32, len(params))
		for i, p := range params {
			if p.Grad != nil {
				want[i] = append([]float32(nil), p.Grad.Data...)
			}
		}
		g.Reset()
		ag.ZeroGrad(params)
		ag.PoisonPool(g)
		g.Backward(s.loss(g))
		for i, p := range params {
			if p.Grad == nil {
				continue
			}
			for j, v := range p.Grad.Data {
				if v != want[i][j] {
					t.Fatalf("%s: gradient of %s[%d] = %g after a poisoned Reset, %g before", s.name, p.Name, j, v, want[i][j])
				}
			}
		}
		g.Reset()
		ag.ZeroGrad(params)
	}
}

// opStep is a training step's loss using every kind of operation.
type opStep struct {
	name string
	loss func(g *ag.Graph) *ag.Var
}

// opSteps returns parameters and losses that together use every operation
// of the package.
func opSteps() ([]*ag.Var, []opStep) {
	var params []*ag.Var
	p := func(seed uint64, shape ...int) *ag.Var {
		v := ag.Param(fmt.Sprint("p", seed), agtest.Random(seed, shape...))
		params = append(params, v)
		return v
	}
	x := p(1, 2, 8, 12, 12)
	w, b := p(2, 16, 8, 3, 3), p(3, 16)
	wd := p(4, 16, 16, 3, 3)
	gamma, beta := p(5, 16), p(6, 16)
	wq, wk, wv, bq := p(7, 16, 16), p(8, 16, 16), p(9, 16, 16), p(10, 16)
	target := ag.Const(agtest.Random(11, 2, 32, 12, 12))
	weights := []float32{1, 0.5}

	steps := []opStep{
		{"conv, norm, attention", func(g *ag.Graph) *ag.Var {
			h := g.GroupNormSiLU(g.Conv2d(x, w, b, 1, 1), gamma, beta, 4, 1e-5)
			n := g.GroupNorm(h, gamma, beta, 4, 1e-5)
			tok := g.Permute(g.Reshape(n, 2, 16, -1), 0, 2, 1) // [2, 144, 16]
			a := g.Attention(g.Linear(tok, wq, bq), g.Linear(tok, wk, nil), g.Linear(tok, wv, nil), 2)
			back := g.Reshape(g.Permute(a, 0, 2, 1), 2, 16, 12, 12)
			down := g.Conv2d(g.Add(h, back), wd, nil, 2, 1) // [2, 16, 6, 6]
			return g.MSE(g.Concat(1, g.UpsampleNearest2x(down), h), target)
		}},
		{"elementwise and reductions", func(g *ag.Graph) *ag.Var {
			h := g.Mul(g.Sub(x, g.Scale(x, 0.5)), g.Reshape(gamma, 2, 8, 1, 1))
			h = g.Sqrt(g.AddScalar(g.Square(g.Tanh(h)), 1))
			h = g.Add(g.Sigmoid(h), g.LeakyReLU(g.ReLU(g.SiLU(h)), 0.1))
			s := g.Softmax(g.SumAxes(h, true, 2), 1) // [2, 8, 1, 12]
			m := g.MeanAxes(g.Mul(h, s), false, 0, 3)
			l := g.Add(g.L1(h, g.Scale(h, 0.9)), g.WeightedMSE(h, g.Scale(h, 0.5), weights))
			return g.Add(g.Sum(m), g.Mean(l))
		}},
		{"resampling and layout", func(g *ag.Graph) *ag.Var {
			h := g.Crop2d(g.Pad2dReflect(x, 1, 2, 3, 1), 1, 0, 12, 12)
			h = g.AvgPool2d(g.PixelShuffle(g.PixelUnshuffle(h, 2), 2), 2) // [2, 8, 6, 6]
			parts := g.Split(h, 1, 3, 5)
			a := g.Reshape(parts[0], 6, 6, 6)
			mm := g.MatMul(g.Reshape(g.BatchMatMul(a, a, false, true), 36, 6), g.Reshape(parts[1], 6, 60), false, false)
			return g.Charbonnier(mm, g.Scale(mm, 0.5), 1e-3)
		}},
	}
	return params, steps
}
