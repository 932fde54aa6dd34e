package sampler

import (
	"fmt"
	"slices"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// DDIM is diffusers' DDIMScheduler (Song et al. 2021): it steps from t to
// t - T/n along the DDIM update, deterministic for Eta 0 and DDPM-like
// noise for Eta 1. SetTimesteps must be called before Step.
type DDIM struct {
	// Eta scales the noise added at each step (0: deterministic DDIM).
	Eta float64
	// UseClippedModelOutput recomputes the noise from the clipped x0, as
	// diffusers' use_clipped_model_output step argument.
	UseClippedModelOutput bool
	// TailSteps, when above 1, splits the step between the last two
	// timesteps of the schedule into this many equal steps (set it before
	// SetTimesteps). With 50 steps the step from timestep 20 to 0 is
	// mostly the model's estimate of the clean image, a conditional mean
	// smoother than the images it learnt; smaller steps there keep their
	// fine noise and detail (docs/MODEL_CARD.md, "A finer last step").
	// Not a diffusers option: 0 or 1 is diffusers' schedule.
	TailSteps int

	cfg       schedule.Config
	sched     *schedule.Schedule
	timesteps []int
	numSteps  int
	tail      []int   // the end of timesteps after the timestep the tail starts from
	finalAcp  float32 // alpha-bar after the last step
}

// NewDDIM returns a deterministic (Eta 0) DDIM scheduler for cfg resolved
// as a DDIMScheduler.
func NewDDIM(cfg schedule.Config) (*DDIM, error) {
	cfg, err := cfg.Resolve(schedule.DDIMClass)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := schedule.New(cfg)
	if err != nil {
		return nil, err
	}
	d := &DDIM{cfg: cfg, sched: s, finalAcp: 1}
	if !cfg.SetAlphaToOne {
		d.finalAcp = s.AlphasCumprod[0]
	}
	return d, nil
}

// SetTimesteps sets n inference steps spaced by timestep_spacing, and the
// TailSteps-1 extra timesteps of the tail before the last one.
func (d *DDIM) SetTimesteps(n int) error {
	ts, err := schedule.Timesteps(d.cfg.TimestepSpacing, d.cfg.NumTrainTimesteps, n, d.cfg.StepsOffset)
	if err != nil {
		return err
	}
	d.tail = nil
	if k := d.TailSteps; k > 1 {
		if len(ts) < 2 {
			return fmt.Errorf("sampler: DDIM tail_steps %d needs at least 2 inference steps, not %d", k, len(ts))
		}
		hi, lo := ts[len(ts)-2], ts[len(ts)-1]
		if hi-lo < k {
			return fmt.Errorf("sampler: DDIM tail_steps %d is more than the %d timesteps between the last two (%d and %d)", k, hi-lo, hi, lo)
		}
		list := make([]int, 0, len(ts)+k-1)
		list = append(list, ts[:len(ts)-1]...)
		for j := 1; j <= k; j++ {
			list = append(list, hi-(hi-lo)*j/k)
		}
		ts, d.tail = list, list[len(list)-k:]
	} else if k < 0 {
		return fmt.Errorf("sampler: DDIM tail_steps %d is negative", k)
	}
	d.timesteps, d.numSteps = ts, n
	return nil
}

// prevTimestep returns the timestep after t: t - T/n as diffusers has it
// (below 0 after the last), or from the tail's first timestep on the next
// timestep of the tail.
func (d *DDIM) prevTimestep(t int) int {
	if d.tail == nil {
		return t - d.cfg.NumTrainTimesteps/d.numSteps
	}
	from := d.timesteps[len(d.timesteps)-len(d.tail)-1:] // the tail's start, then the tail
	if t > from[0] {
		return t - d.cfg.NumTrainTimesteps/d.numSteps
	}
	if i := slices.Index(from, t); i >= 0 && i+1 < len(from) {
		return from[i+1]
	}
	return -1
}

// Timesteps returns the timesteps (nil before SetTimesteps).
func (d *DDIM) Timesteps() []int { return slices.Clone(d.timesteps) }

// Order returns 1.
func (d *DDIM) Order() int { return 1 }

// Reset does nothing: DDIM keeps no history.
func (d *DDIM) Reset() {}

// Schedule returns the noise schedule.
func (d *DDIM) Schedule() *schedule.Schedule { return d.sched }

// Config returns the resolved configuration.
func (d *DDIM) Config() schedule.Config { return d.cfg }

// Step implements Scheduler. noise is needed only when Eta > 0.
func (d *DDIM) Step(modelOutput, sample *tensor.Tensor, t int, noise NoiseSource) (*tensor.Tensor, error) {
	prev, _, err := d.StepX0(modelOutput, sample, t, noise)
	return prev, err
}

// StepX0 is Step that also returns the predicted x0 after clipping or
// thresholding (diffusers' pred_original_sample).
func (d *DDIM) StepX0(modelOutput, sample *tensor.Tensor, t int, noise NoiseSource) (prev, x0 *tensor.Tensor, err error) {
	if d.numSteps == 0 {
		return nil, nil, fmt.Errorf("sampler: DDIM.Step: call SetTimesteps first")
	}
	if err := checkStep("DDIM.Step", modelOutput, sample, t, d.sched.Len(), false); err != nil {
		return nil, nil, err
	}
	if d.Eta > 0 && noise == nil {
		return nil, nil, fmt.Errorf("sampler: DDIM.Step: eta %g needs a noise source", d.Eta)
	}
	// Scalars in float32, in diffusers' order of operations.
	p := d.prevTimestep(t)
	acpT, acpPrev := d.sched.AlphasCumprod[t], d.finalAcp
	if p >= 0 {
		acpPrev = d.sched.AlphasCumprod[p]
	}
	betaT := 1 - acpT
	betaPrev := 1 - acpPrev
	sa, sb := sqrtF32(acpT), sqrtF32(betaT)

	n := len(sample.Data)
	xd, md := sample.Data, modelOutput.Data[:n]
	x0 = predictX0F32(d.cfg.PredictionType, modelOutput, sample, acpT)
	eps := tensor.New(sample.Shape...)
	ed := eps.Data[:n]
	switch d.cfg.PredictionType {
	case schedule.Sample:
		pd := x0.Data[:n]
		each(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ed[i] = (xd[i] - float32(sa*pd[i])) / sb
			}
		})
	case schedule.VPrediction:
		each(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ed[i] = float32(sa*md[i]) + float32(sb*xd[i])
			}
		})
	default:
		copy(ed, md)
	}
	fixX0(x0, d.cfg, true)
	pd := x0.Data[:n]

	variance := (betaPrev / betaT) * (1 - acpT/acpPrev)
	std := float32(d.Eta) * sqrtF32(variance)
	if d.UseClippedModelOutput {
		each(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ed[i] = (xd[i] - float32(sa*pd[i])) / sb
			}
		})
	}
	cdir := sqrtF32(1 - acpPrev - float32(std*std))
	cx0 := sqrtF32(acpPrev)
	prev = tensor.New(sample.Shape...)
	od := prev.Data[:n]
	each(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = float32(cx0*pd[i]) + float32(cdir*ed[i])
		}
	})
	if d.Eta > 0 {
		z := tensor.New(sample.Shape...)
		noise.FillNormal(z.Data, 1)
		zd := z.Data[:n]
		each(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] += float32(std * zd[i])
			}
		})
	}
	return prev, x0, nil
}
