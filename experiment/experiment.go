// Package experiment runs the whole experiment of the method on given
// folders: it makes training pairs from the same HQ crops with several LQ
// sources (hand-made degradations, and the degradation refined by the
// diffusion model), measures how far each source's LQ images are from real
// ones, trains the same super-resolution network on each source's pairs
// with the same budget, tests every network on real paired test images, and
// writes a report.
//
// Run works in an output folder OUT, one stage after the other, each stage
// keeping its results there so that an interrupted run resumes where it
// stopped:
//
//	OUT/config.yaml             the settings (a rerun must agree with them)
//	OUT/crops.json              stage 1: the HQ sub-images, the same for every source
//	OUT/adapt/                  before the Method's pairs: the diffusion model
//	                            fine-tuned on the real LQ images (package ddpm)
//	OUT/calibrate/              before the Calibrated sources' pairs: the official
//	                            ranges fitted to the real LQ images (package calibrate)
//	OUT/pairs/SOURCE/           stage 2: BasicSR-style pairs (package pairset)
//	OUT/gap/SOURCE.json         stage 3: the source's LR/ against the real LQ images
//	OUT/sr/SOURCE/              stage 4: the SR training run (package srtrain)
//	OUT/test/SOURCE.json        stage 5: PSNR and SSIM on the real test pairs
//	OUT/stages.json             the compute time of each stage
//	OUT/report.md, report.html, results.json, curves.png, samples.png,
//	    adapt.png (the loss of the adapt stage)
//
// The Method source refines the official degradation with a diffusion
// model that should model the real LQ images. With Config.Adapt.Steps > 0
// (every budget), the stage "adapt" first fine-tunes the given model (or
// the built-in one) on the selected real LQ images, and the Method uses the
// result, OUT/adapt/model.
//
// Every source uses the same item names and seeds, so "official" and
// "official+ddpm" start from the same initial LQ image for each pair (the
// latter keeps it in LR_init/): the diffusion step is the only difference
// between them.
//
// The settings come from a budget (see Default): "tiny" for tests
// (seconds), "quick" for checks (minutes on 2 cores) and "full" for the
// measurement (hours).
package experiment

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/synth"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/train/srtrain"
)

// The LQ sources. The first four are degradation presets of package
// degrade; Method is the official degradation refined by the diffusion
// model (package synth).
const (
	Bicubic    = "bicubic"
	RealESRGAN = "realesrgan"
	Official   = "official"
	BSRGAN     = "bsrgan"
	Method     = "official+ddpm"
	// Calibrated is the official degradation with its ranges fitted to the
	// real LQ images (package calibrate, Config.Calibration);
	// CalibratedMethod refines it with the diffusion model, as Method
	// refines Official.
	Calibrated       = "calibrated"
	CalibratedMethod = "calibrated+ddpm"
	// Real trains on real training pairs (Config.RealPairs): the ceiling
	// every synthetic source aims at. It is not in Default's sources,
	// since it needs a paired folder.
	Real = "real"
)

// Sources lists every source, in report order.
var Sources = []string{Bicubic, RealESRGAN, Official, BSRGAN, Method, Calibrated, CalibratedMethod, Real}

// Budgets lists the budget names Default knows.
var Budgets = []string{"tiny", "quick", "full"}

// SynthConfig sets the diffusion step of the Method source (see
// synth.Options).
type SynthConfig struct {
	Sampler     string  `yaml:"sampler" json:"sampler"`
	FinalSigmas string  `yaml:"final_sigmas" json:"final_sigmas"`
	Steps       int     `yaml:"steps" json:"steps"`
	MaxStrength float64 `yaml:"max_strength" json:"max_strength"`
	Tile        int     `yaml:"tile" json:"tile"`
	TileOverlap int     `yaml:"tile_overlap" json:"tile_overlap"`
	// Refine is what the step may change: rgb (""), or luma, keeping the
	// initial image's colour (pipeline.Options.Refine).
	Refine string `yaml:"refine,omitempty" json:"refine,omitempty"`
	// TailSteps splits ddim's last step in this many (0 or 1: not;
	// pipeline.Options.TailSteps).
	TailSteps int `yaml:"tail_steps,omitempty" json:"tail_steps,omitempty"`
}

