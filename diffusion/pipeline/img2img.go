package pipeline

import (
	"fmt"

	"github.com/degradiff/degradiff/diffusion/sampler"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Options configures img2img runs.
type Options struct {
	// Sampler is ddim, unipc, ddpm or dpmpp ("": DefaultSampler).
	Sampler string
	// FinalSigmas is where the last step of unipc and dpmpp lands: "zero"
	// (the clean sample) or "sigma_min" (timestep 0's noise level, as
	// diffusers v0.21 and the reference implementation); "" keeps the
	// scheduler configuration's.
	FinalSigmas string
	// Steps is the number of inference steps N of the whole schedule
	// (0: 50); a run at strength s runs about s*N of them.
	Steps int
	// Tile, when positive, runs the model over overlapping Tile x Tile
	// tiles of inputs larger than that, Overlap pixels apart (Tiled).
	Tile, Overlap int
	// TailSteps, above 1, splits the ddim sampler's last step (from
	// timestep T/Steps to 0) into this many (sampler.DDIM.TailSteps): a
	// few more model evaluations that keep fine noise and detail the
	// last large step smooths away. 0 means 1, the plain schedule.
	TailSteps int
	// Refine is what Image keeps of the model's result: "rgb" (all of it;
	// "" means rgb) or "luma" (only its luma change: the colour, Cb and
	// Cr, stays the input's). Luma suits targets whose colour noise the
	// model does not reproduce (docs/MODEL_CARD.md).
	Refine string
}

// The values of Options.Refine.
const (
	RefineRGB  = "rgb"
	RefineLuma = "luma"
)

// CheckRefine reports whether refine is a value of Options.Refine ("" is
// rgb), for callers that check settings before they have a model.
func CheckRefine(refine string) error {
	switch refine {
	case "", RefineRGB, RefineLuma:
		return nil
	}
	return fmt.Errorf("%q is not %s or %s", refine, RefineRGB, RefineLuma)
}

// CheckTailSteps reports whether tail is a valid Options.TailSteps for
// the named sampler ("" is the default): 0 or 1 for any, up to 1000 for
// ddim. Whether it fits the schedule's last step is checked by New.
func CheckTailSteps(tail int, samplerName string) error {
	if samplerName == "" {
		samplerName = DefaultSampler
	}
	if tail < 0 || tail > 1000 {
		return fmt.Errorf("%d is outside 0..1000", tail)
	}
	if class, err := sampler.ClassOf(samplerName); tail > 1 && (err != nil || class != schedule.DDIMClass) {
		return fmt.Errorf("%d needs the ddim sampler, not %s", tail, samplerName)
	}
	return nil
}

// OptionError is an invalid option. Option is its settings key (steps,
// tile_overlap, ...), which degradiff synth's flags spell with dashes
// (--tile-overlap) and the bench's settings under synth:.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionError(option, format string, args ...any) error {
	return &OptionError{option, fmt.Errorf(format, args...)}
}

// DefaultSampler is the sampler of synth, diagnose and the benches: at
// img2img strengths (a few of its 50 steps), the second-order multistep
// samplers (unipc, dpmpp) add colour noise that real LQ images lack and
// keep less content than DDIM (docs/MODEL_CARD.md, "Experiments: sampler,
// step count and adaptation length").
const DefaultSampler = "ddim"

// DefaultOptions are degradiff synth's defaults: DDIM, 50 steps (for unipc
// and dpmpp, the last step on the clean sample), tiles of 256 pixels
// overlapping by 32.
func DefaultOptions() Options {
	return Options{Sampler: DefaultSampler, FinalSigmas: schedule.FinalZero, Steps: 50, Tile: 256, Overlap: 32}
}

// Img2Img runs img2img with one model and one set of options. It is safe
// for concurrent use.
type Img2Img struct {
	predict Denoiser
	sched   schedule.Config
	opt     Options
	// finalSigmas is the resolved final_sigmas_type of unipc and dpmpp
	// ("" for the others), for the records.
	finalSigmas string
}

// New checks the options against the model's scheduler configuration (a
// scheduler_config.json). An invalid option gives an *OptionError.
func New(predict Denoiser, schedulerConfig []byte, opt Options) (*Img2Img, error) {
	if opt.Sampler == "" {
		opt.Sampler = DefaultSampler
	}
	if opt.Steps == 0 {
		opt.Steps = 50
	}
	if opt.Steps < 1 || opt.Steps > 1000 {
		return nil, optionError("steps", "%d is outside 1..1000", opt.Steps)
	}
	if err := CheckRefine(opt.Refine); err != nil {
		return nil, &OptionError{"refine", err}
	}
	if opt.Refine == "" {
		opt.Refine = RefineRGB
	}
	if opt.Tile != 0 && opt.Tile < 32 {
		return nil, optionError("tile", "%d is below 32", opt.Tile)
	}
	if opt.Tile > 0 && (opt.Overlap < 0 || opt.Overlap >= opt.Tile/2) {
		return nil, optionError("tile_overlap", "%d must be in [0, tile/2)", opt.Overlap)
	}
	sc, err := schedule.ParseConfig(schedulerConfig)
	if err != nil {
		return nil, fmt.Errorf("model scheduler config: %w", err)
	}
	switch opt.FinalSigmas {
	case "":
	case schedule.FinalZero, schedule.FinalSigmaMin:
		sc.FinalSigmasType = opt.FinalSigmas
	default:
		return nil, optionError("final_sigmas", "%q is not %s or %s", opt.FinalSigmas, schedule.FinalZero, schedule.FinalSigmaMin)
	}
	if _, err := sampler.ClassOf(opt.Sampler); err != nil {
		return nil, &OptionError{"sampler", err}
	}
	if err := CheckTailSteps(opt.TailSteps, opt.Sampler); err != nil {
		return nil, &OptionError{"tail_steps", err}
	}
	if opt.TailSteps == 0 {
		opt.TailSteps = 1
	}
	p := &Img2Img{predict: predict, sched: sc, opt: opt}
	sch, err := p.scheduler()
	if err != nil {
		return nil, &OptionError{"sampler", err}
	}
	if opt.TailSteps > 1 {
		// The tail must fit the schedule's last step.
		if err := sch.SetTimesteps(opt.Steps); err != nil {
			return nil, &OptionError{"tail_steps", err}
		}
	}
	switch sch.(type) {
	case *sampler.UniPC, *sampler.DPMSolver:
		p.finalSigmas = sch.Config().FinalSigmasType
	}
	return p, nil
}

