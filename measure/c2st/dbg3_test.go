package c2st

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/rng"
)

func TestDbgOverfit(t *testing.T) {
	s := rng.New(3, "g")
	m := newNet(8, s)
	x := tensor.New(16, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(s.Float64())
	}
	y := make([]float32, 16)
	for i := range y {
		y[i] = float32(i % 2)
	}
	params := m.params()
	cfg := optim.DefaultAdamW()
	o, _ := optim.NewAdamW(params, cfg)
	g := ag.NewGraph(true)
	for step := 0; step < 300; step++ {
		l := bceWithLogits(g, m.forward(g, ag.Const(x)), y)
		if step%30 == 0 {
			fmt.Println(step, l.Value.Data[0])
		}
		g.Backward(l)
		o.Step()
		ag.ZeroGrad(params)
		g.Reset()
	}
}