// DefaultSynthConfig is degradiff synth's defaults (synth.DefaultOptions).
func DefaultSynthConfig() SynthConfig {
	o := synth.DefaultOptions()
	return SynthConfig{Sampler: o.Sampler, FinalSigmas: o.FinalSigmas, Steps: o.Steps, MaxStrength: o.MaxStrength, Tile: o.Tile, TileOverlap: o.Overlap}
}

// Validate checks the settings that need no model; errors name the key
// under synth:.
func (s SynthConfig) Validate() error {
	switch {
	case s.Steps < 1 || s.Steps > 1000:
		return fmt.Errorf("synth.steps: %d is outside 1..1000", s.Steps)
	case !(s.MaxStrength >= 0 && s.MaxStrength <= 1):
		return fmt.Errorf("synth.max_strength: %v is outside [0, 1]", s.MaxStrength)
	}
	if err := pipeline.CheckRefine(s.Refine); err != nil {
		return fmt.Errorf("synth.refine: %w", err)
	}
	if err := pipeline.CheckTailSteps(s.TailSteps, s.Sampler); err != nil {
		return fmt.Errorf("synth.tail_steps: %w", err)
	}
	return nil
}

// String describes the diffusion step for the reports.
func (s SynthConfig) String() string {
	d := fmt.Sprintf("%s sampler (final sigmas %s), %d steps, strength uniform in [0, %g]", s.Sampler, s.FinalSigmas, s.Steps, s.MaxStrength)
	if s.TailSteps > 1 {
		d += fmt.Sprintf("; last step split in %d (tail_steps: %d)", s.TailSteps, s.TailSteps)
	}
	if s.Refine == pipeline.RefineLuma {
		d += "; only the luma change kept (refine: luma)"
	}
	return d
}

// Options returns the synthesis options of a degradation, a model and a
// seed with these settings.
func (s SynthConfig) Options(degradation degrade.Pipeline, m *pipeline.Model, seed uint64) synth.Options {
	return synth.Options{
		Degradation: degradation, Model: m.Predict, ModelID: m.ID, SchedulerConfig: m.SchedulerConfig,
		Options: s.Img2Img(), MaxStrength: s.MaxStrength, Seed: seed,
	}
}

// Img2Img returns the img2img settings of the diffusion step.
func (s SynthConfig) Img2Img() pipeline.Options {
	return pipeline.Options{Sampler: s.Sampler, FinalSigmas: s.FinalSigmas, Steps: s.Steps, Tile: s.Tile, Overlap: s.TileOverlap, Refine: s.Refine, TailSteps: s.TailSteps}
}

// CalibrationConfig sets the degradation of the Calibrated sources.
type CalibrationConfig struct {
	// Config is a degradation config file to use as it is, such as the
	// config.yaml of degradiff calibrate. Empty, the stage "calibrate"
	// fits the official preset's ranges to the selected real LQ images
	// (those the diffusion model is adapted to) with the HQ images, as
	// degradiff calibrate does, in OUT/calibrate.
	Config string `yaml:"config,omitempty" json:"config,omitempty"`
	// Budget is the number of evaluations of the fit, Crop and MaxCrops
	// its HQ crops (0: degradiff calibrate's defaults, 300 evaluations of
	// 192 crops of 256 pixels). Check is the number of configurations
	// measured in full to check the proxy (0: calibrate's default;
	// negative: none).
	Budget   int `yaml:"budget" json:"budget"`
	Crop     int `yaml:"crop" json:"crop"`
	MaxCrops int `yaml:"max_crops" json:"max_crops"`
	Check    int `yaml:"check" json:"check"`
	// ThroughStep fits through the diffusion step (calibrate --model):
	// every LQ image of the fit is refined by the Method's model (adapted
	// first) with the synth settings, so that the fit is the initial
	// degradation of calibrated+ddpm's LQ images rather than the one
	// closest without the step.
	ThroughStep bool `yaml:"through_step" json:"through_step"`
}