// scheduler returns a new scheduler of the options, with the DDIM tail.
func (p *Img2Img) scheduler() (sampler.Scheduler, error) {
	sch, err := sampler.New(p.opt.Sampler, p.sched)
	if d, ok := sch.(*sampler.DDIM); ok {
		d.TailSteps = p.opt.TailSteps
	}
	return sch, err
}

// Options returns the options, with their defaults filled in.
func (p *Img2Img) Options() Options { return p.opt }

// FinalSigmas returns the final_sigmas_type the sampler uses (unipc and
// dpmpp; "" for the others).
func (p *Img2Img) FinalSigmas() string { return p.finalSigmas }

// Run describes an img2img run: its first timestep (-1 when no step ran)
// and the number of steps run.
type Run struct {
	StartTimestep int
	Steps         int
}

// Tensor runs img2img on x [N, 3, H, W] in [-1, 1] at strength with the
// given initial noise (the shape of x); rnd feeds stochastic samplers and
// may be nil for deterministic ones. Strength 0 returns a copy of x.
func (p *Img2Img) Tensor(x, noise *tensor.Tensor, strength float64, rnd sampler.NoiseSource) (*tensor.Tensor, Run, error) {
	sch, err := p.scheduler()
	if err != nil {
		return nil, Run{}, err
	}
	predict := p.predict
	if h, w := x.Shape[2], x.Shape[3]; p.opt.Tile > 0 && (h > p.opt.Tile || w > p.opt.Tile) {
		predict = Tiled(p.predict, p.opt.Tile, p.opt.Overlap)
	}
	ts := make([]float32, x.Shape[0])
	model := func(xt *tensor.Tensor, t int) (*tensor.Tensor, error) {
		for i := range ts {
			ts[i] = float32(t)
		}
		return predict(xt, ts), nil
	}
	out, run, err := sampler.Img2Img(sch, model, x, noise, p.opt.Steps, strength, rnd)
	if err != nil {
		return nil, Run{}, err
	}
	r := Run{StartTimestep: -1, Steps: len(run)}
	if len(run) > 0 {
		r.StartTimestep = run[0]
	}
	return out, r, nil
}

// Image runs img2img on an image in [0, 1] at strength: the initial noise
// comes from r, the sampler's noise from r.Derive("sampler"). With Refine
// "luma" only the change of luma is kept (see keepLuma). The result is
// clamped to [0, 1]; with no step to run (strength 0) it is a copy of
// init.
func (p *Img2Img) Image(init *raster.Image, strength float64, r *rng.Stream) (*raster.Image, Run, error) {
	if sampler.Img2ImgStart(p.opt.Steps, strength) >= p.opt.Steps {
		return init.Clone(), Run{StartTimestep: -1}, nil
	}
	x := tensor.New(1, 3, init.H, init.W)
	for i, v := range init.Pix[:3*init.H*init.W] {
		x.Data[i] = 2*v - 1
	}
	noise := tensor.New(x.Shape...)
	r.FillNormal(noise.Data, 1)
	out, run, err := p.Tensor(x, noise, strength, r.Derive("sampler"))
	if err != nil {
		return nil, Run{}, err
	}
	lq := raster.New(3, init.H, init.W)
	for i := range lq.Pix {
		lq.Pix[i] = out.Data[i]*0.5 + 0.5
	}
	if p.opt.Refine == RefineLuma {
		keepLuma(lq, init)
	}
	return lq.Clamp(), run, nil
}

// BT.601 luma weights, as BasicSR's Y channel and the gap's features.
const lumaR, lumaG, lumaB = 0.299, 0.587, 0.114

// keepLuma replaces out by init plus the change of luma from init to out,
// added to all three channels. The weights sum to 1, so the result has
// out's luma and init's Cb and Cr (each a multiple of B-Y or R-Y).
func keepLuma(out, init *raster.Image) {
	n := out.H * out.W
	r0, g0, b0 := init.Pix[:n], init.Pix[n:2*n], init.Pix[2*n:3*n]
	r1, g1, b1 := out.Pix[:n], out.Pix[n:2*n], out.Pix[2*n:3*n]
	for i := range n {
		d := lumaR*(r1[i]-r0[i]) + lumaG*(g1[i]-g0[i]) + lumaB*(b1[i]-b0[i])
		r1[i], g1[i], b1[i] = r0[i]+d, g0[i]+d, b0[i]+d
	}
}
