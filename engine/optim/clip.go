package optim

import (
	"math"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/internal/parallel"
)

// normChunk is the fixed length of the pieces whose sums of squares are
// added in order, so the norm does not depend on the number of workers.
const normChunk = 1 << 14

// GradNorm returns the Euclidean norm of the gradients of params that
// require one and have one, accumulated in float64 in a fixed order.
func GradNorm(params []*ag.Var) float64 {
	var segs []segment
	for i, p := range params {
		if p.RequiresGrad() && p.Grad != nil {
			for lo := 0; lo < len(p.Grad.Data); lo += normChunk {
				segs = append(segs, segment{i, lo, min(lo+normChunk, len(p.Grad.Data))})
			}
		}
	}
	partial := make([]float64, len(segs))
	parallel.For(len(segs), 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			s := segs[k]
			s2 := 0.0
			for _, g := range params[s.p].Grad.Data[s.lo:s.hi] {
				s2 += float64(g) * float64(g)
			}
			partial[k] = s2
		}
	})
	total := 0.0
	for _, s2 := range partial {
		total += s2
	}
	return math.Sqrt(total)
}

// ClipGradNorm rescales the gradients of params in place so that their
// joint norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_: with
// total the norm before clipping, the gradients are multiplied by
// maxNorm/(total+1e-6) when that factor is below 1. It returns total.
//
// Parameters that are frozen or have no gradient are ignored. As in
// PyTorch, a non-finite total (an overflow or NaN in some gradient) is
// returned and spreads into every gradient; callers should check it and
// skip the step.
func ClipGradNorm(params []*ag.Var, maxNorm float64) (total float64) {
	total = GradNorm(params)
	coef := maxNorm / (total + 1e-6)
	if coef >= 1 {
		return total
	}
	c := float32(coef)
	for _, p := range params {
		if !p.RequiresGrad() || p.Grad == nil {
			continue
		}
		g := p.Grad.Data
		parallel.For(len(g), normChunk, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g[i] *= c
			}
		})
	}
	return total
}
