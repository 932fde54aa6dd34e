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
	tensor.Check(len(shape) >= 1 && len(perSample) == shape[0], "WeightedMSE",
		fmt.Sprintf("%d weights for the batch", len(perSample)), shape)
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
	m := total / samples
	cps := (m + lossGrain - 1) / lossGrain // chunks per sample
	pd, td := pred.Value.Data, target.Value.Data

	// Per-chunk sums in float64, added per sample in order.
	buf := reduceScratch(samples * cps)
	part := *buf
	parallel.For(samples*cps, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			a := t/cps*m + t%cps*lossGrain
			b := min(a+lossGrain, (t/cps+1)*m)
			part[t] = lossSum(kind, pd[a:b], td[a:b], eps2)
		}
	})
	sum := 0.0
	for n := 0; n < samples; n++ {
		s := 0.0
		for j := 0; j < cps; j++ {
			s += part[n*cps+j]
		}
		if weights != nil {
			s *= float64(weights[n])
		}
		sum += s
	}
	reduceScratchPool.Put(buf)
	out := g.AllocUninit(1)
	out.Data[0] = float32(sum / float64(total))
	y := g.Result(out, pred, target)
	if !y.requiresGrad {
		return y
	}
	var w []float32
	if weights != nil {
		// The caller may reuse its slice before Backward.
		w = g.AllocUninit(samples).Data
		copy(w, weights)
	}
	g.Record(y, func() {
		gp, gt := g.GradOf(pred), g.GradOf(target)
		var gpd, gtd []float32
		if gp != nil {
			gpd = gp.Data
		}
		if gt != nil {
			gtd = gt.Data
		}
		base := float64(y.Grad.Data[0]) / float64(total)
		parallel.For(samples*cps, 1, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				a := t/cps*m + t%cps*lossGrain
				b := min(a+lossGrain, (t/cps+1)*m)
				scale := base
				if w != nil {
					scale *= float64(w[t/cps])
				}
				var gps, gts []float32
				if gpd != nil {
					gps = gpd[a:b]
				}
				if gtd != nil {
					gts = gtd[a:b]
				}
				lossGrad(kind, gps, gts, pd[a:b], td[a:b], eps2, scale)
			}
		})
	})
	return y
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
