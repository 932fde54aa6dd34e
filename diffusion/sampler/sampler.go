// Package sampler implements diffusers' (v0.21) discrete-time schedulers
// that turn a noise-prediction model into a sampler: DDPM, DDIM, UniPC
// (UniPCMultistepScheduler) and DPM-Solver++ (DPMSolverMultistepScheduler).
//
// All of them share the Scheduler interface, so that an SDEdit-style
// img2img loop reads
//
//	s.SetTimesteps(50)
//	ts := s.Timesteps()[sampler.Img2ImgStart(50, strength):]
//	x := s.Schedule().AddNoise(lq, noise, ts[:1])
//	for _, t := range ts {
//		eps := model(x, t)
//		x, err = s.Step(eps, x, t, rnd)
//	}
//
// which Img2Img implements. A scheduler is stateful (the multistep solvers
// keep a history of model outputs) and not safe for concurrent use: create
// one per goroutine.
//
// Precision: DDPM and DDIM repeat torch's float32 arithmetic operation by
// operation (so they match diffusers to the last bit or close to it); UniPC
// and DPM-Solver compute their coefficients and every element in float64
// from the float32 schedule tables and store samples and model-output
// history as float32. Random numbers come only from the NoiseSource the
// caller passes, so results are deterministic and independent of
// GOMAXPROCS.
package sampler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// NoiseSource supplies standard normal noise for the stochastic steps.
// *rng.Stream implements it.
type NoiseSource interface {
	// FillNormal fills dst with independent normal numbers of mean 0 and
	// standard deviation std.
	FillNormal(dst []float32, std float64)
}

// NoiseFunc adapts a function to NoiseSource, for example to replay noise
// recorded from another implementation.
type NoiseFunc func(dst []float32, std float64)

// FillNormal calls f(dst, std).
func (f NoiseFunc) FillNormal(dst []float32, std float64) { f(dst, std) }

// Scheduler is one diffusion sampler.
type Scheduler interface {
	// SetTimesteps chooses n inference steps and resets the solver state.
	SetTimesteps(n int) error
	// Timesteps returns a copy of the current timesteps, in the order
	// they are stepped (decreasing).
	Timesteps() []int
	// Step takes the model output at timestep t for sample and returns the
	// sample at the next timestep of the schedule. noise is used by
	// stochastic steps only and may be nil otherwise. Step does not modify
	// its arguments.
	Step(modelOutput, sample *tensor.Tensor, t int, noise NoiseSource) (*tensor.Tensor, error)
	// Order is the number of model evaluations per step (1 for all the
	// schedulers here, as in diffusers).
	Order() int
	// Reset clears the multistep history, keeping the timesteps.
	Reset()
	// Schedule returns the noise schedule (for AddNoise).
	Schedule() *schedule.Schedule
	// Config returns the resolved configuration.
	Config() schedule.Config
}

// Scheduler names accepted by New, with their diffusers classes.
var classes = map[string]string{
	"ddpm":  schedule.DDPMClass,
	"ddim":  schedule.DDIMClass,
	"unipc": schedule.UniPCClass,
	"dpmpp": schedule.DPMSolverClass,
}

// Names returns the scheduler names New accepts, sorted.
func Names() []string {
	var out []string
	for n := range classes {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// New returns the scheduler called name ("ddpm", "ddim", "unipc" or
// "dpmpp"), configured by cfg resolved for its diffusers class (see
// schedule.Config.Resolve). A diffusers class name is accepted as well.
func New(name string, cfg schedule.Config) (Scheduler, error) {
	class, err := ClassOf(name)
	if err != nil {
		return nil, err
	}
	switch class {
	case schedule.DDPMClass:
		return NewDDPM(cfg)
	case schedule.DDIMClass:
		return NewDDIM(cfg)
	case schedule.UniPCClass:
		return NewUniPC(cfg)
	default:
		return NewDPMSolver(cfg)
	}
}

// ClassOf returns the diffusers class of the scheduler New would make for
// name, for callers that check settings before they have a configuration.
func ClassOf(name string) (string, error) {
	if class, ok := classes[strings.ToLower(name)]; ok {
		return class, nil
	}
	for _, c := range classes {
		if c == name {
			return c, nil
		}
	}
	return "", fmt.Errorf("sampler: unknown scheduler %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// Img2ImgStart returns the index of the first timestep an img2img run with
// numSteps inference steps and the given strength uses, as diffusers'
// get_timesteps computes it: init = min(int(numSteps*strength), numSteps)
// steps are run, so the run starts at numSteps-init. Multiply by the
// scheduler's Order to index Timesteps. Strength 1 starts from the first
// timestep (pure noise); strength 0 (or less, or NaN) gives numSteps: no
// step is run and Img2Img returns its input unchanged.
func Img2ImgStart(numSteps int, strength float64) int {
	if numSteps <= 0 || !(strength > 0) {
		return max(numSteps, 0)
	}
	f := float64(numSteps) * strength // rounded like Python's float product
	init := numSteps
	if f < float64(numSteps) {
		init = int(f) // truncation, like Python's int()
	}
	return max(numSteps-init, 0)
}

// Model predicts from a noisy sample at timestep t what the scheduler's
// prediction_type says (noise, clean sample or v).
type Model func(x *tensor.Tensor, t int) (*tensor.Tensor, error)

// Img2Img runs the SDEdit loop of the official DDPMImg2ImgPipeline: it sets
// numSteps timesteps, noises lq to the first timestep of the last
// numSteps*strength ones with noise (same shape as lq), then denoises with
// model. rnd feeds stochastic schedulers and may be nil for deterministic
// ones. It returns the result and the timesteps it ran; with no step to
// run (strength 0) it returns a copy of lq and none.
func Img2Img(s Scheduler, model Model, lq, noise *tensor.Tensor, numSteps int, strength float64, rnd NoiseSource) (*tensor.Tensor, []int, error) {
	if err := s.SetTimesteps(numSteps); err != nil {
		return nil, nil, err
	}
	all := s.Timesteps()
	n := numSteps * s.Order()
	start := Img2ImgStart(numSteps, strength) * s.Order()
	if start >= n || start >= len(all) {
		return lq.Clone(), nil, nil
	}
	// A DDIM tail (TailSteps) adds timesteps before the last one: a run
	// that starts at the last one of the plain schedule starts at the last
	// one of the list.
	if start == n-1 && len(all) > n {
		start = len(all) - 1
	}
	ts := all[start:]
	x := s.Schedule().AddNoise(lq, noise, ts[:1])
	for i, t := range ts {
		out, err := model(x, t)
		if err != nil {
			return nil, nil, fmt.Errorf("sampler: model at step %d (t=%d): %w", i, t, err)
		}
		if x, err = s.Step(out, x, t, rnd); err != nil {
			return nil, nil, err
		}
	}
	return x, ts, nil
}
