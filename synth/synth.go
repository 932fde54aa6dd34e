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
	"fmt"
	"math"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/sampler"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/rng"
	"github.com/degradiff/degradiff/raster"
)

// Denoiser predicts the noise in x [N, 3, H, W] at timesteps t. H and W may
// be any size (the model pads and crops).
type Denoiser func(x *tensor.Tensor, t []float32) *tensor.Tensor

// ModelID identifies the denoiser in the manifest.
type ModelID struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Options configures a Synthesizer.
type Options struct {
	Pipeline degrade.Pipeline
	Model    Denoiser
	ModelID  ModelID
	// SchedulerConfig is the model's scheduler_config.json.
	SchedulerConfig []byte
	Sampler         string // unipc (default), ddim, ddpm or dpmpp
	// FinalSigmas is where the last step of unipc and dpmpp lands: "zero"
	// (the clean sample; default) or "sigma_min" (timestep 0's noise level,
	// as diffusers v0.21 and the reference implementation).
	FinalSigmas string
	Steps       int     // inference steps N (default 50)
	MaxStrength float64 // strengths are uniform in [0, MaxStrength], at least 1/N
	Seed        uint64
	// Tile, when positive, runs the model over overlapping Tile x Tile
	// tiles of the LQ image when it is larger than that (Overlap pixels of
	// overlap, blended with a smooth window).
	Tile, Overlap int
}

// Synthesizer makes pairs. It is safe for concurrent use.
type Synthesizer struct {
	opt         Options
	sched       schedule.Config
	finalSigmas string // the resolved final_sigmas_type, for the records
}

// New checks the options and returns a Synthesizer.
func New(opt Options) (*Synthesizer, error) {
	if opt.Sampler == "" {
		opt.Sampler = "unipc"
	}
	if opt.Steps == 0 {
		opt.Steps = 50
	}
	if opt.Steps < 1 || opt.Steps > 1000 {
		return nil, fmt.Errorf("--steps: %d is outside 1..1000", opt.Steps)
	}
	if !(opt.MaxStrength >= 0 && opt.MaxStrength <= 1) {
		return nil, fmt.Errorf("--max-strength: %g is outside [0, 1]", opt.MaxStrength)
	}
	if opt.Tile != 0 && opt.Tile < 32 {
		return nil, fmt.Errorf("--tile: %d is below 32", opt.Tile)
	}
	if opt.Tile > 0 && (opt.Overlap < 0 || opt.Overlap >= opt.Tile/2) {
		return nil, fmt.Errorf("tile overlap %d must be in [0, tile/2)", opt.Overlap)
	}
	sc, err := schedule.ParseConfig(opt.SchedulerConfig)
	if err != nil {
		return nil, fmt.Errorf("model scheduler config: %w", err)
	}
	switch opt.FinalSigmas {
	case "":
	case schedule.FinalZero, schedule.FinalSigmaMin:
		sc.FinalSigmasType = opt.FinalSigmas
	default:
		return nil, fmt.Errorf("--final-sigmas: %q is not %s or %s", opt.FinalSigmas, schedule.FinalZero, schedule.FinalSigmaMin)
	}
	sch, err := sampler.New(opt.Sampler, sc)
	if err != nil {
		return nil, fmt.Errorf("--sampler: %w", err)
	}
	syn := &Synthesizer{opt: opt, sched: sc}
	switch sch.(type) {
	case *sampler.UniPC, *sampler.DPMSolver:
		syn.finalSigmas = sch.Config().FinalSigmasType
	}
	return syn, nil
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
	FinalSigmas string  `json:"final_sigmas,omitempty"`
	Steps       int     `json:"steps"`
	Model       ModelID `json:"model"`
	// DiffusionKey is the key of the stream that drew the initial noise.
	DiffusionKey uint64 `json:"diffusion_key"`
}

// Prepare runs the degradation pipeline's HR preparation for item name,
// once for all its variants.
func (s *Synthesizer) Prepare(hq *raster.Image, name string) (*degrade.Item, error) {
	return degrade.Prepare(s.opt.Pipeline, hq, s.opt.Seed, name)
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
	init, drec, err := it.Variant(k)
	if err != nil {
		return nil, nil, rec, err
	}
	rec.Record = drec
	dr := rng.New(s.opt.Seed, "synth", name, fmt.Sprint(k))
	strength := dr.Float64() * s.opt.MaxStrength
	// As the reference: at least one step runs.
	strength = math.Max(strength, 1/float64(s.opt.Steps))
	rec.Strength = strength
	rec.Sampler, rec.Steps, rec.Model = s.opt.Sampler, s.opt.Steps, s.opt.ModelID
	rec.FinalSigmas = s.finalSigmas
	noiseStream := dr.Derive("noise")
	rec.DiffusionKey = noiseStream.Key()
	lq, rec.StartTimestep, rec.RunSteps, err = s.Refine(init, strength, noiseStream)
	if err != nil {
		return nil, nil, rec, err
	}
	return init, lq, rec, nil
}

// Refine runs img2img on an initial LQ image (in [0, 1]) at strength, with
// noise from r, and returns the result in [0, 1] with the first timestep
// and the number of steps run.
func (s *Synthesizer) Refine(init *raster.Image, strength float64, r *rng.Stream) (*raster.Image, int, int, error) {
	sch, err := sampler.New(s.opt.Sampler, s.sched)
	if err != nil {
		return nil, 0, 0, err
	}
	x := tensor.New(1, 3, init.H, init.W)
	for i, v := range init.Pix[:3*init.H*init.W] {
		x.Data[i] = 2*v - 1
	}
	noise := tensor.New(x.Shape...)
	r.FillNormal(noise.Data, 1)
	ts := make([]float32, 1)
	predict := s.opt.Model
	if s.opt.Tile > 0 && (init.H > s.opt.Tile || init.W > s.opt.Tile) {
		predict = Tiled(s.opt.Model, s.opt.Tile, s.opt.Overlap)
	}
	model := func(xt *tensor.Tensor, t int) (*tensor.Tensor, error) {
		ts[0] = float32(t)
		return predict(xt, ts), nil
	}
	if err := sch.SetTimesteps(s.opt.Steps); err != nil {
		return nil, 0, 0, err
	}
	all := sch.Timesteps()
	start := sampler.Img2ImgStart(s.opt.Steps, strength) * sch.Order()
	run := len(all) - start
	first := -1
	if run > 0 {
		first = all[start]
	}
	out, err := sampler.Img2Img(sch, model, x, noise, s.opt.Steps, strength, r.Derive("sampler"))
	if err != nil {
		return nil, 0, 0, err
	}
	lq := raster.New(3, init.H, init.W)
	for i := range lq.Pix {
		lq.Pix[i] = out.Data[i]*0.5 + 0.5
	}
	return lq.Clamp(), first, run, nil
}
