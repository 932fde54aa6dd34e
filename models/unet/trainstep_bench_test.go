package unet

import (
	"testing"

	"github.com/degradiff/degradiff/engine/conv"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/rng"
)

// BenchmarkTrainStepCPU64 times one full training step of the cpu preset at
// 64x64 with batch 8, as bench/unet_vs_torch.py compares with PyTorch:
// forward, MSE against a target, backward and an AdamW update (with the
// trainer's hyperparameters), gradients zeroed for the next step. Gradient
// clipping, EMA and data loading are left out. It reports samples/s. After
// the first step it allocates nothing (see TestTrainStepAllocatesNothing).
// It runs in each precision of the products: BF16 is the mixed-precision
// step (float32 weights, gradients and optimizer; bf16 factors in the
// convolutions' and linear layers' products).
func BenchmarkTrainStepCPU64(b *testing.B) {
	for _, prec := range precisions() {
		for _, wino := range []bool{true, false} {
			name := prec.String()
			if !wino {
				name += "/im2col" // Winograd off, for comparison
			}
			b.Run(name, func(b *testing.B) {
				defer gemm.SetPrecision(prec)()
				defer conv.SetWinograd(wino)()
				benchTrainStepCPU64(b)
			})
		}
	}
}

func benchTrainStepCPU64(b *testing.B) {
	const batch, size = 8, 64
	// A model of its own: the optimizer changes its weights.
	m := MustNew(CPUConfig(), rng.New(1, "bench", "trainstep"))
	opt, err := optim.NewAdamW(m.Params(), optim.AdamWConfig{LR: 1e-4, Beta1: 0.95, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-6})
	if err != nil {
		b.Fatal(err)
	}
	x := ag.Const(randomTensor(1, batch, 3, size, size))
	target := ag.Const(randomTensor(2, batch, 3, size, size))
	steps := []float32{10, 90, 170, 250, 330, 410, 450, 499}
	g := ag.NewGraph(true)
	step := func() {
		g.Backward(g.MSE(m.Forward(g, x, steps), target))
		g.Reset()
		opt.Step()
		ag.ZeroGrad(m.Params())
	}
	step() // allocates the optimizer state and fills the graph's pool
	agtest.PrimeWaiters()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
}
