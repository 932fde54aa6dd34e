// Package defaultmodel embeds degradiff's default DDPM: a UNet of the "cpu"
// preset trained by the project on real-world low-quality natural images
// (see docs/MODEL_CARD.md). degradiff synth uses it when no --model is
// given. The weights are stored in float16 and widened to float32 on load.
package defaultmodel

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/rng"
)

//go:embed weights/config.json weights/diffusion_pytorch_model.safetensors weights/scheduler_config.json weights/info.json
var files embed.FS

// Name is the model's name in manifests.
const Name = "degradiff-default"

// Info describes how the embedded weights were made.
type Info struct {
	Run   string `json:"run"`
	Step  int    `json:"step"`
	Notes string `json:"notes"`
}

// Files returns the embedded file names and contents (for export).
func Files() map[string][]byte {
	out := map[string][]byte{}
	for _, n := range []string{"config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json", "info.json"} {
		b, _ := files.ReadFile("weights/" + n)
		out[n] = b
	}
	return out
}

// Load builds the default model. It also returns the scheduler config, the
// SHA-256 of the weights file and the training info.
func Load() (*unet.Model, []byte, string, Info, error) {
	fs := Files()
	var info Info
	if err := json.Unmarshal(fs["info.json"], &info); err != nil {
		return nil, nil, "", info, fmt.Errorf("default model: info.json: %w", err)
	}
	cfg, err := unet.ParseConfig(fs["config.json"])
	if err != nil {
		return nil, nil, "", info, fmt.Errorf("default model: %w", err)
	}
	m, err := unet.New(cfg, rng.New(0, "default-model"))
	if err != nil {
		return nil, nil, "", info, fmt.Errorf("default model: %w", err)
	}
	w := fs["diffusion_pytorch_model.safetensors"]
	f, err := safetensors.NewReader("default model weights", bytes.NewReader(w), int64(len(w)))
	if err != nil {
		return nil, nil, "", info, err
	}
	sd := map[string]*tensor.Tensor{}
	for _, name := range f.Names() {
		data, shape, err := f.Float32(name)
		if err != nil {
			return nil, nil, "", info, err
		}
		sd[name] = tensor.FromData(data, shape...)
	}
	if err := nn.LoadStateDict(m.Params(), sd); err != nil {
		return nil, nil, "", info, fmt.Errorf("default model: %w", err)
	}
	sum := sha256.Sum256(w)
	return m, fs["scheduler_config.json"], hex.EncodeToString(sum[:]), info, nil
}
