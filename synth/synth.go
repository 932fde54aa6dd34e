// Package synth makes realistic HQ/LQ pairs (steps 2 and 3 of the method):
// each HQ image gets an initial LQ image from a degradation pipeline, which
// is noised to a random moderate timestep and denoised by a DDPM trained on
// real LQ images (SDEdit), so that it moves into the real LQ distribution
// while staying aligned with its HQ image.
//
// Every random draw is keyed by (seed, item name, variant): the pairs are
// identical whatever the worker count, shard split or order.
package synth

import (
	"errors"
	"fmt"
	"math"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Options configures a Synthesizer. DefaultOptions gives degradiff
// synth's defaults.
type Options struct {
	// Degradation makes the initial LQ image.
	Degradation degrade.Pipeline
	// Model is the diffusion model's denoiser, ModelID its identity in the
	// records and SchedulerConfig its scheduler_config.json
	// (pipeline.Model holds all three).
	Model           pipeline.Denoiser
	ModelID         pipeline.ID
	SchedulerConfig []byte
	// Options are the img2img settings: sampler, steps, final sigmas,
	// tiles.
	pipeline.Options
	// MaxStrength bounds the strengths, drawn uniformly in [0,
	// MaxStrength] and at least 1/Steps as in the reference; 0 skips the
	// diffusion step (the LQ image is the initial one).
	MaxStrength float64
	Seed        uint64
	// Precision is the arithmetic of the model's products while Run runs
	// (gemm.SetPrecision): FP32 (the zero value) or BF16, faster on CPUs
	// with AMX-BF16 or AMD's AVX512_BF16. Callers of Pair and Variant set
	// it themselves.
	Precision gemm.Precision
}

// DefaultMaxStrength is the reference implementation's largest strength.
const DefaultMaxStrength = 0.25

// DefaultOptions returns degradiff synth's defaults, without degradation
// or model: pipeline.DefaultOptions and strengths up to
// DefaultMaxStrength.
func DefaultOptions() Options {
	return Options{Options: pipeline.DefaultOptions(), MaxStrength: DefaultMaxStrength}
}

// Synthesizer makes pairs. It is safe for concurrent use.
type Synthesizer struct {
	opt     Options
	img2img *pipeline.Img2Img
}

// New checks the options and returns a Synthesizer; an invalid option gives
// a *pipeline.OptionError. Without a Model it only degrades: Run writes the
// initial LQ images as the pairs.
func New(opt Options) (*Synthesizer, error) {
	if opt.Precision != gemm.FP32 && opt.Precision != gemm.BF16 {
		return nil, &pipeline.OptionError{Option: "precision", Err: fmt.Errorf("%v is not fp32 or bf16", opt.Precision)}
	}
	if !(opt.MaxStrength >= 0 && opt.MaxStrength <= 1) {
		return nil, &pipeline.OptionError{Option: "max_strength", Err: fmt.Errorf("%g is outside [0, 1]", opt.MaxStrength)}
	}
	if opt.Model == nil {
		// Degradation only: Run writes the initial LQ images.
		return &Synthesizer{opt: opt}, nil
	}
	p, err := pipeline.New(opt.Model, opt.SchedulerConfig, opt.Options)
	if err != nil {
		return nil, err
	}
	opt.Options = p.Options()
	return &Synthesizer{opt: opt, img2img: p}, nil
}

// Record is the provenance of one synthetic pair: the degradation record
// plus the diffusion step.
type Record struct {
	degrade.Record
	// Crop is the sub-image box [y, x, h, w] in the source image, when the
	// source was cut into sub-images.
	Crop *[4]int `json:"crop,omitempty"`
	// Strength is the img2img strength; StartTimestep the first timestep
	// run and RunSteps the number of denoising steps.
	Strength      float64 `json:"strength"`
	StartTimestep int     `json:"start_timestep"`
	RunSteps      int     `json:"run_steps"`
	Sampler       string  `json:"sampler"`
	// FinalSigmas is the sampler's final_sigmas_type (unipc and dpmpp).
	FinalSigmas string      `json:"final_sigmas,omitempty"`
	Steps       int         `json:"steps"`
	Model       pipeline.ID `json:"model"`
	// Refine is "luma" when only the luma change of the diffusion step
	// was kept (pipeline.Options.Refine; absent: rgb).
	Refine string `json:"refine,omitempty"`
	// TailSteps is ddim's last step split in this many when above 1
	// (pipeline.Options.TailSteps; absent: 1).
	TailSteps int `json:"tail_steps,omitempty"`
	// Precision is "bf16" when the model ran in BF16 (absent: float32).
	Precision string `json:"precision,omitempty"`
	// DiffusionKey is the key of the stream that drew the initial noise.
	DiffusionKey uint64 `json:"diffusion_key"`
}

// Prepare runs the degradation pipeline's HR preparation for item name,
// once for all its variants.
func (s *Synthesizer) Prepare(hq *raster.Image, name string) (*degrade.Item, error) {
	return degrade.Prepare(s.opt.Degradation, hq, s.opt.Seed, name)
}

// Pair makes variant k of item name from a HQ image: the prepared HR
// image, the initial degradation and the final LQ image. For several
// variants, Prepare once and call Variant.
func (s *Synthesizer) Pair(hq *raster.Image, name string, k int) (hr, init, lq *raster.Image, rec Record, err error) {
	it, err := s.Prepare(hq, name)
	if err != nil {
		return nil, nil, nil, rec, err
	}
	init, lq, rec, err = s.Variant(it, name, k)
	return it.HR, init, lq, rec, err
}

// Variant makes variant k of a prepared item: the initial degradation and
// the final LQ image.
func (s *Synthesizer) Variant(it *degrade.Item, name string, k int) (init, lq *raster.Image, rec Record, err error) {
	if s.img2img == nil {
		return nil, nil, rec, errors.New("synth: no diffusion model")
	}
	init, drec, err := it.Variant(k)
	if err != nil {
		return nil, nil, rec, err
	}
	rec.Record = drec
	lq, rec, err = s.RefineKeyed(init, s.opt.Seed, name, k, rec)
	if err != nil {
		return nil, nil, rec, err
	}
	return init, lq, rec, nil
}

// RefineKeyed refines an initial LQ image as Variant refines variant k of
// item name under seed: the same strength and noise, drawn from (seed,
// name, k). It fills rec's diffusion fields and returns it. A caller that
// makes the initial images itself (calibrate) gets the LQ images synth
// would make from them.
func (s *Synthesizer) RefineKeyed(init *raster.Image, seed uint64, name string, k int, rec Record) (*raster.Image, Record, error) {
	if s.img2img == nil {
		return nil, rec, errors.New("synth: no diffusion model")
	}
	dr := rng.New(seed, "synth", name, fmt.Sprint(k))
	strength := dr.Float64() * s.opt.MaxStrength
	if s.opt.MaxStrength > 0 {
		// As the reference: at least one step runs.
		strength = math.Max(strength, 1/float64(s.opt.Steps))
	}
	rec.Strength = strength
	rec.Sampler, rec.Steps, rec.Model = s.opt.Sampler, s.opt.Steps, s.opt.ModelID
	rec.FinalSigmas = s.img2img.FinalSigmas()
	if s.opt.Refine == pipeline.RefineLuma {
		rec.Refine = s.opt.Refine
	}
	if s.opt.TailSteps > 1 {
		rec.TailSteps = s.opt.TailSteps
	}
	if s.opt.Precision != gemm.FP32 {
		rec.Precision = s.opt.Precision.String()
	}
	noiseStream := dr.Derive("noise")
	rec.DiffusionKey = noiseStream.Key()
	lq, run, err := s.img2img.Image(init, strength, noiseStream)
	if err != nil {
		return nil, rec, err
	}
	rec.StartTimestep, rec.RunSteps = run.StartTimestep, run.Steps
	return lq, rec, nil
}

// Refine runs img2img on an initial LQ image (in [0, 1]) at strength, with
// noise from r, and returns the result in [0, 1] with the run's first
// timestep and number of steps.
func (s *Synthesizer) Refine(init *raster.Image, strength float64, r *rng.Stream) (*raster.Image, pipeline.Run, error) {
	if s.img2img == nil {
		return nil, pipeline.Run{}, errors.New("synth: no diffusion model")
	}
	return s.img2img.Image(init, strength, r)
}
