package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/models/unet"
)

// TestImg2ImgTrajectoryMatchesDiffusers runs the whole img2img of the
// official pipeline through Img2Img.Tensor — the tiny fixture UNet and UniPC from the saved DDPM
// scheduler config — and compares it with diffusers' trajectory
// (fixtures README section 7): strength 0.2 of 50 steps, for the leading,
// linspace (config without timestep_spacing) and trailing variants.
func TestImg2ImgTrajectoryMatchesDiffusers(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	m, err := unet.Load(filepath.Join(dir, "unet_tiny"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, "schedulers.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	get := func(name string) *tensor.Tensor {
		d, s, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return tensor.FromData(d, s...)
	}
	saved, err := os.ReadFile(filepath.Join(dir, "ddpm_scheduler_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string][]byte{
		"leading":  saved,
		"linspace": bytes.Replace(saved, []byte(`"timestep_spacing": "leading",`), nil, 1),
		"trailing": bytes.Replace(saved, []byte(`"leading"`), []byte(`"trailing"`), 1),
	}
	lq, noise := get("img2img.lq"), get("img2img.noise")
	for variant, cfg := range configs {
		// sigma_min: diffusers v0.21's only behaviour.
		p, err := New(m.Predict, cfg, Options{Sampler: "unipc", FinalSigmas: schedule.FinalSigmaMin, Steps: 50})
		if err != nil {
			t.Fatal(err)
		}
		out, run, err := p.Tensor(lq, noise, 0.2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if run.Steps != 10 {
			t.Errorf("%s: %d steps run, want 10", variant, run.Steps)
		}
		// Ten UNet evaluations in float32 against the reference's float32
		// run: README section 9 suggests 1e-4 for the UNet, 1e-5 for the
		// scheduler chain.
		if d := tensor.MaxAbsDiff(out, get("img2img."+variant+".final")); d > 1e-4 {
			t.Errorf("%s: final sample differs from diffusers by %g", variant, d)
		} else {
			t.Logf("%s: max |Go - diffusers| = %.2g", variant, d)
		}
	}
}
