package c2st

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/rng"
)

func TestDbgGrad(t *testing.T) {
	s := rng.New(3, "g")
	m := newNet(4, s)
	x := tensor.New(4, 3, 16, 16)
	for i := range x.Data {
		x.Data[i] = float32(s.Float64())
	}
	y := []float32{0, 1, 0, 1}
	lossAt := func() float64 {
		g := ag.NewGraph(false)
		return float64(bceWithLogits(g, m.forward(g, ag.Const(x)), y).Value.Data[0])
	}
	g := ag.NewGraph(true)
	l := bceWithLogits(g, m.forward(g, ag.Const(x)), y)
	g.Backward(l)
	for _, p := range m.params() {
		for _, i := range []int{0, len(p.Value.Data) / 2, len(p.Value.Data) - 1} {
			old := p.Value.Data[i]
			h := float32(1e-2)
			p.Value.Data[i] = old + h
			lp := lossAt()
			p.Value.Data[i] = old - h
			lm := lossAt()
			p.Value.Data[i] = old
			fmt.Printf("%s[%d]: analytic %.6g numeric %.6g\n", p.Name, i, p.Grad.Data[i], (lp-lm)/(2*float64(h)))
		}
	}
}
