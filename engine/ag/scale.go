package ag

import "github.com/degradiff/degradiff/internal/parallel"

// Scale returns s*x.
func (g *Graph) Scale(x *Var, s float32) *Var {
	out := g.AllocUninit(x.Value.Shape...)
	xd, od := x.Value.Data, out.Data
	parallel.For(len(od), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = s * xd[i]
		}
	})
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			gy := y.Grad.Data
			parallel.For(len(gy), 1<<15, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					gx.Data[i] += s * gy[i]
				}
			})
		}
	})
	return y
}
