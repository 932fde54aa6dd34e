package srnet

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/rng"
)

// Files of a model folder (see package modeldir).
const (
	ConfigFile  = modeldir.ConfigFile
	WeightsFile = modeldir.WeightsFile // the trained weights
	EMAFile     = modeldir.EMAFile     // their exponential moving average
)

// Weights selects the weights Load reads.
type Weights = modeldir.Weights

// Weight choices.
const (
	AutoWeights = modeldir.AutoWeights // the averaged weights if the folder has them, else the trained ones
	RawWeights  = modeldir.RawWeights  // the trained weights (model.safetensors)
	EMAWeights  = modeldir.EMAWeights  // the averaged weights (model_ema.safetensors)
)

// ParseWeights returns the choice named "auto", "raw" or "ema".
func ParseWeights(s string) (Weights, error) { return modeldir.ParseWeights(s) }

// IsModelDir reports whether dir holds a config.json, as a model folder
// does.
func IsModelDir(dir string) bool { return modeldir.IsModelDir(dir) }

// Save writes the model folder dir (created if needed): model.safetensors
// with the parameters, model_ema.safetensors with ema (averaged values by
// parameter name) unless ema is nil, and config.json last, so a folder with
// a config is complete. Every file is replaced atomically.
func (m *Model) Save(dir string, ema map[string]*tensor.Tensor) error {
	return modeldir.Save(dir, Arch, m.Params(), ema, m.Config)
}

// Load reads the model folder dir with the chosen weights. It returns the
// model and the weights file it read. Errors name the file.
func Load(dir string, w Weights) (*Model, string, error) {
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
		return fmt.Errorf("srnet: %w", err)
	}
	return nil
}

// NumParams returns the number of parameters.
func (m *Model) NumParams() int { return nn.Count(m.Params()) }

// Clone returns a deep copy of the model (for example to hold averaged
// weights beside the trained ones).
func (m *Model) Clone() *Model {
	c, err := New(m.Config, rng.New(0, Arch))
	if err != nil {
		panic(err) // m.Config was valid when m was built
	}
	src := m.Params()
	for i, p := range c.Params() {
		copy(p.Value.Data, src[i].Value.Data)
	}
	return c
}
