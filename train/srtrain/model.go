package srtrain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/internal/rng"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/train/runfolder"
)

// LoadModel loads the model that a --model argument names: a model folder
// (one with config.json), a run folder (its model/ folder once training
// has finished, else its latest checkpoint), or a checkpoint folder of a
// run. It returns the model and a description of the weights it read.
func LoadModel(path string, w srnet.Weights) (*srnet.Model, string, error) {
	if srnet.IsModelDir(path) {
		return srnet.Load(path, w)
	}
	if md := filepath.Join(path, ModelDir); srnet.IsModelDir(md) {
		return srnet.Load(md, w)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("--model: %w", err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("--model %s: not a folder (want a model folder, a run folder or a checkpoint)", path)
	}
	run := &runfolder.Run{Dir: path}
	ck, err := run.Resolve(path)
	if err != nil {
		return nil, "", fmt.Errorf("--model %s is neither a model folder (no %s), a finished run (no %s/) nor a run with checkpoints", path, srnet.ConfigFile, ModelDir)
	}
	c, err := runfolder.Load(ck)
	if err != nil {
		return nil, "", err
	}
	var st trainerState
	if err := json.Unmarshal(c.State, &st); err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: state: %w", ck, err)
	}
	m, err := srnet.New(st.Model, rng.New(0, srnet.Arch))
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	group := "model"
	if _, ok := c.Groups["ema"]; ok && w != srnet.RawWeights {
		group = "ema"
	} else if w == srnet.EMAWeights {
		return nil, "", fmt.Errorf("checkpoint %s has no EMA weights", ck)
	}
	if err := m.SetWeights(c.Groups[group]); err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	return m, fmt.Sprintf("%s (%s weights, step %d)", ck, group, c.Step), nil
}
