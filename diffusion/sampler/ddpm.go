package sampler

import (
	"fmt"
	"math"
	"slices"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// DDPM is diffusers' DDPMScheduler (Ho et al. 2020): ancestral sampling
// from the posterior q(x_{t'} | x_t, x0) with x0 predicted by the model.
//
// Without SetTimesteps it steps from t to t-1 over all training timesteps;
// with SetTimesteps(n) it steps from t to t - T/n (integer division, even
// for the linspace and trailing spacings, as diffusers does).
type DDPM struct {
	cfg       schedule.Config
	sched     *schedule.Schedule
	timesteps []int
	numSteps  int // 0 until SetTimesteps
}

// NewDDPM returns a DDPM scheduler for cfg resolved as a DDPMScheduler.
// Supported variance types: fixed_small, fixed_small_log, fixed_large,
// learned and learned_range (fixed_large_log gives NaN noise in diffusers
// and is rejected).
func NewDDPM(cfg schedule.Config) (*DDPM, error) {
	cfg, err := cfg.Resolve(schedule.DDPMClass)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.VarianceType {
	case "fixed_small", "fixed_small_log", "fixed_large", "learned", "learned_range":
	default:
		return nil, fmt.Errorf("sampler: DDPM variance_type %q is not supported (fixed_small, fixed_small_log, fixed_large, learned, learned_range)", cfg.VarianceType)
	}
	s, err := schedule.New(cfg)
	if err != nil {
		return nil, err
	}
	d := &DDPM{cfg: cfg, sched: s}
	d.timesteps = make([]int, s.Len())
	for i := range d.timesteps {
		d.timesteps[i] = s.Len() - 1 - i
	}
	return d, nil
}

// SetTimesteps sets n inference steps spaced by timestep_spacing.
func (d *DDPM) SetTimesteps(n int) error {
	ts, err := schedule.Timesteps(d.cfg.TimestepSpacing, d.cfg.NumTrainTimesteps, n, d.cfg.StepsOffset)
	if err != nil {
		return err
	}
	d.timesteps, d.numSteps = ts, n
	return nil
}

// Timesteps returns the timesteps: all training timesteps, decreasing,
// until SetTimesteps is called.
func (d *DDPM) Timesteps() []int { return slices.Clone(d.timesteps) }

// Order returns 1.
func (d *DDPM) Order() int { return 1 }

// Reset does nothing: DDPM keeps no history.
func (d *DDPM) Reset() {}

// Schedule returns the noise schedule.
func (d *DDPM) Schedule() *schedule.Schedule { return d.sched }

// Config returns the resolved configuration.
func (d *DDPM) Config() schedule.Config { return d.cfg }

// prev returns the timestep a step from t goes to (negative for "before 0").
func (d *DDPM) prev(t int) int {
	n := d.numSteps
	if n == 0 {
		n = d.cfg.NumTrainTimesteps
	}
	return t - d.cfg.NumTrainTimesteps/n
}

// alphas returns acp[t] and acp[prev(t)], the latter 1 before timestep 0.
func (d *DDPM) alphas(t int) (acpT, acpPrev float32) {
	acpT, acpPrev = d.sched.AlphasCumprod[t], 1
	if p := d.prev(t); p >= 0 {
		acpPrev = d.sched.AlphasCumprod[p]
	}
	return acpT, acpPrev
}

// Variance returns the fixed_small posterior variance of the step from t,
// (1-acp[t'])/(1-acp[t]) * (1 - acp[t]/acp[t']) clamped at 1e-20, in
// float32 as diffusers computes it. The step adds noise with standard
// deviation sqrt(Variance(t)) for t > 0.
func (d *DDPM) Variance(t int) float32 {
	acpT, acpPrev := d.alphas(t)
	beta := 1 - acpT/acpPrev
	return max((1-acpPrev)/(1-acpT)*beta, 1e-20)
}

// Step implements Scheduler: it draws noise for t > 0 (noise must then be
// non-nil).
func (d *DDPM) Step(modelOutput, sample *tensor.Tensor, t int, noise NoiseSource) (*tensor.Tensor, error) {
	prev, _, err := d.StepX0(modelOutput, sample, t, noise)
	return prev, err
}

// StepX0 is Step that also returns the model's prediction of x0 after
// clipping or thresholding (diffusers' pred_original_sample).
func (d *DDPM) StepX0(modelOutput, sample *tensor.Tensor, t int, noise NoiseSource) (prev, x0 *tensor.Tensor, err error) {
	learned := d.cfg.VarianceType == "learned" || d.cfg.VarianceType == "learned_range"
	if err := checkStep("DDPM.Step", modelOutput, sample, t, d.sched.Len(), learned); err != nil {
		return nil, nil, err
	}
	var predVar *tensor.Tensor
	if learned {
		if !tensor.SameShape(modelOutput.Shape, sample.Shape) {
			modelOutput, predVar = splitChannels(modelOutput)
		} else {
			return nil, nil, fmt.Errorf("sampler: DDPM.Step: variance_type %s needs a model output with %d channels, got %v", d.cfg.VarianceType, 2*sample.Shape[1], modelOutput.Shape)
		}
	}
	if t > 0 && noise == nil {
		return nil, nil, fmt.Errorf("sampler: DDPM.Step: t=%d needs a noise source", t)
	}

	// Scalars in float32, in diffusers' order of operations.
	acpT, acpPrev := d.alphas(t)
	betaT := 1 - acpT
	betaPrev := 1 - acpPrev
	curAlpha := acpT / acpPrev
	curBeta := 1 - curAlpha

	x0 = predictX0F32(d.cfg.PredictionType, modelOutput, sample, acpT)
	fixX0(x0, d.cfg, true)

	cx0 := sqrtF32(acpPrev) * curBeta / betaT
	cx := sqrtF32(curAlpha) * betaPrev / betaT
	prev = tensor.New(sample.Shape...)
	xd, pd, od := sample.Data, x0.Data[:len(sample.Data)], prev.Data[:len(sample.Data)]
	each(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = float32(cx0*pd[i]) + float32(cx*xd[i])
		}
	})
	if t == 0 {
		return prev, x0, nil
	}

	z := tensor.New(sample.Shape...)
	noise.FillNormal(z.Data, 1)
	zd := z.Data[:len(od)]
	fixedSmall := max((1-acpPrev)/(1-acpT)*curBeta, 1e-20)
	switch d.cfg.VarianceType {
	case "fixed_small", "fixed_large", "fixed_small_log":
		std := sqrtF32(fixedSmall)
		switch d.cfg.VarianceType {
		case "fixed_large":
			std = sqrtF32(curBeta)
		case "fixed_small_log":
			std = float32(math.Exp(float64(0.5 * float32(math.Log(float64(fixedSmall))))))
		}
		each(len(od), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] += float32(std * zd[i])
			}
		})
	case "learned":
		vd := predVar.Data[:len(od)]
		each(len(od), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] += float32(sqrtF32(vd[i]) * zd[i])
			}
		})
	case "learned_range":
		minLog := float64(float32(math.Log(float64(fixedSmall))))
		maxLog := float64(float32(math.Log(float64(curBeta))))
		vd := predVar.Data[:len(od)]
		each(len(od), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				frac := (float64(vd[i]) + 1) / 2
				logVar := frac*maxLog + (1-frac)*minLog
				od[i] += float32(math.Exp(0.5*logVar)) * zd[i]
			}
		})
	}
	return prev, x0, nil
}

// predictX0F32 returns the model's x0 prediction in float32 torch order:
// epsilon (x - sqrt(1-acp)*eps)/sqrt(acp), sample as is, or v
// sqrt(acp)*x - sqrt(1-acp)*v.
func predictX0F32(pt schedule.Prediction, mo, x *tensor.Tensor, acpT float32) *tensor.Tensor {
	out := tensor.New(x.Shape...)
	sa, sb := sqrtF32(acpT), sqrtF32(1-acpT)
	md, xd, od := mo.Data[:len(x.Data)], x.Data, out.Data[:len(x.Data)]
	switch pt {
	case schedule.Sample:
		copy(od, md)
	case schedule.VPrediction:
		each(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = float32(sa*xd[i]) - float32(sb*md[i])
			}
		})
	default:
		each(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = (xd[i] - float32(sb*md[i])) / sa
			}
		})
	}
	return out
}

// sqrtF32 is a correctly rounded float32 square root (torch's x ** 0.5).
func sqrtF32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
