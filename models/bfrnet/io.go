package bfrnet

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/rng"
)

// Save writes the model folder dir (created if needed): model.safetensors
// with the parameters, model_ema.safetensors with ema (averaged values by
// parameter name) unless ema is nil, and config.json last, so a folder with
// a config is complete. Every file is replaced atomically.
func (m *Model) Save(dir string, ema map[string]*tensor.Tensor) error {
	return modeldir.Save(dir, Arch, m.Params(), ema, m.Config)
}

// Load reads the model folder dir with the chosen weights. It returns the
// model and the weights file it read. Errors name the file.
func Load(dir string, w modeldir.Weights) (*Model, string, error) {
	return modeldir.Load(dir, Arch, w, func(b []byte) (*Model, error) {
		cfg, err := ParseConfig(b)
		if err != nil {
			return nil, err
		}
		return New(cfg, rng.New(0, Arch))
	})
}

// LoadWeights reads the parameters from a safetensors file (any float
// dtype). Every parameter must be there with its shape, and nothing else.
func (m *Model) LoadWeights(path string) error {
	return modeldir.LoadWeights(path, Arch, m.Params())
}

// SetWeights copies values keyed by parameter name into the model, for
// checkpoints; see nn.LoadStateDict.
func (m *Model) SetWeights(sd map[string]*tensor.Tensor) error {
	if err := nn.LoadStateDict(m.Params(), sd); err != nil {
		return fmt.Errorf("bfrnet: %w", err)
	}
	return nil
}

// NumParams returns the number of parameters.
func (m *Model) NumParams() int { return nn.Count(m.Params()) }
