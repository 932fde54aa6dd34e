// Package bfrtrain trains the face restoration network of package bfrnet
// on aligned face pairs at scale 1 (HR/ and LR/ of the same size, as
// "degradiff degrade --preset face" writes them): whole faces (or random
// square patches of them) with random horizontal flips, an L1 (or
// Charbonnier) loss, AdamW with a cosine schedule and an exponential
// moving average of the weights.
//
// It is a thin layer over the training loop of package srtrain (Loop):
// the run folder, log, loss curve, checkpoints, bit-for-bit resume and
// independence from the number of cores are srtrain's.
package bfrtrain

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/models/bfrnet"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/train/runfolder"
	"github.com/degradiff/degradiff/train/srtrain"
)

// Files of a run folder: those of srtrain.
const (
	ConfigFile = srtrain.ConfigFile // the settings, as run
	ModelDir   = srtrain.ModelDir   // the final model, a bfrnet model folder
)

// ErrInterrupted is returned by Trainer.Run when its context is
// cancelled, after a checkpoint was saved.
var ErrInterrupted = srtrain.ErrInterrupted

// Config holds every setting of a face restoration training run.
type Config struct {
	// Model is the network's architecture; its face_size is the size of
	// the training faces.
	Model bfrnet.Config `yaml:"model"`
	// OutInitScale multiplies the PyTorch-default initial weights and bias
	// of the output convolution (conv_last), so that the untrained network
	// starts near its input (the global residual) rather than at the
	// input plus a random correction. 1 keeps PyTorch's initialisation.
	OutInitScale float64 `yaml:"out_init_scale"`
	// RandomHFlip flips faces left to right at random, when random_flip
	// (which also flips them upside down) and random_rot90 are off.
	RandomHFlip bool `yaml:"random_hflip"`

	srtrain.Training `yaml:",inline"`
}

// Default returns the default settings: the default bfrnet for 128x128
// faces with its output layer's initialisation scaled by 0.1, whole faces
// (patch_size = face_size) in batches of 8 with random horizontal flips
// (GFPGAN's only geometric augmentation), L1 loss, AdamW with betas
// (0.9, 0.99) and no weight decay, learning rate 1e-3 with 100 warm-up
// steps and a cosine schedule, an EMA of the weights capped at 0.999, and
// 3600 steps: about an hour on 2 CPU cores (0.8 to 1.2 s a step measured,
// see bfrnet.DefaultConfig).
func Default() Config {
	m := bfrnet.DefaultConfig()
	return Config{
		Model:        m,
		OutInitScale: 0.1,
		RandomHFlip:  true,
		Training: srtrain.Training{
			PatchSize:      m.FaceSize,
			Steps:          3600,
			BatchSize:      8,
			Loss:           "l1",
			CharbonnierEps: 1e-3,
			Settings: optim.Settings{
				LR:          1e-3,
				LRSchedule:  "cosine",
				WarmupSteps: 100,
				AdamBeta1:   0.9,
				AdamBeta2:   0.99,
				AdamEps:     1e-8,
				UseEMA:      true,
				EMAMaxDecay: 0.999,
				EMAInvGamma: 1,
				EMAPower:    0.75,
			},
			Precision:       "fp32",
			CheckpointEvery: 500,
			KeepCheckpoints: 3,
			LogEvery:        10,
		},
	}
}

// ParseYAML reads settings from YAML on top of c, refusing unknown keys.
func (c Config) ParseYAML(b []byte) (Config, error) { return yamlconf.Parse(b, c) }

// LoadFile reads a YAML config file on top of the defaults.
func LoadFile(path string) (Config, error) { return yamlconf.Load(path, Default()) }

// YAML returns the settings as YAML.
func (c Config) YAML() []byte { return yamlconf.Marshal(c) }

// Validate names the first impossible setting.
func (c Config) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if !(c.OutInitScale >= 0) || math.IsInf(c.OutInitScale, 1) {
		return fmt.Errorf("out_init_scale: %v must be finite and not negative", c.OutInitScale)
	}
	if err := c.Training.Validate(); err != nil {
		return err
	}
	if k := c.Model.Multiple(); c.PatchSize%k != 0 || c.PatchSize > c.Model.FaceSize {
		return fmt.Errorf("patch_size: %d must be a multiple of %d (the network's downsamplings) and at most model.face_size %d",
			c.PatchSize, k, c.Model.FaceSize)
	}
	return nil
}

// Trainer trains a bfrnet model on face pairs in a run folder.
type Trainer = srtrain.Loop[*bfrnet.Model]

// Task returns what the training loop needs to know about the network.
func (c Config) Task() srtrain.Task {
	return srtrain.Task{Name: "bfr train", Chart: "face restoration training loss", Scale: 1, Channels: c.Model.InChannels,
		Arch: c.Model, Settings: c.YAML(), HFlip: c.RandomHFlip}
}

// New prepares a trainer with a freshly initialised model. data must be
// opened at scale 1, and every pair must be a face of model.face_size
// pixels a side.
func New(cfg Config, run *runfolder.Run, data *pairread.Set, log io.Writer) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data.Scale != 1 {
		return nil, fmt.Errorf("pairs %s are opened at scale %d: face pairs are at scale 1 (LR resized back to the HR size)", data.Dir, data.Scale)
	}
	s := cfg.Model.FaceSize
	for _, p := range data.Pairs {
		if p.LRW != s || p.LRH != s {
			return nil, fmt.Errorf("pair %s: %s is %dx%d, not model.face_size %dx%d: align the faces at that size (degradiff faces align --size %d) before degrading them, or set model.face_size",
				p.Name, p.LRPath, p.LRW, p.LRH, s, s, s)
		}
	}
	model, err := bfrnet.New(cfg.Model, rng.New(cfg.Seed, "init"))
	if err != nil {
		return nil, err
	}
	srtrain.ScaleInit(model.ConvLast.Params(), cfg.OutInitScale)
	return srtrain.NewLoop(cfg.Task(), cfg.Training, model, run, data, log)
}

// LoadModel loads the model that a --model argument names: a model folder
// (one with config.json), a run folder (its model/ folder once training
// has finished, else its latest checkpoint), or a checkpoint folder of a
// run. It returns the model and a description of the weights it read.
func LoadModel(path string, w modeldir.Weights) (*bfrnet.Model, string, error) {
	m, src, err := srtrain.LoadNet(path, w, bfrnet.Load, func(arch json.RawMessage) (*bfrnet.Model, error) {
		var c bfrnet.Config
		if err := json.Unmarshal(arch, &c); err != nil {
			return nil, err
		}
		return bfrnet.New(c, rng.New(0, bfrnet.Arch))
	})
	return m, src, err
}
