// Package srtrain trains the super-resolution network of package srnet on a
// paired folder (package pairread): random LR patches and their HR
// counterparts, random flips and 90° rotations, an L1 (or Charbonnier)
// loss, AdamW with a cosine schedule and an exponential moving average of
// the weights.
//
// A run lives in a run folder (package runfolder), exactly like a DDPM
// training run: config.yaml, log.jsonl, loss.png, checkpoints/ (the last
// keep_checkpoints kept) and, at the end, model/ (a srnet model folder).
// Every random draw of step s comes from a stream keyed by (seed, s), so a
// run resumed from a checkpoint continues bit for bit as if it had never
// stopped, and the result does not depend on the number of cores.
//
// The training length is the config's steps. Budget names the two lengths
// degradiff's benchmark uses, so that models trained on different pairs
// compare at equal cost.
//
// The loop itself (Loop, with its settings Training) trains any paired
// image-to-image network behind the small interface Net: Trainer is the
// Loop of srnet, and package bfrtrain runs the face restoration network of
// package bfrnet through the same Loop.
package srtrain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/engine/optim"

	"github.com/degradiff/degradiff/internal/yamlconf"

	"github.com/degradiff/degradiff/models/srnet"
)

// Config holds every setting of a super-resolution training run: the
// network and the settings of the training loop.
type Config struct {
	// Model is the network's architecture.
	Model srnet.Config `yaml:"model"`
	// OutInitScale multiplies the PyTorch-default initial weights and bias
	// of the output convolution (conv_up), as BasicSR's
	// default_init_weights(scale=0.1) scales its residual blocks: with 0.1
	// the untrained default network starts near its bicubic base (20.80 dB
	// on held-out Real-ESRGAN pairs where bicubic gives 20.91; 15.94 dB
	// with 1), so short budgets do not spend their first steps undoing a
	// random output. 1 keeps PyTorch's initialisation.
	OutInitScale float64 `yaml:"out_init_scale"`

	Training `yaml:",inline"`
}

// Training holds the settings of the training loop (Loop) that do not
// depend on the network: patches, augmentation, length, loss, optimiser,
// run folder and seed. Every network's settings embed it.
type Training struct {
	// PatchSize is the side of the square LR (input) training patches; the
	// HR patches are the network's scale times larger.
	PatchSize int `yaml:"patch_size"`
	// RandomFlip flips patches horizontally and vertically at random;
	// RandomRot90 also transposes them (the 8 symmetries of the square).
	RandomFlip  bool `yaml:"random_flip"`
	RandomRot90 bool `yaml:"random_rot90"`

	Steps     int `yaml:"steps"`
	BatchSize int `yaml:"batch_size"`

	// Loss is "l1" or "charbonnier" (sqrt(d² + eps²)).
	Loss           string  `yaml:"loss"`
	CharbonnierEps float64 `yaml:"charbonnier_eps"`

	optim.Settings `yaml:",inline"`

	// Precision is the arithmetic of the network's products
	// (gemm.Precision): fp32, or bf16, mixed precision: bfloat16 factors,
	// float32 sums, float32 weights, gradients, optimizer state and EMA.
	// bf16 is faster on CPUs with AMX-BF16 or AMD's AVX512_BF16 and slower
	// elsewhere.
	Precision string `yaml:"precision"`

	// Run folder.
	CheckpointEvery int `yaml:"checkpoint_every"`
	KeepCheckpoints int `yaml:"keep_checkpoints"`
	// LogEvery is the number of steps each log.jsonl line averages.
	LogEvery int    `yaml:"log_every"`
	Seed     uint64 `yaml:"seed"`
}

// Default returns the settings of the full budget: the default srnet with
// its output layer's initialisation scaled by 0.1, LR patches of 48
// pixels in batches of 16 (EDSR's and BasicSR's setting) with random
// flips and rotations, L1 loss, AdamW with BasicSR's betas (0.9, 0.99)
// and no weight decay, a cosine schedule after 100 warm-up steps, and an
// EMA of the weights capped at 0.999.
//
// The learning rate is 1e-3, five times BasicSR's 2e-4, because short
// runs gain from it: in 500 steps on Real-ESRGAN-degraded pairs, the
// default network reached 21.13 dB on held-out pairs with 1e-3 and
// out_init_scale 0.1, against 21.07 dB with 5e-4 and PyTorch's
// initialisation (bicubic: 20.91 dB).
func Default() Config {
	steps, _ := Budget("full")
	return Config{
		Model:        srnet.DefaultConfig(),
		OutInitScale: 0.1,
		Training: Training{
			PatchSize:      48,
			RandomFlip:     true,
			RandomRot90:    true,
			Steps:          steps,
			BatchSize:      16,
			Loss:           "l1",
			CharbonnierEps: 1e-3,
			Settings: optim.Settings{
				LR:          1e-3,
				LRSchedule:  "cosine",
				WarmupSteps: 100,
				AdamBeta1:   0.9,
				AdamBeta2:   0.99,
				AdamEps:     1e-8,
				WeightDecay: 0,
				MaxGradNorm: 0,
				UseEMA:      true,
				EMAMaxDecay: 0.999,
				EMAInvGamma: 1,
				EMAPower:    0.75,
			},
			Precision:       "fp32",
			CheckpointEvery: 500,
			KeepCheckpoints: 3,
			LogEvery:        10,
			Seed:            0,
		},
	}
}

// budgets are the training lengths, in steps of Default's batch, of the
// named budgets; see Budget.
var budgets = map[string]int{
	"quick": 600,
	"full":  6000,
}

// Budget returns the number of steps of a named training budget: "quick"
// (a few minutes on 2 CPU cores with the default model) or "full" (about
// an hour). Budgets are step counts, not times, so that runs are
// reproducible on any machine.
func Budget(name string) (int, error) {
	if n, ok := budgets[name]; ok {
		return n, nil
	}
	var names []string
	for k := range budgets {
		names = append(names, k)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown budget %q (want %s)", name, strings.Join(names, " or "))
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
	if !(c.OutInitScale >= 0) {
		return fmt.Errorf("out_init_scale: %v must not be negative", c.OutInitScale)
	}
	return c.Training.Validate()
}

// Validate names the first impossible setting of the training loop.
func (c Training) Validate() error {
	bad := func(key string, v any, why string) error { return fmt.Errorf("%s: %v %s", key, v, why) }
	switch {
	case c.PatchSize < 1:
		return bad("patch_size", c.PatchSize, "must be at least 1")
	case c.Steps < 1:
		return bad("steps", c.Steps, "must be at least 1")
	case c.BatchSize < 1:
		return bad("batch_size", c.BatchSize, "must be at least 1")
	case c.Loss != "l1" && c.Loss != "charbonnier":
		return bad("loss", c.Loss, "must be l1 or charbonnier")
	case c.Loss == "charbonnier" && !(c.CharbonnierEps > 0):
		return bad("charbonnier_eps", c.CharbonnierEps, "must be positive")
	case c.Precision != "fp32" && c.Precision != "bf16":
		return bad("precision", c.Precision, "must be fp32 or bf16")
	case c.CheckpointEvery < 1:
		return bad("checkpoint_every", c.CheckpointEvery, "must be at least 1")
	case c.KeepCheckpoints < 0:
		return bad("keep_checkpoints", c.KeepCheckpoints, "must not be negative (0 keeps all)")
	case c.LogEvery < 1:
		return bad("log_every", c.LogEvery, "must be at least 1")
	}
	return c.Settings.Validate()
}
