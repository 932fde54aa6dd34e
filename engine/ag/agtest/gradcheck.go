// Package agtest checks the gradients of ag operations against finite
// differences.
package agtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
)

// Func builds an output from inputs on graph g.
type Func func(g *ag.Graph, in []*ag.Var) *ag.Var

// Options tunes GradCheck.
type Options struct {
	Step float64 // finite-difference step (default 1e-2)
	// Tol bounds |analytic - numeric| / max(1, |numeric|) (default 1e-2).
	Tol float64
	// MaxProbe bounds how many elements per input are probed (default 64,
	// chosen at fixed pseudo-random positions); 0 keeps the default.
	MaxProbe int
	// Const lists the inputs that get no gradient (e.g. integer indices).
	Const []int
}

// Random returns a tensor of the given shape with values uniform in [-1, 1)
// from a fixed seed.
func Random(seed uint64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(2*r.Float64() - 1)
	}
	return t
}

// GradCheck compares the gradient of L = sum(R * f(inputs)), for a fixed
// random R, with central finite differences. L is accumulated in float64 so
// that the numeric derivative is limited by float32 rounding of f alone.
func GradCheck(t *testing.T, f Func, inputs []*tensor.Tensor, opt Options) {
	t.Helper()
	if opt.Step == 0 {
		opt.Step = 1e-2
	}
	if opt.Tol == 0 {
		opt.Tol = 1e-2
	}
	if opt.MaxProbe == 0 {
		opt.MaxProbe = 64
	}
	isConst := map[int]bool{}
	for _, i := range opt.Const {
		isConst[i] = true
	}
	build := func(g *ag.Graph) ([]*ag.Var, *ag.Var) {
		vars := make([]*ag.Var, len(inputs))
		for i, in := range inputs {
			if isConst[i] {
				vars[i] = ag.Const(in)
			} else {
				vars[i] = ag.Param(fmt.Sprintf("in%d", i), in)
			}
		}
		return vars, f(g, vars)
	}
	// Analytic gradients.
	g := ag.NewGraph(true)
	vars, out := build(g)
	R := Random(99, out.Value.Shape...)
	loss := weightedSum(g, out, R)
	g.Backward(loss)
	loss64 := func() float64 {
		g := ag.NewGraph(false)
		_, o := build(g)
		s := 0.0
		for i, v := range o.Value.Data {
			s += float64(R.Data[i]) * float64(v)
		}
		return s
	}
	for i, in := range inputs {
		if isConst[i] {
			continue
		}
		grad := vars[i].Grad
		if grad == nil {
			grad = tensor.New(in.Shape...)
		}
		r := rand.New(rand.NewPCG(uint64(i), 7))
		probes := len(in.Data)
		for p := 0; p < min(probes, opt.MaxProbe); p++ {
			j := p
			if probes > opt.MaxProbe {
				j = r.IntN(probes)
			}
			orig := in.Data[j]
			in.Data[j] = orig + float32(opt.Step)
			plus := loss64()
			in.Data[j] = orig - float32(opt.Step)
			minus := loss64()
			in.Data[j] = orig
			// Use the step actually applied in float32.
			h := float64(orig+float32(opt.Step)) - float64(orig-float32(opt.Step))
			num := (plus - minus) / h
			ana := float64(grad.Data[j])
			if err := math.Abs(ana-num) / math.Max(1, math.Abs(num)); err > opt.Tol || math.IsNaN(ana) {
				t.Errorf("input %d element %d (shape %v): analytic %.6g, numeric %.6g (rel err %.3g > %.3g)", i, j, in.Shape, ana, num, err, opt.Tol)
				return
			}
		}
	}
}

// weightedSum returns sum(R*x) as a scalar node whose backward adds R to x's
// gradient.
func weightedSum(g *ag.Graph, x *ag.Var, R *tensor.Tensor) *ag.Var {
	out := g.Alloc(1)
	s := 0.0
	for i, v := range x.Value.Data {
		s += float64(R.Data[i]) * float64(v)
	}
	out.Data[0] = float32(s)
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			gy := y.Grad.Data[0]
			for i := range gx.Data {
				gx.Data[i] += gy * R.Data[i]
			}
		}
	})
	return y
}
