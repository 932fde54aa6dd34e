package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/diffusion/sampler"
	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/models/unet"
)

// TestImg2ImgTrajectoryMatchesDiffusers runs the whole img2img of the
// official pipeline — the tiny fixture UNet and UniPC from the saved DDPM
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
	model := func(x *tensor.Tensor, ts int) (*tensor.Tensor, error) {
		return m.Predict(x, []float32{float32(ts)}), nil
	}
	for variant, cfg := range configs {
		sc, err := schedule.ParseConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sc.FinalSigmasType = schedule.FinalSigmaMin // diffusers v0.21's only behaviour
		s, err := sampler.New("unipc", sc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := sampler.Img2Img(s, model, lq, noise, 50, 0.2, nil)
		if err != nil {
			t.Fatal(err)
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
