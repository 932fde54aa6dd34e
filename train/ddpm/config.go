// Package ddpm trains the diffusion model that learns real low-quality
// images (step 1 of the method): random crops of the images in a folder,
// noise at a timestep below MaxDiffusionStep, and a UNet that predicts the
// noise, with the reference implementation's optimiser settings.
//
// A run lives in a run folder (package runfolder): its config, log,
// checkpoints, previews and loss curve. Every random draw is keyed by
// (seed, step) or (seed, epoch), so a run resumed from a checkpoint
// continues bit for bit as if it had never stopped.
package ddpm

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/optim"

	"github.com/degradiff/degradiff/internal/yamlconf"
)

// Config holds every setting of a DDPM training run.
type Config struct {
	// Model is a UNet preset (tiny, small, cpu, reference) or the path of a
	// diffusers config.json.
	Model string `yaml:"model"`
	// Resolution is the side of the square training crops.
	Resolution int `yaml:"resolution"`
	// MinSideFraction: an image whose shorter side is below Resolution but
	// at least this fraction of it is reflect-padded to Resolution; smaller
	// ones are skipped (and reported).
	MinSideFraction float64 `yaml:"min_side_fraction"`
	RandomFlip      bool    `yaml:"random_flip"`

	Steps          int `yaml:"steps"`
	BatchSize      int `yaml:"batch_size"`
	GradAccumSteps int `yaml:"grad_accum_steps"`

	optim.Settings `yaml:",inline"`

	// Diffusion.
	NumTrainTimesteps int     `yaml:"num_train_timesteps"`
	BetaSchedule      string  `yaml:"beta_schedule"`
	BetaStart         float64 `yaml:"beta_start"`
	BetaEnd           float64 `yaml:"beta_end"`
	MaxDiffusionStep  int     `yaml:"max_diffusion_step"`
	// Prediction is epsilon (MSE on the noise) or sample (SNR-weighted
	// MSE on the clean image, as the reference's option).
	Prediction string `yaml:"prediction_type"`
	// Precision is the arithmetic of the products (gemm.Precision): fp32,
	// or bf16, mixed precision: bfloat16 factors in the convolutions' and
	// linear layers' products, float32 sums, and float32 weights,
	// gradients, optimizer state, EMA and normalisations. bf16 is faster
	// on CPUs with AMX-BF16 or AMD's AVX512_BF16 and slower elsewhere.
	Precision string `yaml:"precision"`

	// Run folder.
	CheckpointEvery int       `yaml:"checkpoint_every"`
	KeepCheckpoints int       `yaml:"keep_checkpoints"`
	PreviewEvery    int       `yaml:"preview_every"`
	PreviewImages   int       `yaml:"preview_images"`
	PreviewSteps    int       `yaml:"preview_steps"`
	PreviewStrength []float64 `yaml:"preview_strengths"`
	Seed            uint64    `yaml:"seed"`
}

// Default returns the reference implementation's settings (train_ddpm.py:
// AdamW lr 1e-4, betas (0.95, 0.999), weight decay 1e-6, eps 1e-8, cosine
// schedule with 500 warm-up steps, gradient clipping 1.0, EMA with
// inv_gamma 1, power 3/4, max decay 0.9999, linear betas over 1000 steps,
// timesteps below 500, epsilon prediction) with the CPU model at 64x64.
func Default() Config {
	return Config{
		Model:           "cpu",
		Resolution:      64,
		MinSideFraction: 0.5,
		RandomFlip:      true,
		Steps:           20000,
		BatchSize:       8,
		GradAccumSteps:  1,
		Settings: optim.Settings{
			LR:          1e-4,
			LRSchedule:  "cosine",
			WarmupSteps: 500,
			AdamBeta1:   0.95,
			AdamBeta2:   0.999,
			AdamEps:     1e-8,
			WeightDecay: 1e-6,
			MaxGradNorm: 1.0,
			UseEMA:      true,
			EMAMaxDecay: 0.9999,
			EMAInvGamma: 1.0,
			EMAPower:    0.75,
		},
		NumTrainTimesteps: 1000,
		BetaSchedule:      "linear",
		BetaStart:         1e-4,
		BetaEnd:           0.02,
		MaxDiffusionStep:  500,
		Prediction:        "epsilon",
		Precision:         "fp32",
		CheckpointEvery:   500,
		KeepCheckpoints:   3,
		PreviewEvery:      2000,
		PreviewImages:     4,
		PreviewSteps:      50,
		PreviewStrength:   []float64{0.1, 0.25, 0.5},
		Seed:              0,
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
	bad := func(key string, v any, why string) error { return fmt.Errorf("%s: %v %s", key, v, why) }
	switch {
	case c.Model == "":
		return bad("model", `""`, "is empty (a preset: tiny, small, cpu, reference, or a config.json path)")
	case c.Resolution < 8 || c.Resolution%8 != 0:
		return bad("resolution", c.Resolution, "must be a positive multiple of 8")
	case !(c.MinSideFraction > 0 && c.MinSideFraction <= 1):
		return bad("min_side_fraction", c.MinSideFraction, "must be in (0, 1]")
	case c.Steps < 1:
		return bad("steps", c.Steps, "must be at least 1")
	case c.BatchSize < 1:
		return bad("batch_size", c.BatchSize, "must be at least 1")
	case c.GradAccumSteps < 1:
		return bad("grad_accum_steps", c.GradAccumSteps, "must be at least 1")
	case c.NumTrainTimesteps < 2:
		return bad("num_train_timesteps", c.NumTrainTimesteps, "must be at least 2")
	case c.MaxDiffusionStep < 1 || c.MaxDiffusionStep > c.NumTrainTimesteps:
		return bad("max_diffusion_step", c.MaxDiffusionStep, fmt.Sprintf("must be in 1..num_train_timesteps (%d)", c.NumTrainTimesteps))
	case c.Prediction != "epsilon" && c.Prediction != "sample":
		return bad("prediction_type", c.Prediction, "must be epsilon or sample")
	case c.Precision != "fp32" && c.Precision != "bf16":
		return bad("precision", c.Precision, "must be fp32 or bf16")
	case c.CheckpointEvery < 1:
		return bad("checkpoint_every", c.CheckpointEvery, "must be at least 1")
	case c.KeepCheckpoints < 0:
		return bad("keep_checkpoints", c.KeepCheckpoints, "must not be negative (0 keeps all)")
	case c.PreviewEvery < 0:
		return bad("preview_every", c.PreviewEvery, "must not be negative (0 disables previews)")
	case c.PreviewImages < 0:
		return bad("preview_images", c.PreviewImages, "must not be negative")
	case c.PreviewSteps < 1:
		return bad("preview_steps", c.PreviewSteps, "must be at least 1")
	}
	for _, s := range c.PreviewStrength {
		if !(s > 0 && s <= 1) {
			return bad("preview_strengths", s, "must be in (0, 1]")
		}
	}
	switch c.BetaSchedule {
	case "linear", "scaled_linear", "squaredcos_cap_v2":
	default:
		return bad("beta_schedule", c.BetaSchedule, "must be linear, scaled_linear or squaredcos_cap_v2")
	}
	return c.Settings.Validate()
}
