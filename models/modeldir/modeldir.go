// Package modeldir reads and writes the model folders of degradiff's
// restoration networks (packages srnet and bfrnet): config.json with the
// architecture, model.safetensors with the trained weights and, when
// training kept them, model_ema.safetensors with their exponential moving
// average. Parameters are stored by their PyTorch state-dict names.
package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
)

// Files of a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"     // the trained weights
	EMAFile     = "model_ema.safetensors" // their exponential moving average
)

// Weights selects the weights a model folder is loaded with.
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
// with params, model_ema.safetensors with ema (averaged values by
// parameter name) unless ema is nil (a stale one is then removed), and
// config.json (config as indented JSON) last, so that a folder with a
// config is complete. Every file is replaced atomically. arch is recorded
// in the weights' metadata and prefixes errors.
func Save(dir, arch string, params []*ag.Var, ema map[string]*tensor.Tensor, config any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: saving: %w", arch, err)
	}
	meta := map[string]string{"arch": arch}
	if err := nn.Save(filepath.Join(dir, WeightsFile), params, safetensors.F32, meta); err != nil {
		return fmt.Errorf("%s: %w", arch, err)
	}
	ep := filepath.Join(dir, EMAFile)
	if ema != nil {
		var ts []safetensors.Tensor
		for _, p := range params {
			t, ok := ema[p.Name]
			if !ok || !tensor.SameShape(t.Shape, p.Value.Shape) {
				return fmt.Errorf("%s: saving %s: no averaged value of shape %v for %s", arch, ep, p.Value.Shape, p.Name)
			}
			ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: t.Shape, Data: t.Data})
		}
		if err := safetensors.Write(ep, ts, meta); err != nil {
			return fmt.Errorf("%s: %w", arch, err)
		}
	} else if err := os.Remove(ep); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: removing stale %s: %w", arch, ep, err)
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(dir, ConfigFile), append(b, '\n'))
}

// ReadConfig returns the contents and the path of dir's config.json; a
// folder without one is "not a model folder".
func ReadConfig(dir, arch string) ([]byte, string, error) {
	cp := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(cp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, cp, fmt.Errorf("%s is not a model folder: no %s", dir, ConfigFile)
		}
		return nil, cp, fmt.Errorf("%s: %w", arch, err)
	}
	return b, cp, nil
}

// Load reads the model folder dir of architecture arch with the chosen
// weights: build makes the network from config.json's contents (errors
// are prefixed by the config's path), then its parameters are read. It
// returns the model and the weights file it read.
func Load[M interface{ LoadWeights(string) error }](dir, arch string, w Weights, build func(config []byte) (M, error)) (M, string, error) {
	var zero M
	b, cp, err := ReadConfig(dir, arch)
	if err != nil {
		return zero, "", err
	}
	m, err := build(b)
	if err != nil {
		return zero, "", fmt.Errorf("%s: %w", cp, err)
	}
	wp := WeightsPath(dir, w)
	if err := m.LoadWeights(wp); err != nil {
		return zero, "", err
	}
	return m, wp, nil
}

// WeightsPath returns the weights file of dir that w selects: with
// AutoWeights the averaged weights when the folder has them.
func WeightsPath(dir string, w Weights) string {
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
	return wp
}

// LoadWeights reads params from a safetensors file (any float dtype).
// Every parameter must be there with its shape, and nothing else; errors
// name the file and are prefixed by arch.
func LoadWeights(path, arch string, params []*ag.Var) error {
	if err := nn.Load(path, params, nil); err != nil {
		return fmt.Errorf("%s: %w", arch, err)
	}
	return nil
}

// WriteAtomic writes data to path through a temporary file in the same
// folder, renamed over path once complete.
func WriteAtomic(path string, data []byte) error {
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
