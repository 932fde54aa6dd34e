package ag

// Scale returns s*x.
func (g *Graph) Scale(x *Var, s float32) *Var { return g.unary(unaryScale, x, s) }
