// Package facebench runs the face bench of the method (degradiff bench
// --task face): does a face restoration network trained on face pairs
// refined by a diffusion model of real LQ faces (the source face+ddpm)
// restore real LQ faces better than the same network trained on GFPGAN's
// degradation alone (the source face)?
//
// Both sources make their pairs from the same aligned HQ training faces,
// resized to the network's face size, with GFPGAN's degradation (the
// degrade preset "face" at scale 1, the LQ face resized back to the HQ
// size) under the same item names and seed, so that each face+ddpm pair
// starts from the very initial LQ face of the face pair (kept in its
// LR_init/); the diffusion step (package synth, as degradiff synth
// --preset face --model M does) is the only difference. The same network
// (package bfrnet) is trained with the same settings (package bfrtrain) on
// each source's pairs, with several training seeds, and measured on faces
// that no stage trains on or chooses a setting with. The sources
// calibrated and calibrated+ddpm do the same from a face degradation
// fitted to real LQ faces (Config.Calibration) instead of GFPGAN's, as
// the SR bench's calibrated sources do.
//
// The measures:
//
//   - held-out real LQ faces (no ground truth): the identity kept between
//     input and restored face (cosine similarity of face-api recognition
//     descriptors, package facemeasure), their landmark distance, and the
//     gap (KID, FD, classifier test; measure.Gap) between the restored
//     faces and held-out real HQ faces;
//   - held-out HQ faces degraded by a degradation that neither source
//     trains on (Config.HeldOutDegradation, BSRGAN's by default): PSNR,
//     SSIM (package fidelity) and identity to the ground truth;
//   - the gap between each source's LQ training faces and the held-out
//     real LQ faces.
//
// Faces are held out by a keyed hash of their names (Config.HeldOut,
// Config.SplitSeed), written to OUT/split.json.
//
// Run works in an output folder OUT, one stage after the other, each
// stage skipped when its output exists, so that an interrupted run
// resumes:
//
//	OUT/config.yaml              the settings (a rerun must agree with them)
//	OUT/split.json               the training and held-out faces
//	OUT/real_lq/                 held-out real LQ faces at the face size
//	OUT/heldout/                 held-out HQ faces and their LQ faces (pairs)
//	OUT/pairs/SOURCE/            the training pairs of each source
//	OUT/gap/lq/SOURCE.json       each source's LQ faces against the held-out real LQ faces
//	OUT/bfr/KEY/                 each training run (KEY: SOURCE, SOURCE.seed1, ...)
//	OUT/test/KEY.json            its measures on the held-out faces
//	OUT/restored/KEY/            its restored held-out real LQ faces
//	OUT/gap/restored/KEY.json    those against the held-out real HQ faces
//	OUT/stages.json              the compute time of each stage
//	OUT/results.json, report.md, report.html
package facebench

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/internal/yamlconf"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/c2st"
	"github.com/degradiff/degradiff/measure/facemeasure"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/train/bfrtrain"
)

// The sources: GFPGAN's degradation, and the method (it refined by the
// face diffusion model); Calibrated is a face degradation fitted to real
// LQ faces (Config.Calibration, such as degradiff calibrate --preset face
// writes), and CalibratedMethod refines it as FaceMethod refines Face.
const (
	Face             = "face"
	FaceMethod       = "face+ddpm"
	Calibrated       = experiment.Calibrated
	CalibratedMethod = experiment.CalibratedMethod
)

// Sources lists the sources in report order.
var Sources = []string{Face, FaceMethod, Calibrated, CalibratedMethod}

// DefaultSources are the sources of every budget: the calibrated ones
// need a calibration file.
var DefaultSources = []string{Face, FaceMethod}

// refined reports whether a source refines its initial LQ faces with the
// face diffusion model.
func refined(source string) bool { return source == FaceMethod || source == CalibratedMethod }

// calibrated reports whether a source starts from Config.Calibration.
func calibrated(source string) bool { return source == Calibrated || source == CalibratedMethod }

// Budgets lists the budget names Default knows.
var Budgets = []string{"tiny", "quick", "full"}

