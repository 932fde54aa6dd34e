package calibrate

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/synth"
)

// Step is the diffusion step a calibration fits through: every LQ image it
// measures is the initial one refined by the model, as synth and the
// bench's "+ddpm" sources make them. The diffusion model smooths (and adds
// little of the fine noise real images have), so the initial degradation
// that lands closest to the real images after the step is milder than the
// one closest without it; fitting through the step finds that one.
type Step struct {
	// Synth refines (synth.Synthesizer.RefineKeyed); its degradation is
	// not used.
	Synth *synth.Synthesizer
	// ID names the model and the step's settings: part of the settings a
	// rerun must repeat, and of config.yaml's comment.
	ID string
	// Precision is the arithmetic of the model's products while it
	// refines (gemm.FP32, the zero value, or gemm.BF16).
	Precision gemm.Precision
}

// NewStep returns the step of model m with the img2img settings opt,
// strengths drawn uniformly in [0, maxStrength] and products in
// precision, as synth refines; an invalid setting gives synth's error.
func NewStep(m *pipeline.Model, opt pipeline.Options, maxStrength float64, precision gemm.Precision) (*Step, error) {
	syn, err := synth.New(synth.Options{Model: m.Predict, ModelID: m.ID, SchedulerConfig: m.SchedulerConfig,
		Options: opt, MaxStrength: maxStrength, Precision: precision})
	if err != nil {
		return nil, err
	}
	refine := opt.Refine
	if refine == "" {
		refine = pipeline.RefineRGB
	}
	id := fmt.Sprintf("model %s (sha256 %.12s), %s, %d steps, strength <= %g, refine %s", m.ID.Name, m.ID.SHA256, opt.Sampler, opt.Steps, maxStrength, refine)
	if opt.FinalSigmas != "" && (opt.Sampler == "unipc" || opt.Sampler == "dpmpp") {
		id += ", final sigmas " + opt.FinalSigmas
	}
	if opt.TailSteps > 1 {
		id += fmt.Sprintf(", tail steps %d", opt.TailSteps)
	}
	if precision != gemm.FP32 {
		id += ", precision " + precision.String()
	}
	return &Step{Synth: syn, ID: id, Precision: precision}, nil
}

// refineAll refines the initial LQ image of every crop, keyed by seed and
// the crop's name as synth keys pair names. The images go one after the
// other: the model's products already use every core.
func (s *Step) refineAll(inits []*raster.Image, crops []Crop, seed uint64) ([]*raster.Image, error) {
	defer gemm.SetPrecision(s.Precision)()
	out := make([]*raster.Image, len(inits))
	for i, init := range inits {
		lq, _, err := s.Synth.RefineKeyed(init, seed, crops[i].Name, 0, synth.Record{})
		if err != nil {
			return nil, fmt.Errorf("%s: the diffusion step: %w", crops[i].Name, err)
		}
		out[i] = lq
	}
	return out, nil
}

// lqImages makes the LQ images of the crops under c and seed: the
// degradation, then the diffusion step when there is one.
func (p *Problem) lqImages(c degrade.Config, seed uint64) ([]*raster.Image, error) {
	lqs, err := degradeAll(c, p.Crops, p.imgs, seed)
	if err != nil || p.Opt.Step == nil {
		return lqs, err
	}
	return p.Opt.Step.refineAll(lqs, p.Crops, seed)
}

// stepID is the step's ID, "" without one.
func (p *Problem) stepID() string {
	if p.Opt.Step == nil {
		return ""
	}
	return p.Opt.Step.ID
}
