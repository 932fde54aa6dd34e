package optim_test

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
)

// A training loop: minimise (w-3)² with AdamW under a cosine schedule,
// clipping the gradient and keeping an EMA of the weight.
func Example() {
	w := ag.Param("w", tensor.FromData([]float32{0}, 1))
	params := []*ag.Var{w}
	cfg := optim.DefaultAdamW()
	baseLR := 0.1
	opt, err := optim.NewAdamW(params, cfg)
	if err != nil {
		panic(err)
	}
	sched, err := optim.ParseSchedule("cosine", 10, 300)
	if err != nil {
		panic(err)
	}
	ema, err := optim.NewEMA(params, optim.DefaultEMA())
	if err != nil {
		panic(err)
	}
	g := ag.NewGraph(true)
	for step := 0; step < 300; step++ {
		loss := g.Sum(g.Square(g.AddScalar(w, -3)))
		g.Backward(loss)
		optim.ClipGradNorm(params, 1)
		opt.Config.LR = baseLR * sched(step)
		opt.Step()
		ema.Step()
		ag.ZeroGrad(params)
		g.Reset()
	}
	fmt.Printf("w = %.2f, EMA decay %.4f\n", w.Value.Data[0], ema.LastDecay())
	// Output: w = 2.99, EMA decay 0.9861
}