// AdaptConfig sets the fine-tuning of the Method's diffusion model on the
// real LQ images before it refines any pair. The training is package
// ddpm's with the settings of ddpm.Default() apart from these, the
// experiment's seed, a cosine learning-rate schedule and no previews; the
// architecture and the noise schedule are those of the model adapted.
type AdaptConfig struct {
	// Steps is the number of optimisation steps; 0 uses the model as
	// given.
	Steps int `yaml:"steps" json:"steps"`
	// BatchSize is the number of crops per step, each Resolution pixels
	// square.
	BatchSize  int `yaml:"batch_size" json:"batch_size"`
	Resolution int `yaml:"resolution" json:"resolution"`
	// LearningRate is the peak learning rate of AdamW, reached after
	// WarmupSteps steps and then lowered along a half cosine to 0.
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate"`
	WarmupSteps  int     `yaml:"warmup_steps" json:"warmup_steps"`
}

// Config holds every setting of an experiment. Errors about the inputs name
// them by the degradiff bench flag that sets them (--hq, --real-lq,
// --test, --model, --sources).
type Config struct {
	// HQ lists the folders of HQ source images (searched recursively).
	HQ []string `yaml:"hq" json:"hq"`
	// RealLQ is the folder of real LQ images that the diffusion model
	// learnt from, or is adapted to (Adapt); the LR images of every source
	// are compared with them. Names
	// (paths under the folder without extension) matching RealLQExclude
	// are left out, and with RealLQInclude only matching ones are kept.
	RealLQ        string   `yaml:"real_lq" json:"real_lq"`
	RealLQInclude []string `yaml:"real_lq_include,omitempty" json:"real_lq_include,omitempty"`
	RealLQExclude []string `yaml:"real_lq_exclude,omitempty" json:"real_lq_exclude,omitempty"`
	// Test is a paired folder of real test pairs (package pairread: HR/ and
	// LR/, or meta_info.txt), selected by HR name with TestInclude and
	// TestExclude.
	Test        string   `yaml:"test" json:"test"`
	TestInclude []string `yaml:"test_include,omitempty" json:"test_include,omitempty"`
	TestExclude []string `yaml:"test_exclude,omitempty" json:"test_exclude,omitempty"`
	// RealPairs is a paired folder (HR/ and LR/, as Test) of real training
	// pairs for the Real source, selected by HR name with
	// RealPairsInclude and RealPairsExclude. It must not share pairs with
	// Test.
	RealPairs        string   `yaml:"real_pairs,omitempty" json:"real_pairs,omitempty"`
	RealPairsInclude []string `yaml:"real_pairs_include,omitempty" json:"real_pairs_include,omitempty"`
	RealPairsExclude []string `yaml:"real_pairs_exclude,omitempty" json:"real_pairs_exclude,omitempty"`
	// Val is a paired folder (as Test) of real pairs to validate on,
	// selected by HR name with ValInclude and ValExclude: every network
	// is also tested on them (OUT/val/), so that settings can be compared
	// downstream without looking at the test pairs (on RealSR: the
	// training split's pairs). It must not share pairs with Test, nor
	// HR images with HQ. The Real source is not validated when it trains
	// on any of them.
	Val        string   `yaml:"val,omitempty" json:"val,omitempty"`
	ValInclude []string `yaml:"val_include,omitempty" json:"val_include,omitempty"`
	ValExclude []string `yaml:"val_exclude,omitempty" json:"val_exclude,omitempty"`
	// SRSeeds is the number of SR networks trained per source, with
	// seeds Seed, Seed+1, ...: the report gives their mean, standard
	// deviation and intervals over seeds (0 means 1).
	SRSeeds int `yaml:"sr_seeds,omitempty" json:"sr_seeds,omitempty"`
	// Model is the diffusion model of the Method source: a diffusers
	// pipeline or UNet folder; "" is the built-in default model. ModelEMA
	// uses a pipeline's unet_ema/ weights.
	Model    string `yaml:"model" json:"model"`
	ModelEMA bool   `yaml:"model_ema" json:"model_ema"`

	// Sources are the LQ sources compared, a subset of Sources.
	Sources []string `yaml:"sources" json:"sources"`
	// Budget names the budget the settings came from (informative).
	Budget string `yaml:"budget" json:"budget"`
	// Seed keys every random draw: the crop subset, the degradations, the
	// diffusion noise, the SR training (it replaces SR.Seed) and, unless
	// Gap.Seed is set, the measurements.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Scale is the SR factor (4): of the degradations, the network and the
	// test pairs.
	Scale int `yaml:"scale" json:"scale"`

	// Crop, CropStep and CropThresh cut the HQ images into Crop x Crop
	// sub-images every CropStep pixels (synth.Crops); MaxCrops, when
	// positive, keeps a random subset of that many. PerImage is the number
	// of LQ variants per crop.
	Crop       int `yaml:"crop" json:"crop"`
	CropStep   int `yaml:"crop_step" json:"crop_step"`
	CropThresh int `yaml:"crop_thresh" json:"crop_thresh"`
	MaxCrops   int `yaml:"max_crops" json:"max_crops"`
	PerImage   int `yaml:"per_image" json:"per_image"`

	// Adapt fine-tunes the Method's diffusion model on the real LQ
	// images first.
	Adapt AdaptConfig `yaml:"adapt" json:"adapt"`
	// Synth sets the diffusion step of the Method source.
	Synth SynthConfig `yaml:"synth" json:"synth"`
	// Calibration sets the degradation of the Calibrated sources.
	Calibration CalibrationConfig `yaml:"calibration" json:"calibration"`
	// SR is the training of the super-resolution network, the same for
	// every source.
	SR srtrain.Config `yaml:"sr" json:"sr"`
	// Gap configures the measurement of the LQ images against the real
	// ones.
	Gap measure.Options `yaml:"gap" json:"gap"`
	// SampleImages is the number of test images shown in samples.png.
	SampleImages int `yaml:"sample_images" json:"sample_images"`

	// Workers is the number of HQ images degraded at once (the other
	// stages use every core on their own). It does not change any result.
	Workers int `yaml:"-" json:"-"`
	// Command is the command line shown in the report.
	Command string `yaml:"-" json:"-"`
}