// Degradation is the degradation of the held-out HQ faces: a degrade
// preset at a scale, its LQ face resized back to the HQ size, with its own
// seed. It must be one neither source trains on (not "face").
type Degradation struct {
	Preset string `yaml:"preset" json:"preset"`
	Scale  int    `yaml:"scale" json:"scale"`
	Seed   uint64 `yaml:"seed" json:"seed"`
}

// Config holds every setting of a face bench. Errors about the inputs name
// them by the degradiff bench flag that sets them.
type Config struct {
	// HQ is the folder of aligned HQ faces (searched recursively).
	HQ string `yaml:"hq" json:"hq"`
	// RealLQ is the folder of aligned real LQ faces (such as a degradiff
	// faces align output), selected by name with RealLQInclude and
	// RealLQExclude.
	RealLQ        string   `yaml:"real_lq" json:"real_lq"`
	RealLQInclude []string `yaml:"real_lq_include,omitempty" json:"real_lq_include,omitempty"`
	RealLQExclude []string `yaml:"real_lq_exclude,omitempty" json:"real_lq_exclude,omitempty"`
	// Model is the face diffusion model of face+ddpm: "builtin-face" or a
	// diffusers pipeline or UNet folder; ModelEMA uses a pipeline's
	// unet_ema/ weights. The built-in face model learnt from the shared real
	// LQ faces less those that split seed 0 with held_out 0.2 holds out, so
	// only that split keeps its held-out faces unseen.
	Model    string `yaml:"model" json:"model"`
	ModelEMA bool   `yaml:"model_ema" json:"model_ema"`
	// Calibration is the degradation config file of the sources
	// calibrated and calibrated+ddpm, such as the CAL/config.yaml of
	// degradiff calibrate --preset face fitted to the training real LQ
	// faces; it runs at scale 1 with the LQ face resized back, as face
	// does. Run keeps a copy in OUT/calibration.yaml and refuses another
	// file's content later.
	Calibration string `yaml:"calibration,omitempty" json:"calibration,omitempty"`
	// FaceModels is the model/ folder of @vladmandic/face-api 1.7.15, for
	// the identity and landmark measures.
	FaceModels string `yaml:"face_models" json:"face_models"`

	// Sources are the sources compared, a subset of Sources.
	Sources []string `yaml:"sources" json:"sources"`
	// Budget names the budget the settings came from (informative).
	Budget string `yaml:"budget" json:"budget"`
	// Seed keys the degradations, the diffusion noise, the training (run
	// k has seed Seed+k) and, unless Gap.Seed is set, the measurements.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Seeds is the number of networks trained per source (seeds Seed,
	// Seed+1, ...).
	Seeds int `yaml:"seeds" json:"seeds"`

	// HeldOut is the fraction of the HQ faces and of the real LQ faces
	// held out for the measures, chosen by a hash of each name keyed by
	// SplitSeed. MaxFaces (0: all) keeps at most that many training HQ
	// faces and MaxHeldOut (0: all) at most that many held-out faces of
	// each set, in the order of the same hash.
	HeldOut    float64 `yaml:"held_out" json:"held_out"`
	SplitSeed  uint64  `yaml:"split_seed" json:"split_seed"`
	MaxFaces   int     `yaml:"max_faces" json:"max_faces"`
	MaxHeldOut int     `yaml:"max_held_out" json:"max_held_out"`
	// PerImage is the number of LQ variants per training face.
	PerImage int `yaml:"per_image" json:"per_image"`

	// Synth is the diffusion step of face+ddpm.
	Synth experiment.SynthConfig `yaml:"synth" json:"synth"`
	// HeldOutDegradation degrades the held-out HQ faces.
	HeldOutDegradation Degradation `yaml:"held_out_degradation" json:"held_out_degradation"`
	// BFR is the training of the face restoration network, the same for
	// every source; its model.face_size is the size every face is
	// resized to.
	BFR bfrtrain.Config `yaml:"bfr" json:"bfr"`
	// Gap configures the gap measurements.
	Gap measure.Options `yaml:"gap" json:"gap"`

	// Workers is the number of faces degraded at once; it changes no
	// result.
	Workers int `yaml:"-" json:"-"`
	// Command is the command line shown in the report.
	Command string `yaml:"-" json:"-"`
	// Faces, when set, is the loaded FaceModels (Run loads it otherwise).
	Faces *facemeasure.Measurer `yaml:"-" json:"-"`
}

