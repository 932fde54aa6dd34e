package unet

import (
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/rng"
)

// TestTrainStepAllocatesNothing checks that after warm-up a training step
// as train/ddpm runs it (forward with dropout, MSE, backward, gradient
// clipping, AdamW, zeroing the gradients, EMA, graph Reset) allocates
// nothing on the heap.
func TestTrainStepAllocatesNothing(t *testing.T) {
	c := testConfig()
	c.Dropout = 0.1
	m := MustNew(c, rng.New(1, "alloc"))
	m.Dropout = rng.New(2, "dropout")
	params := m.Params()
	opt, err := optim.NewAdamW(params, optim.DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	ema, err := optim.NewEMA(params, optim.DefaultEMA())
	if err != nil {
		t.Fatal(err)
	}
	x := ag.Const(randomTensor(1, 2, 3, 16, 16))
	target := ag.Const(randomTensor(2, 2, 3, 16, 16))
	steps := []float32{10, 700}
	g := ag.NewGraph(true)
	step := func() {
		loss := g.MSE(m.Forward(g, x, steps), target)
		g.Backward(loss)
		g.Reset()
		optim.ClipGradNorm(params, 1)
		opt.Step()
		ag.ZeroGrad(params)
		ema.Step()
	}
	for _, prec := range []gemm.Precision{gemm.FP32, gemm.BF16} {
		restore := gemm.SetPrecision(prec)
		for _, procs := range []int{1, 2} {
			if n := agtest.StepAllocs(procs, step); n != 0 {
				t.Errorf("%v, GOMAXPROCS %d: %v heap allocations per training step, want 0", prec, procs, n)
			}
		}
		restore()
	}
}