// Default returns the settings of a budget, without inputs:
//
//   - "tiny" (seconds, for tests): 128-pixel crops, at most 4 of them;
//     the diffusion model adapted for 3 steps of 2 crops of 16 pixels; a
//     one-block 8-channel network trained for 20 steps on 16-pixel
//     patches; 10 diffusion steps; 2 feature crops of 32 pixels per image
//     and a 2-split classifier test of 4 steps on 16-pixel patches.
//   - "quick" (minutes on 2 cores, for checks): 256-pixel crops every 128
//     pixels, a random 24 of them; the diffusion model adapted for 100
//     steps of 8 crops of 64 pixels (10 warm-up steps); the default
//     network trained for 300 steps of 8 patches of 48 pixels; the
//     default measurements with a 3-split classifier test of 100 steps.
//   - "full" (hours): every 256-pixel crop every 128 pixels; the diffusion
//     model adapted for 1000 steps of 8 crops of 64 pixels (100 warm-up
//     steps), the recipe validated on RealSR; srtrain's defaults (6000
//     steps of 16 patches); the default measurements.
//
// All budgets draw one LQ variant per crop, adapt the diffusion model with
// the peak learning rate 1e-4, run the diffusion step as degradiff synth
// does by default (DDIM, strength up to 0.25 of 50 steps) and use seed 0.
func Default(budget string) (Config, error) {
	sr := srtrain.Default()
	c := Config{
		Sources:      []string{Bicubic, RealESRGAN, Official, BSRGAN, Method},
		Budget:       budget,
		Scale:        4,
		Crop:         256,
		CropStep:     128,
		PerImage:     1,
		Adapt:        AdaptConfig{Steps: 1000, BatchSize: 8, Resolution: 64, LearningRate: 1e-4, WarmupSteps: 100},
		Synth:        DefaultSynthConfig(),
		SampleImages: 4,
	}
	switch budget {
	case "tiny":
		c.Crop, c.CropStep, c.MaxCrops = 128, 64, 4
		c.Adapt = AdaptConfig{Steps: 3, BatchSize: 2, Resolution: 16, LearningRate: 1e-4, WarmupSteps: 1}
		c.Synth.Steps = 10
		c.Calibration = CalibrationConfig{Budget: 3, Crop: 128, MaxCrops: 4, Check: -1}
		sr.Model.NumFeat, sr.Model.NumBlock = 8, 1
		sr.PatchSize, sr.BatchSize, sr.Steps = 16, 4, 20
		sr.WarmupSteps, sr.LogEvery, sr.CheckpointEvery = 2, 2, 10
		c.Gap = measure.Options{
			Features: features.Options{PatchSize: 32, Patches: 2},
			C2ST:     c2st.Options{PatchSize: 16, Patches: 2, Splits: 2, Steps: 4, BatchSize: 8, Width: 4},
		}
		c.SampleImages = 2
	case "quick":
		c.MaxCrops = 24
		c.Adapt.Steps, c.Adapt.WarmupSteps = 100, 10
		sr.BatchSize, sr.Steps = 8, 300
		sr.WarmupSteps, sr.CheckpointEvery = 30, 100
		c.Gap.C2ST = c2st.Options{Splits: 3, Steps: 100}
	case "full":
	default:
		return Config{}, fmt.Errorf("unknown budget %q (want %s)", budget, strings.Join(Budgets, ", "))
	}
	c.SR = sr
	return c, nil
}

