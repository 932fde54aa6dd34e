package sampler

import (
	"fmt"
	"math"
	"slices"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// grain is the number of elements per parallel chunk of an element-wise
// update: large enough that goroutine overhead is negligible.
const grain = 1 << 14

// each runs body over [0, n) in parallel chunks.
func each(n int, body func(lo, hi int)) { parallel.For(n, grain, body) }

// checkStep validates the arguments of a Step: a batch-first sample, a model
// output with the same shape (or twice its channels when learned is set),
// and a training timestep.
func checkStep(op string, modelOutput, sample *tensor.Tensor, t, numTrain int, learned bool) error {
	if modelOutput == nil || sample == nil {
		return fmt.Errorf("sampler: %s: nil tensor", op)
	}
	if t < 0 || t >= numTrain {
		return fmt.Errorf("sampler: %s: timestep %d outside [0, %d)", op, t, numTrain)
	}
	if tensor.SameShape(modelOutput.Shape, sample.Shape) {
		return nil
	}
	if learned && len(sample.Shape) >= 2 && len(modelOutput.Shape) == len(sample.Shape) && modelOutput.Shape[1] == 2*sample.Shape[1] {
		rest := slices.Clone(modelOutput.Shape)
		rest[1] = sample.Shape[1]
		if tensor.SameShape(rest, sample.Shape) {
			return nil
		}
	}
	return &tensor.ShapeError{Op: "sampler." + op, Msg: "model output vs sample", Shapes: [][]int{modelOutput.Shape, sample.Shape}}
}

// splitChannels splits a [B, 2C, ...] tensor into its first and second C
// channels (the mean and the variance outputs of a learned-variance model).
func splitChannels(x *tensor.Tensor) (first, second *tensor.Tensor) {
	shape := slices.Clone(x.Shape)
	shape[1] /= 2
	first, second = tensor.New(shape...), tensor.New(shape...)
	per := tensor.Numel(shape[1:]) // one half of one batch item
	for b := range shape[0] {
		copy(first.Data[b*per:(b+1)*per], x.Data[2*b*per:(2*b+1)*per])
		copy(second.Data[b*per:(b+1)*per], x.Data[(2*b+1)*per:(2*b+2)*per])
	}
	return first, second
}

// clampInPlace limits every element of x to [-r, r].
func clampInPlace(x *tensor.Tensor, r float32) {
	d := x.Data
	each(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = min(max(d[i], -r), r)
		}
	})
}

// thresholdInPlace applies Imagen's dynamic thresholding (Saharia et al.
// 2022) to each batch item of x as diffusers' _threshold_sample does: s is
// the ratio-quantile of |x| (linear interpolation, like torch.quantile),
// clamped to [1, maxValue], and x becomes clamp(x, -s, s)/s.
func thresholdInPlace(x *tensor.Tensor, ratio, maxValue float64) {
	batch := x.Shape[0]
	if batch == 0 {
		return
	}
	per := len(x.Data) / batch
	abs := make([]float64, per)
	for b := range batch {
		d := x.Data[b*per : (b+1)*per]
		for i, v := range d {
			abs[i] = math.Abs(float64(v))
		}
		slices.Sort(abs)
		s := quantileSorted(abs, ratio)
		s = min(max(s, 1), maxValue)
		s32 := float32(s)
		for i, v := range d {
			d[i] = min(max(v, -s32), s32) / s32
		}
	}
}

// quantileSorted is torch.quantile's linear interpolation on sorted data.
func quantileSorted(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := q * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	w := rank - float64(lo)
	a, b := sorted[lo], sorted[hi]
	if w < 0.5 {
		return a + w*(b-a)
	}
	return b - (b-a)*(1-w)
}

// fixX0 applies the configured clipping or thresholding to a predicted x0.
func fixX0(x0 *tensor.Tensor, cfg schedule.Config, clip bool) {
	switch {
	case cfg.Thresholding:
		thresholdInPlace(x0, cfg.DynamicThresholdingRatio, cfg.SampleMaxValue)
	case clip && cfg.ClipSample:
		clampInPlace(x0, float32(cfg.ClipSampleRange))
	}
}

// indexOf returns the position of t in ts, or len(ts)-1 when t is absent,
// which is how diffusers' multistep schedulers locate a step.
func indexOf(ts []int, t int) int {
	if i := slices.Index(ts, t); i >= 0 {
		return i
	}
	return len(ts) - 1
}

// combine returns, element-wise in float64 rounded to float32,
//
//	cx*x + cm*m0 + sum_k w[k]*(ms[k] - m0)
//
// the shape shared by every multistep update (the differences are kept so
// that the history enters as divided differences, as in diffusers).
func combine(x, m0 *tensor.Tensor, ms []*tensor.Tensor, cx, cm float64, w []float64) *tensor.Tensor {
	out := tensor.New(x.Shape...)
	xd, md, od := x.Data, m0.Data[:len(x.Data)], out.Data[:len(x.Data)]
	switch len(ms) {
	case 0:
		each(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = float32(cx*float64(xd[i]) + cm*float64(md[i]))
			}
		})
	case 1:
		m1, w1 := ms[0].Data[:len(xd)], w[0]
		each(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				m := float64(md[i])
				od[i] = float32(cx*float64(xd[i]) + cm*m + w1*(float64(m1[i])-m))
			}
		})
	default:
		hist := make([][]float32, len(ms))
		for k, t := range ms {
			hist[k] = t.Data[:len(xd)]
		}
		each(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				m := float64(md[i])
				acc := cx*float64(xd[i]) + cm*m
				for k, h := range hist {
					acc += w[k] * (float64(h[i]) - m)
				}
				od[i] = float32(acc)
			}
		})
	}
	return out
}

// solve returns the solution of the small dense system a*x = b by Gaussian
// elimination with partial pivoting (torch.linalg.solve for UniPC's
// coefficients). a is row-major n x n and is overwritten.
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	x := slices.Clone(b)
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if a[p][c] == 0 {
			return nil, fmt.Errorf("sampler: singular %dx%d system", n, n)
		}
		a[c], a[p] = a[p], a[c]
		x[c], x[p] = x[p], x[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < n; k++ {
				a[r][k] -= f * a[c][k]
			}
			x[r] -= f * x[c]
		}
	}
	for r := n - 1; r >= 0; r-- {
		for k := r + 1; k < n; k++ {
			x[r] -= a[r][k] * x[k]
		}
		x[r] /= a[r][r]
	}
	return x, nil
}

// vpPoint is a noise level of a variance-preserving schedule:
// x = alpha*x0 + sigma*eps, lambda = log(alpha/sigma).
type vpPoint struct{ alpha, sigma, lambda float64 }

// pointAt returns the noise level of timestep t.
func pointAt(s *schedule.Schedule, t int) vpPoint {
	a, sg, l := s.VP(t)
	return vpPoint{a, sg, l}
}

// stepTarget returns the noise level a multistep solver's step from
// timesteps[idx] goes to: the next timestep, or after the last one the clean
// sample (final_sigmas_type "zero") or timestep 0 ("sigma_min").
func stepTarget(s *schedule.Schedule, cfg schedule.Config, timesteps []int, idx int) vpPoint {
	switch {
	case idx < len(timesteps)-1:
		return pointAt(s, timesteps[idx+1])
	case cfg.FinalSigmasType == schedule.FinalZero:
		return vpPoint{alpha: 1, sigma: 0, lambda: math.Inf(1)}
	default:
		return pointAt(s, 0)
	}
}
