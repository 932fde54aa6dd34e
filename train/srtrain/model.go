package srtrain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/runfolder"
)

// LoadModel loads the model that a --model argument names: a model folder
// (one with config.json), a run folder (its model/ folder once training
// has finished, else its latest checkpoint), or a checkpoint folder of a
// run. It returns the model and a description of the weights it read.
func LoadModel(path string, w srnet.Weights) (*srnet.Model, string, error) {
	return LoadNet(path, w, srnet.Load, func(arch json.RawMessage) (*srnet.Model, error) {
		var c srnet.Config
		if err := json.Unmarshal(arch, &c); err != nil {
			return nil, err
		}
		return srnet.New(c, rng.New(0, srnet.Arch))
	})
}

// LoadNet is LoadModel for any network that a Loop trains: load reads a
// model folder, and build makes an untrained network from the
// architecture that a checkpoint's state saved (Task.Arch).
func LoadNet[M Net](path string, w modeldir.Weights, load func(dir string, w modeldir.Weights) (M, string, error), build func(arch json.RawMessage) (M, error)) (M, string, error) {
	var zero M
	if modeldir.IsModelDir(path) {
		return load(path, w)
	}
	if md := filepath.Join(path, ModelDir); modeldir.IsModelDir(md) {
		return load(md, w)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return zero, "", fmt.Errorf("--model: %w", err)
	}
	if !fi.IsDir() {
		return zero, "", fmt.Errorf("--model %s: not a folder (want a model folder, a run folder or a checkpoint)", path)
	}
	run := &runfolder.Run{Dir: path}
	ck, err := run.Resolve(path)
	if err != nil {
		return zero, "", fmt.Errorf("--model %s is neither a model folder (no %s), a finished run (no %s/) nor a run with checkpoints", path, modeldir.ConfigFile, ModelDir)
	}
	c, err := runfolder.Load(ck)
	if err != nil {
		return zero, "", err
	}
	var st trainerState
	if err := json.Unmarshal(c.State, &st); err != nil {
		return zero, "", fmt.Errorf("checkpoint %s: state: %w", ck, err)
	}
	m, err := build(st.Model)
	if err != nil {
		return zero, "", fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	group := "model"
	if _, ok := c.Groups["ema"]; ok && w != modeldir.RawWeights {
		group = "ema"
	} else if w == modeldir.EMAWeights {
		return zero, "", fmt.Errorf("checkpoint %s has no EMA weights", ck)
	}
	if err := m.SetWeights(c.Groups[group]); err != nil {
		return zero, "", fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	return m, fmt.Sprintf("%s (%s weights, step %d)", ck, group, c.Step), nil
}
