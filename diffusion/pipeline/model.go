// Package pipeline runs a diffusion model as degradiff's commands use it:
// it loads a model (the built-in one, a diffusers pipeline folder or a bare
// UNet folder) with its scheduler configuration, and runs img2img (SDEdit:
// noise an image to the start timestep of a strength, then denoise it),
// reporting the first timestep and the number of steps run.
//
// Synthesis, the bench, the diagnostics and the training previews all run
// img2img through this package, so that one pair made by degradiff synth
// is the same pair wherever it is made.
package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/defaultmodel"
	"github.com/degradiff/degradiff/models/unet"
)

// Denoiser predicts the noise in x [N, 3, H, W] at timesteps t (one per
// sample). H and W may be any size (the UNet pads and crops).
type Denoiser func(x *tensor.Tensor, t []float32) *tensor.Tensor

// ID identifies a model in manifests and reports.
type ID struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Model is a loaded diffusion model.
type Model struct {
	UNet *unet.Model
	ID   ID
	// SchedulerConfig is the model's scheduler_config.json: its pipeline's,
	// or schedule.DefaultDDPMFile for a bare UNet folder.
	SchedulerConfig []byte
	// Untrained is set for a built-in model that was never trained (a
	// development placeholder): what it makes is noise.
	Untrained bool
}

// Predict is the model's Denoiser.
func (m *Model) Predict(x *tensor.Tensor, t []float32) *tensor.Tensor { return m.UNet.Predict(x, t) }

// Builtin loads a model built into the binary.
func Builtin(b defaultmodel.Model) (*Model, error) {
	net, sched, sum, info, err := b.Load()
	if err != nil {
		return nil, err
	}
	return &Model{UNet: net, ID: ID{Name: b.Name, SHA256: sum}, SchedulerConfig: sched, Untrained: info.Step == 0}, nil
}

// AbsSpec returns the --model value spec with a folder made absolute, so
// that settings that record it compare equal whatever the working
// directory; "" and the built-in models' names are returned as they are.
func AbsSpec(spec string) (string, error) {
	if _, builtin := defaultmodel.Lookup(spec); spec == "" || builtin {
		return spec, nil
	}
	a, err := filepath.Abs(spec)
	if err != nil {
		return "", fmt.Errorf("--model %s: %w", spec, err)
	}
	return a, nil
}

// Load loads the model of the --model flag: "" or "builtin" is the
// built-in model for natural images, "builtin-face" the built-in face
// model, anything else a diffusers pipeline folder (unet/ and scheduler/;
// with ema, its unet_ema/ weights) or a bare UNet folder (config.json and
// weights), which gets the default DDPM schedule. A folder named like a
// built-in model is given as ./builtin. Errors name the flag.
func Load(spec string, ema bool) (*Model, error) {
	if spec == "" {
		spec = defaultmodel.Natural.Spec
	}
	if b, ok := defaultmodel.Lookup(spec); ok {
		return Builtin(b)
	}
	sub := ""
	if ema {
		sub = unet.EMAFolder
	}
	net, err := unet.LoadSubfolder(spec, sub)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	sched := net.Source.SchedulerConfig
	if sched == nil {
		sched = schedule.DefaultDDPMFile()
	}
	return &Model{UNet: net, ID: ID{Name: net.Source.Name, SHA256: net.Source.SHA256}, SchedulerConfig: sched}, nil
}
