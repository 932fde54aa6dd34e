package srnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/rng"
)

// Files of a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"     // the trained weights
	EMAFile     = "model_ema.safetensors" // their exponential moving average
)

// Weights selects the weights Load reads.
type Weights int

// Weight choices.
const (
	AutoWeights Weights = iota // the averaged weights if the folder has them, else the trained ones
	RawWeights                 // the trained weights (model.safetensors)
	EMAWeights                 // the averaged weights (model_ema.safetensors)
)

// ParseWeights returns the choice named "auto", "raw" or "ema".
func ParseWeights(s string) (Weights, error) {
	switch s {
	case "auto", "":
		return AutoWeights, nil
	case "raw":
		return RawWeights, nil
	case "ema":
		return EMAWeights, nil
	}
	return 0, fmt.Errorf("weights %q: want auto, raw or ema", s)
}

// IsModelDir reports whether dir holds a config.json, as a model folder
// does.
func IsModelDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil && !st.IsDir()
}

// Save writes the model folder dir (created if needed): model.safetensors
// with the parameters, model_ema.safetensors with ema (averaged values by
// parameter name) unless ema is nil, and config.json last, so a folder with
// a config is complete. Every file is replaced atomically.
func (m *Model) Save(dir string, ema map[string]*tensor.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("srnet: saving: %w", err)
	}
	meta := map[string]string{"arch": Arch}
	if err := nn.Save(filepath.Join(dir, WeightsFile), m.Params(), safetensors.F32, meta); err != nil {
		return fmt.Errorf("srnet: %w", err)
	}
	ep := filepath.Join(dir, EMAFile)
	if ema != nil {
		var ts []safetensors.Tensor
		for _, p := range m.Params() {
			t, ok := ema[p.Name]
			if !ok || !tensor.SameShape(t.Shape, p.Value.Shape) {
				return fmt.Errorf("srnet: saving %s: no averaged value of shape %v for %s", ep, p.Value.Shape, p.Name)
			}
			ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: t.Shape, Data: t.Data})
		}
		if err := safetensors.Write(ep, ts, meta); err != nil {
			return fmt.Errorf("srnet: %w", err)
		}
	} else if err := os.Remove(ep); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("srnet: removing stale %s: %w", ep, err)
	}
	b, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ConfigFile), append(b, '\n'))
}

// Load reads the model folder dir with the chosen weights. It returns the
// model and the weights file it read. Errors name the file.
func Load(dir string, w Weights) (*Model, string, error) {
	cp := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(cp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s is not a model folder: no %s", dir, ConfigFile)
		}
		return nil, "", fmt.Errorf("srnet: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", cp, err)
	}
	m, err := New(cfg, rng.New(0, Arch))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", cp, err)
	}
	wp := filepath.Join(dir, WeightsFile)
	ep := filepath.Join(dir, EMAFile)
	switch w {
	case EMAWeights:
		wp = ep
	case AutoWeights:
		if _, err := os.Stat(ep); err == nil {
			wp = ep
		}
	}
	if err := m.LoadWeights(wp); err != nil {
		return nil, "", err
	}
	return m, wp, nil
}

// LoadWeights reads the parameters from a safetensors file (any float
// dtype). Every parameter must be there with its shape, and nothing else.
func (m *Model) LoadWeights(path string) error {
	if err := nn.Load(path, m.Params(), nil); err != nil {
		return fmt.Errorf("srnet: %w", err)
	}
	return nil
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

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
