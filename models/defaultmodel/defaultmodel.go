// Package defaultmodel embeds degradiff's built-in DDPMs, trained by the
// project on real-world low-quality images (see docs/MODEL_CARD.md):
// Natural, a UNet of the "cpu" preset trained on natural images, which
// degradiff synth uses when no --model is given, and Face, a UNet of the
// "small" preset trained on aligned faces, which synth uses with the face
// preset. The weights are stored in float16 and widened to float32 on load.
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
//go:embed weights-face/config.json weights-face/diffusion_pytorch_model.safetensors weights-face/scheduler_config.json weights-face/info.json
var files embed.FS

// Model is one built-in model.
type Model struct {
	// Name is the model's name in manifests.
	Name string
	// Spec is the value of --model (and --init-from) that selects it.
	Spec string
	dir  string
}

var (
	// Natural is the default model for natural images.
	Natural = Model{Name: "degradiff-default", Spec: "builtin", dir: "weights"}
	// Face is the default model for aligned faces (synth --preset face).
	Face = Model{Name: "degradiff-face", Spec: "builtin-face", dir: "weights-face"}
)

// All lists the built-in models.
var All = []Model{Natural, Face}

// Lookup returns the built-in model that spec ("builtin", "builtin-face")
// names.
func Lookup(spec string) (Model, bool) {
	for _, m := range All {
		if m.Spec == spec {
			return m, true
		}
	}
	return Model{}, false
}

// Info describes how the embedded weights were made.
type Info struct {
	Run   string `json:"run"`
	Step  int    `json:"step"`
	Notes string `json:"notes"`
}

// fileNames are the files of each model, in diffusers' UNet layout plus
// the scheduler configuration and info.json.
var fileNames = []string{"config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json", "info.json"}

// Files returns the embedded file names and contents (for export).
func (m Model) Files() map[string][]byte {
	out := map[string][]byte{}
	for _, n := range fileNames {
		b, _ := files.ReadFile(m.dir + "/" + n)
		out[n] = b
	}
	return out
}

// SHA256 returns the hex SHA-256 of the weights file, as manifests record it.
func (m Model) SHA256() string {
	sum := sha256.Sum256(m.Files()["diffusion_pytorch_model.safetensors"])
	return hex.EncodeToString(sum[:])
}

// Load builds the model. It also returns the scheduler config, the
// SHA-256 of the weights file and the training info.
func (m Model) Load() (*unet.Model, []byte, string, Info, error) {
	fs := m.Files()
	var info Info
	fail := func(err error) (*unet.Model, []byte, string, Info, error) {
		return nil, nil, "", info, fmt.Errorf("built-in model %s: %w", m.Name, err)
	}
	if err := json.Unmarshal(fs["info.json"], &info); err != nil {
		return fail(fmt.Errorf("info.json: %w", err))
	}
	cfg, err := unet.ParseConfig(fs["config.json"])
	if err != nil {
		return fail(err)
	}
	net, err := unet.New(cfg, rng.New(0, "default-model"))
	if err != nil {
		return fail(err)
	}
	w := fs["diffusion_pytorch_model.safetensors"]
	f, err := safetensors.NewReader("weights", bytes.NewReader(w), int64(len(w)))
	if err != nil {
		return fail(err)
	}
	sd := map[string]*tensor.Tensor{}
	for _, name := range f.Names() {
		data, shape, err := f.Float32(name)
		if err != nil {
			return fail(err)
		}
		sd[name] = tensor.FromData(data, shape...)
	}
	if err := nn.LoadStateDict(net.Params(), sd); err != nil {
		return fail(err)
	}
	return net, fs["scheduler_config.json"], m.SHA256(), info, nil
}
