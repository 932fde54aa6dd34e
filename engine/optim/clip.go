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
	j := newNormJob(params)
	defer j.free()
	return j.norm()
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
	j := newNormJob(params)
	defer j.free()
	total = j.norm()
	coef := maxNorm / (total + 1e-6)
	if coef >= 1 {
		return total
	}
	j.clip, j.scale = true, float32(coef)
	parallel.ForBody(len(j.segs), 1, j)
	return total
}

// normJob holds the segments of the gradients of GradNorm and ClipGradNorm
// and their partial sums of squares. Jobs are recycled, so that a training
// step calling them allocates nothing.
type normJob struct {
	params  []*ag.Var
	segs    []segment // the gradients in pieces of at most normChunk
	partial []float64 // per segment: its sum of squares
	clip    bool      // Run scales the segments by scale, not sum squares
	scale   float32
}

// normJobs recycles jobs without allocating (see parallel.FreeList).
var normJobs parallel.FreeList[normJob]

func newNormJob(params []*ag.Var) *normJob {
	j := normJobs.Get()
	j.params, j.segs, j.clip = params, j.segs[:0], false
	for i, p := range params {
		if p.RequiresGrad() && p.Grad != nil {
			for lo := 0; lo < len(p.Grad.Data); lo += normChunk {
				j.segs = append(j.segs, segment{i, lo, min(lo+normChunk, len(p.Grad.Data))})
			}
		}
	}
	if cap(j.partial) < len(j.segs) {
		j.partial = make([]float64, len(j.segs))
	}
	j.partial = j.partial[:len(j.segs)]
	return j
}

func (j *normJob) free() {
	j.params = nil
	normJobs.Put(j)
}

// norm returns the square root of the sum, in segment order, of the
// segments' sums of squares.
func (j *normJob) norm() float64 {
	parallel.ForBody(len(j.segs), 1, j)
	total := 0.0
	for _, s2 := range j.partial {
		total += s2
	}
	return math.Sqrt(total)
}

// Run sums the squares of segments [lo, hi) or, with clip, scales them.
func (j *normJob) Run(lo, hi int) {
	for k := lo; k < hi; k++ {
		s := j.segs[k]
		g := j.params[s.p].Grad.Data[s.lo:s.hi]
		if j.clip {
			for i := range g {
				g[i] *= j.scale
			}
			continue
		}
		s2 := 0.0
		for _, v := range g {
			s2 += float64(v) * float64(v)
		}
		j.partial[k] = s2
	}
}