// Load returns the settings of a budget with the keys of a YAML file on
// top. An empty budget takes the file's "budget:" key, or "quick".
func Load(budget, file string) (Config, error) {
	return yamlconf.LoadBudget(budget, file, "quick", Default, func(c *Config, b string) { c.Budget = b })
}

// ParseYAML reads settings from YAML on top of c, refusing unknown keys.
func (c Config) ParseYAML(b []byte) (Config, error) {
	if err := yamlconf.Decode(b, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// YAML returns the settings as YAML.
func (c Config) YAML() []byte {
	b, _ := yaml.Marshal(c)
	return b
}

// Validate names the first impossible setting. It checks the settings
// only; Run checks the folders.
func (c Config) Validate() error {
	if len(c.HQ) == 0 {
		return errors.New("--hq: at least one folder of HQ images is required")
	}
	if c.RealLQ == "" {
		return errors.New("--real-lq: the folder of real LQ images is required")
	}
	if c.Test == "" {
		return errors.New("--test: the folder of real test pairs (HR/ and LR/) is required")
	}
	if err := CheckSources(c.Sources); err != nil {
		return err
	}
	for _, s := range c.Sources {
		if s == Real && c.RealPairs == "" {
			return errors.New("--real-pairs: the source real needs a folder of real training pairs (HR/ and LR/)")
		}
	}
	if c.Val == "" && len(c.ValInclude)+len(c.ValExclude) > 0 {
		return errors.New("--val-include, --val-exclude (val_include, val_exclude): they select pairs of --val (val), which is not given")
	}
	if c.SRSeeds < 0 || c.SRSeeds > 20 {
		return fmt.Errorf("sr_seeds: %d is outside 0..20", c.SRSeeds)
	}
	for key, globs := range map[string][]string{
		"real_lq_include": c.RealLQInclude, "real_lq_exclude": c.RealLQExclude,
		"test_include": c.TestInclude, "test_exclude": c.TestExclude,
		"real_pairs_include": c.RealPairsInclude, "real_pairs_exclude": c.RealPairsExclude,
		"val_include": c.ValInclude, "val_exclude": c.ValExclude,
	} {
		for _, g := range globs {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("%s: bad name pattern %q: %w", key, g, err)
			}
		}
	}
	bad := func(key string, v any, why string) error { return fmt.Errorf("%s: %v %s", key, v, why) }
	switch {
	case c.Scale < 1 || c.Scale > 8:
		return bad("scale", c.Scale, "is outside 1..8")
	case c.Crop < 1 || c.Crop%c.Scale != 0:
		return bad("crop", c.Crop, fmt.Sprintf("must be a positive multiple of the scale %d", c.Scale))
	case c.CropStep < 1:
		return bad("crop_step", c.CropStep, "must be at least 1")
	case c.CropThresh < 0:
		return bad("crop_thresh", c.CropThresh, "must not be negative")
	case c.MaxCrops < 0:
		return bad("max_crops", c.MaxCrops, "must not be negative (0 keeps every crop)")
	case c.PerImage < 1:
		return bad("per_image", c.PerImage, "must be at least 1")
	case c.SampleImages < 0:
		return bad("sample_images", c.SampleImages, "must not be negative")
	case c.SR.Model.Scale != c.Scale:
		return bad("sr.model.scale", c.SR.Model.Scale, fmt.Sprintf("differs from scale %d", c.Scale))
	case c.SR.Model.InChannels != 3:
		return bad("sr.model.in_channels", c.SR.Model.InChannels, "must be 3 (RGB images)")
	case c.SR.PatchSize > c.Crop/c.Scale:
		return bad("sr.patch_size", c.SR.PatchSize, fmt.Sprintf("is larger than the LR crops (%d = crop / scale)", c.Crop/c.Scale))
	}
	if err := c.Synth.Validate(); err != nil {
		return err
	}
	if err := c.Adapt.validate(); err != nil {
		return err
	}
	switch k := c.Calibration; {
	case k.Budget < 0:
		return bad("calibration.budget", k.Budget, "must not be negative (0: the default)")
	case k.Crop < 0:
		return bad("calibration.crop", k.Crop, "must not be negative (0: the default)")
	case k.MaxCrops < 0:
		return bad("calibration.max_crops", k.MaxCrops, "must not be negative (0: the default)")
	case k.ThroughStep && k.Config != "":
		return errors.New("calibration.through_step: the step shapes the bench's own fit; a given --calibration file is used as it is (fit it with degradiff calibrate --model instead)")
	}
	if err := c.SR.Validate(); err != nil {
		return fmt.Errorf("sr: %w", err)
	}
	if err := c.Gap.Features.Validate(); err != nil {
		return fmt.Errorf("gap: %w", err)
	}
	if lr, p := c.Crop/c.Scale, c.Gap.Features.WithDefaults().PatchSize; lr < p {
		return fmt.Errorf("gap.features.patch_size: %d is larger than the LR crops (%d = crop / scale)", p, lr)
	}
	if !c.Gap.SkipC2ST {
		if err := c.Gap.C2ST.Validate(); err != nil {
			return fmt.Errorf("gap: %w", err)
		}
	}
	return nil
}

// refined reports whether a source refines its initial LQ images with the
// diffusion model, and initial names the source that makes them.
func refined(source string) bool { return source == Method || source == CalibratedMethod }

func initial(source string) string {
	switch source {
	case Method:
		return Official
	case CalibratedMethod:
		return Calibrated
	}
	return source
}

// calibrated reports whether a source uses the calibrated degradation.
func calibrated(source string) bool { return initial(source) == Calibrated }

// CheckSources reports an unknown or repeated source name.
func CheckSources(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("--sources: no source given (want some of %s)", strings.Join(Sources, ","))
	}
	seen := map[string]bool{}
	for _, s := range list {
		if !isSource(s) {
			return fmt.Errorf("--sources: unknown source %q (want some of %s)", s, strings.Join(Sources, ","))
		}
		if seen[s] {
			return fmt.Errorf("--sources: %s is given twice", s)
		}
		seen[s] = true
	}
	return nil
}

func isSource(s string) bool {
	for _, k := range Sources {
		if s == k {
			return true
		}
	}
	return false
}

// ordered returns the sources of list in Sources order.
func ordered(list []string) []string {
	out := append([]string(nil), list...)
	rank := func(s string) int {
		for i, k := range Sources {
			if k == s {
				return i
			}
		}
		return len(Sources)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}