// Default returns the settings of a budget, without inputs:
//
//   - "tiny" (seconds, for tests): 32-pixel faces, at most 6 training and
//     4 held-out faces of each set, a 4-channel two-level network trained
//     for 10 steps of 2 faces, 2 seeds, 10 diffusion steps, 2 feature
//     crops of 32 pixels per face and a 2-split classifier test of 4
//     steps on 16-pixel patches.
//   - "quick" (for checks): 128-pixel faces, at
//     most 64 training and 24 held-out faces of each set, a 16-channel
//     network trained for 300 steps of 8 faces, 2 seeds, a 3-split
//     classifier test of 100 steps.
//   - "full" (hours: degradiff bfr train's defaults take about an hour
//     per network on 2 cores): every face, bfrtrain's defaults (the
//     default network, 3600 steps of 8 faces of 128 pixels), 3 seeds, the
//     default measurements.
//
// All budgets hold out a fifth of the faces (keyed by split seed 0), draw
// one LQ variant per training face, run the diffusion step as degradiff
// synth does by default (DDIM, strength up to 0.25 of 50 steps), degrade
// the held-out HQ faces with BSRGAN's degradation at scale 4 (seed 1000),
// and use seed 0.
func Default(budget string) (Config, error) {
	c := Config{
		Sources:            append([]string(nil), DefaultSources...),
		Budget:             budget,
		Seeds:              3,
		HeldOut:            0.2,
		PerImage:           1,
		Synth:              experiment.DefaultSynthConfig(),
		HeldOutDegradation: Degradation{Preset: "bsrgan", Scale: 4, Seed: 1000},
		BFR:                bfrtrain.Default(),
	}
	switch budget {
	case "tiny":
		c.Seeds, c.MaxFaces, c.MaxHeldOut = 2, 6, 4
		c.Synth.Steps = 10
		b := &c.BFR
		b.Model.NumFeat, b.Model.ChannelMult, b.Model.LevelBlocks, b.Model.NumBlock = 4, []int{1, 2}, 0, 1
		b.Model.FaceSize, b.PatchSize = 32, 32
		b.BatchSize, b.Steps, b.WarmupSteps, b.LogEvery, b.CheckpointEvery = 2, 10, 2, 2, 5
		c.Gap = measure.Options{
			Features: features.Options{PatchSize: 32, Patches: 2},
			C2ST:     c2st.Options{PatchSize: 16, Patches: 2, Splits: 2, Steps: 4, BatchSize: 8, Width: 4},
		}
	case "quick":
		c.Seeds, c.MaxFaces, c.MaxHeldOut = 2, 64, 24
		b := &c.BFR
		b.Model.NumFeat = 16
		b.Steps, b.WarmupSteps, b.CheckpointEvery = 300, 30, 100
		c.Gap.C2ST = c2st.Options{Splits: 3, Steps: 100}
	case "full":
	default:
		return Config{}, fmt.Errorf("unknown budget %q (want %s)", budget, strings.Join(Budgets, ", "))
	}
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

// faceSize is the side every face is resized to.
func (c Config) faceSize() int { return c.BFR.Model.FaceSize }

// Validate names the first impossible setting, by its key (or, for an
// input, its flag). It checks the settings only; Run checks the folders.
func (c Config) Validate() error {
	if c.HQ == "" {
		return errors.New("--hq: the folder of aligned HQ faces is required")
	}
	if c.RealLQ == "" {
		return errors.New("--real-lq: the folder of aligned real LQ faces is required")
	}
	if c.FaceModels == "" {
		return errors.New("--face-models: the face-api weights (the model/ folder of @vladmandic/face-api 1.7.15) are required: the identity and landmark measures need them")
	}
	if err := CheckSources(c.Sources); err != nil {
		return err
	}
	for _, s := range c.Sources {
		if refined(s) && c.Model == "" {
			return fmt.Errorf("--model: the source %s needs the face diffusion model (builtin-face, or a pipeline or UNet folder, as degradiff synth --preset face --model takes)", s)
		}
		if calibrated(s) && c.Calibration == "" {
			return fmt.Errorf("--calibration: the source %s needs a face degradation config fitted to real LQ faces (the CAL/config.yaml of degradiff calibrate --preset face)", s)
		}
	}
	for key, globs := range map[string][]string{"real_lq_include": c.RealLQInclude, "real_lq_exclude": c.RealLQExclude} {
		for _, g := range globs {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("%s: bad name pattern %q: %w", key, g, err)
			}
		}
	}
	bad := func(key string, v any, why string) error { return fmt.Errorf("%s: %v %s", key, v, why) }
	switch {
	case c.Seeds < 1 || c.Seeds > 20:
		return bad("seeds", c.Seeds, "is outside 1..20")
	case !(c.HeldOut > 0 && c.HeldOut < 1):
		return bad("held_out", c.HeldOut, "must be a fraction strictly between 0 and 1")
	case c.MaxFaces < 0:
		return bad("max_faces", c.MaxFaces, "must not be negative (0 keeps every training face)")
	case c.MaxHeldOut < 0:
		return bad("max_held_out", c.MaxHeldOut, "must not be negative (0 keeps every held-out face)")
	case c.PerImage < 1 || c.PerImage > 100:
		return bad("per_image", c.PerImage, "is outside 1..100")
	}
	if err := c.Synth.Validate(); err != nil {
		return err
	}
	if err := c.HeldOutDegradation.validate(); err != nil {
		return err
	}
	if err := c.BFR.Validate(); err != nil {
		return fmt.Errorf("bfr: %w", err)
	}
	if err := c.Gap.Features.Validate(); err != nil {
		return fmt.Errorf("gap: %w", err)
	}
	if s, p := c.faceSize(), c.Gap.Features.WithDefaults().PatchSize; s < p {
		return fmt.Errorf("gap.features.patch_size: %d is larger than the faces (bfr.model.face_size %d)", p, s)
	}
	if !c.Gap.SkipC2ST {
		if err := c.Gap.C2ST.Validate(); err != nil {
			return fmt.Errorf("gap: %w", err)
		}
		if s, p := c.faceSize(), c.Gap.C2ST.WithDefaults().PatchSize; s < p {
			return fmt.Errorf("gap.c2st.patch_size: %d is larger than the faces (bfr.model.face_size %d)", p, s)
		}
	}
	return nil
}

