package ag

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// MSE returns mean((pred-target)²), with shape [1].
func (g *Graph) MSE(pred, target *Var) *Var {
	return g.loss("MSE", lossSquare, pred, target, 0, nil)
}

// L1 returns mean(|pred-target|), with shape [1]. Its gradient is
// sign(pred-target), 0 where they are equal.
func (g *Graph) L1(pred, target *Var) *Var {
	return g.loss("L1", lossAbs, pred, target, 0, nil)
}

// Charbonnier returns mean(sqrt((pred-target)² + eps²)), with shape [1]: a
// smooth L1 loss.
func (g *Graph) Charbonnier(pred, target *Var, eps float32) *Var {
	return g.loss("Charbonnier", lossCharbonnier, pred, target, float64(eps)*float64(eps), nil)
}

// WeightedMSE returns the mean over the batch (dim 0) of perSample[n] times
// the mean squared error of sample n, with shape [1]: the loss of
// SNR-weighted diffusion training. perSample is copied.
func (g *Graph) WeightedMSE(pred, target *Var, perSample []float32) *Var {
	shape := pred.Value.Shape
	if len(shape) < 1 || len(perSample) != shape[0] {
		tensor.Fail("WeightedMSE", fmt.Sprintf("%d weights for the batch", len(perSample)), shape)
	}
	return g.loss("WeightedMSE", lossSquare, pred, target, 0, perSample)
}

type lossKind int

const (
	lossSquare lossKind = iota
	lossAbs
	lossCharbonnier
)

// lossGrain is the fixed chunk size of the loss sums.
const lossGrain = 1 << 14

func (g *Graph) loss(op string, kind lossKind, pred, target *Var, eps2 float64, weights []float32) *Var {
	shape := pred.Value.Shape
	tensor.Check(tensor.SameShape(shape, target.Value.Shape), op, "pred and target differ", shape, target.Value.Shape)
	total := len(pred.Value.Data)
	tensor.Check(total > 0, op, "empty input", shape)
	samples := 1
	if weights != nil {
		samples = shape[0]
	}
	l := lossLoop{kind: kind, eps2: eps2, m: total / samples, p: pred.Value.Data, t: target.Value.Data}
	l.cps = (l.m + lossGrain - 1) / lossGrain

	// Per-chunk sums in float64, added per sample in order.
	l.part = NewSlice[float64](g, samples*l.cps)
	parallel.Loop(samples*l.cps, 1, l)
	sum := 0.0
	for n := 0; n < samples; n++ {
		s := 0.0
		for j := 0; j < l.cps; j++ {
			s += l.part[n*l.cps+j]
		}
		if weights != nil {
			s *= float64(weights[n])
		}
		sum += s
	}
	l.part = nil
	out := g.AllocUninit(1)
	out.Data[0] = float32(sum / float64(total))
	y := g.Result(out, pred, target)
	if !y.requiresGrad {
		return y
	}
	if weights != nil {
		// The caller may reuse its slice before Backward.
		l.w = g.AllocUninit(samples).Data
		copy(l.w, weights)
	}
	n := New[lossNode](g)
	*n = lossNode{pred: pred, target: target, y: y, l: l, total: total, samples: samples}
	g.RecordNode(y, n)
	return y
}

// lossNode is the tape node of the losses.
type lossNode struct {
	pred, target, y *Var
	l               lossLoop
	total, samples  int
}

func (n *lossNode) Backward(g *Graph) {
	l := n.l
	if gp := g.GradOf(n.pred); gp != nil {
		l.gp = gp.Data
	}
	if gt := g.GradOf(n.target); gt != nil {
		l.gt = gt.Data
	}
	l.scale = float64(n.y.Grad.Data[0]) / float64(n.total)
	parallel.Loop(n.samples*l.cps, 1, l)
}

// lossLoop runs over chunks [lo, hi) of the loss, lossGrain elements or
// the rest of a sample each: it stores the chunk sums in part, or, in the
// backward pass (part nil), adds the gradients into gp and gt.
type lossLoop struct {
	kind   lossKind
	eps2   float64
	m, cps int // elements and chunks per sample
	p, t   []float32
	part   []float64

	w      []float32 // per-sample weights, or nil
	gp, gt []float32 // gradients of p and t, either may be nil
	scale  float64   // output gradient / number of elements
}

func (l *lossLoop) Run(lo, hi int) {
	for t := lo; t < hi; t++ {
		a := t/l.cps*l.m + t%l.cps*lossGrain
		b := min(a+lossGrain, (t/l.cps+1)*l.m)
		if l.part != nil {
			l.part[t] = lossSum(l.kind, l.p[a:b], l.t[a:b], l.eps2)
			continue
		}
		scale := l.scale
		if l.w != nil {
			scale *= float64(l.w[t/l.cps])
		}
		var gps, gts []float32
		if l.gp != nil {
			gps = l.gp[a:b]
		}
		if l.gt != nil {
			gts = l.gt[a:b]
		}
		lossGrad(l.kind, gps, gts, l.p[a:b], l.t[a:b], l.eps2, scale)
	}
}

// lossSum returns the float64 sum of the per-element loss over p and t.
func lossSum(kind lossKind, p, t []float32, eps2 float64) float64 {
	t = t[:len(p)]
	var s0, s1 float64
	i := 0
	switch kind {
	case lossSquare:
		for ; i+2 <= len(p); i += 2 {
			d0 := float64(p[i] - t[i])
			d1 := float64(p[i+1] - t[i+1])
			s0 += d0 * d0
			s1 += d1 * d1
		}
		if i < len(p) {
			d := float64(p[i] - t[i])
			s0 += d * d
		}
	case lossAbs:
		for ; i+2 <= len(p); i += 2 {
			s0 += math.Abs(float64(p[i] - t[i]))
			s1 += math.Abs(float64(p[i+1] - t[i+1]))
		}
		if i < len(p) {
			s0 += math.Abs(float64(p[i] - t[i]))
		}
	case lossCharbonnier:
		for ; i < len(p); i++ {
			d := float64(p[i] - t[i])
			s0 += math.Sqrt(d*d + eps2)
		}
	}
	return s0 + s1
}

// lossGrad adds scale·∂loss/∂d into gp and subtracts it from gt (either may
// be nil), where d = p-t.
func lossGrad(kind lossKind, gp, gt, p, t []float32, eps2, scale float64) {
	t = t[:len(p)]
	for i, pv := range p {
		d := pv - t[i]
		var v float32
		switch kind {
		case lossSquare:
			v = float32(2 * scale * float64(d))
		case lossAbs:
			switch {
			case d > 0:
				v = float32(scale)
			case d < 0:
				v = float32(-scale)
			}
		case lossCharbonnier:
			dd := float64(d)
			v = float32(scale * dd / math.Sqrt(dd*dd+eps2))
		}
		if gp != nil {
			gp[i] += v
		}
		if gt != nil {
			gt[i] -= v
		}
	}
}