// validate checks the held-out degradation, naming its keys.
func (d Degradation) validate() error {
	const key = "held_out_degradation"
	if d.Preset == Face {
		return fmt.Errorf("%s.preset: %q is the degradation both sources train on; choose one they do not (bsrgan, realesrgan, official, bicubic)", key, d.Preset)
	}
	c, err := degrade.LoadPreset(d.Preset)
	if err != nil {
		return fmt.Errorf("%s.preset: %w", key, err)
	}
	if d.Scale < 1 || d.Scale > 16 {
		return fmt.Errorf("%s.scale: %d is outside 1..16", key, d.Scale)
	}
	c.Scale, c.ResizeBack = d.Scale, true
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// pipeline builds the held-out degradation.
func (d Degradation) pipeline() (degrade.Pipeline, error) {
	c, err := degrade.LoadPreset(d.Preset)
	if err != nil {
		return nil, err
	}
	c.Scale, c.ResizeBack = d.Scale, true
	return degrade.New(c)
}

// String describes the degradation for the report.
func (d Degradation) String() string {
	return fmt.Sprintf("the %s preset at scale %d, resized back to the face size (seed %d)", d.Preset, d.Scale, d.Seed)
}

// CheckSources reports an unknown or repeated source name.
func CheckSources(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("--sources: no source given (want some of %s)", strings.Join(Sources, ","))
	}
	seen := map[string]bool{}
	for _, s := range list {
		if !slices.Contains(Sources, s) {
			return fmt.Errorf("--sources: unknown source %q for --task face (want some of %s)", s, strings.Join(Sources, ","))
		}
		if seen[s] {
			return fmt.Errorf("--sources: %s is given twice", s)
		}
		seen[s] = true
	}
	return nil
}

// ordered returns the sources of list in Sources order.
func ordered(list []string) []string {
	var out []string
	for _, s := range Sources {
		for _, t := range list {
			if s == t {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
