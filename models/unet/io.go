package unet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
)

// File and folder names of the diffusers layout.
const (
	ConfigFile          = "config.json"
	WeightsFile         = "diffusion_pytorch_model.safetensors"
	SchedulerConfigFile = "scheduler_config.json"
	ModelIndexFile      = "model_index.json"
	UNetFolder          = "unet"
	EMAFolder           = "unet_ema"
	SchedulerFolder     = "scheduler"
)

// Source records where a model was loaded from, for provenance.
type Source struct {
	Name        string // pipeline (or model) folder name, plus "/unet_ema" for EMA weights
	Dir         string // the folder holding config.json and the weights
	WeightsPath string
	SHA256      string // hex SHA-256 of the weights file

	// SchedulerConfigPath is the pipeline's scheduler/scheduler_config.json,
	// or "" when there is none; SchedulerConfig holds its bytes (the
	// schedule package parses them).
	SchedulerConfigPath string
	SchedulerConfig     []byte
}

// String formats the name and a short digest.
func (s Source) String() string {
	d := s.SHA256
	if len(d) > 12 {
		d = d[:12]
	}
	return fmt.Sprintf("%s (sha256 %s)", s.Name, d)
}

// Load reads a diffusers UNet2DModel from dir: either a model folder
// holding config.json and diffusion_pytorch_model.safetensors, or a
// pipeline folder with a unet/ subfolder (or, when that is absent,
// unet_ema/). Use LoadSubfolder to pick unet_ema/ in a folder that has both.
// The pipeline's scheduler/scheduler_config.json, if present, is returned in
// Model.Source.
//
// Legacy attention names (query, key, value, proj_attn) are renamed as
// diffusers' _convert_deprecated_attention_blocks does; F16, BF16 and F64
// weights are converted to float32.
func Load(dir string) (*Model, error) { return LoadSubfolder(dir, "") }

// LoadSubfolder is Load with the model in dir/sub (for example "unet_ema");
// sub "" chooses as Load does.
func LoadSubfolder(dir, sub string) (*Model, error) {
	modelDir, pipeDir, err := resolveDirs(dir, sub)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(modelDir, ConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("unet: reading config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, cfgPath)
	}
	weights, err := findWeights(modelDir)
	if err != nil {
		return nil, err
	}
	// The checksum is verified before the model is built, so a corrupt
	// file costs no allocation.
	sum, err := FileSHA256(weights)
	if err != nil {
		return nil, err
	}
	if err := verifySum(weights, sum); err != nil {
		return nil, err
	}
	m, err := New(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, cfgPath)
	}
	if err := m.LoadWeights(weights); err != nil {
		return nil, err
	}
	if err := m.CheckFinite(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, weights)
	}
	name := filepath.Base(modelDir)
	if pipeDir != "" {
		name = filepath.Base(pipeDir)
		if b := filepath.Base(modelDir); b != UNetFolder {
			name += "/" + b
		}
	}
	m.Source = Source{Name: name, Dir: modelDir, WeightsPath: weights, SHA256: sum}
	if pipeDir != "" {
		p := filepath.Join(pipeDir, SchedulerFolder, SchedulerConfigFile)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			m.Source.SchedulerConfigPath, m.Source.SchedulerConfig = p, b
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("unet: reading scheduler config: %w", err)
		}
	}
	return m, nil
}

// resolveDirs finds the model folder and, when it is part of a pipeline,
// the pipeline folder.
func resolveDirs(dir, sub string) (modelDir, pipeDir string, err error) {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if st, err := os.Stat(dir); err != nil {
		return "", "", fmt.Errorf("unet: %w", err)
	} else if !st.IsDir() {
		return "", "", fmt.Errorf("unet: %s is not a folder", dir)
	}
	if sub != "" {
		md := filepath.Join(dir, sub)
		if !exists(filepath.Join(md, ConfigFile)) {
			return "", "", fmt.Errorf("unet: %s has no %s", md, ConfigFile)
		}
		return md, dir, nil
	}
	if exists(filepath.Join(dir, ConfigFile)) {
		// A model folder; it belongs to a pipeline when its parent has
		// a model_index.json or a scheduler folder beside it.
		parent := filepath.Dir(dir)
		if exists(filepath.Join(parent, ModelIndexFile)) || exists(filepath.Join(parent, SchedulerFolder, SchedulerConfigFile)) {
			return dir, parent, nil
		}
		return dir, "", nil
	}
	for _, s := range []string{UNetFolder, EMAFolder} {
		if md := filepath.Join(dir, s); exists(filepath.Join(md, ConfigFile)) {
			return md, dir, nil
		}
	}
	return "", "", fmt.Errorf("unet: %s holds no %s, %s/%s or %s/%s", dir, ConfigFile, UNetFolder, ConfigFile, EMAFolder, ConfigFile)
}

// findWeights returns the safetensors weights in dir.
func findWeights(dir string) (string, error) {
	p := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	// diffusers' fp16 variant, used when it is the only file.
	if v := filepath.Join(dir, "diffusion_pytorch_model.fp16.safetensors"); fileExists(v) {
		return v, nil
	}
	if fileExists(filepath.Join(dir, "diffusion_pytorch_model.bin")) {
		return "", fmt.Errorf("unet: %s holds PyTorch pickle weights (diffusion_pytorch_model.bin), which are not supported: convert them to %s", dir, WeightsFile)
	}
	return "", fmt.Errorf("unet: %s has no %s", dir, WeightsFile)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// legacyAttn maps the deprecated attention-block parameter names to the
// current ones.
var legacyAttn = map[string]string{"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

// canonical returns the current name of a state-dict key, renaming the
// legacy names inside the model's attention blocks.
func (m *Model) canonical(key string) string {
	leaf := strings.LastIndexByte(key, '.') // ".weight" / ".bias"
	if leaf < 0 {
		return key
	}
	mod := key[:leaf]
	dot := strings.LastIndexByte(mod, '.')
	if dot < 0 {
		return key
	}
	if to, ok := legacyAttn[mod[dot+1:]]; ok && m.attnNames[mod[:dot]] {
		return mod[:dot] + "." + to + key[leaf:]
	}
	return key
}

// LoadWeights reads the parameters from a safetensors file with diffusers'
// key names (or the legacy attention names), converting any float dtype to
// float32. It checks every key first and reports all missing and
// unexpected keys and shape mismatches together (an *nn.StateDictError);
// the model is unchanged when that check fails.
func (m *Model) LoadWeights(path string) error {
	if err := nn.Load(path, m.params, m.canonical); err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	return nil
}

// Save writes m in diffusers' layout under dir: unet/config.json and
// unet/diffusion_pytorch_model.safetensors, with the weights stored as dtype
// (F32, F16 or BF16; empty means F32). Both files are written atomically.
// UNet2DModel.from_pretrained(dir, subfolder="unet") loads the result; add
// WritePipeline for DDPMPipeline.from_pretrained(dir).
func Save(dir string, m *Model, dtype safetensors.DType) error {
	return SaveSubfolder(dir, UNetFolder, m, dtype)
}

// SaveSubfolder is Save into dir/sub (for example "unet_ema").
func SaveSubfolder(dir, sub string, m *Model, dtype safetensors.DType) error {
	md := filepath.Join(dir, sub)
	if err := os.MkdirAll(md, 0o755); err != nil {
		return fmt.Errorf("unet: saving: %w", err)
	}
	cfg := m.Config()
	cfg.ClassName, cfg.DiffusersVersion = ClassName, DiffusersVersion
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("unet: saving config: %w", err)
	}
	// diffusers' writer tags its files with format "pt".
	if err := nn.Save(filepath.Join(md, WeightsFile), m.params, dtype, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("unet: saving weights: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(md, ConfigFile), append(b, '\n')); err != nil {
		return fmt.Errorf("unet: saving config: %w", err)
	}
	w := filepath.Join(md, WeightsFile)
	sum, err := FileSHA256(w)
	if err != nil {
		return err
	}
	line := sum + "  " + WeightsFile + "\n" // sha256sum's format: "sha256sum -c" checks it too
	if err := atomicfile.WriteFile(w+SumSuffix, []byte(line)); err != nil {
		return fmt.Errorf("unet: saving checksum: %w", err)
	}
	return nil
}

// SumSuffix names the checksum file written beside a saved weights file
// (WEIGHTS.sha256, in sha256sum's format). Load verifies it when present.
const SumSuffix = ".sha256"

// verifySum compares the SHA-256 of the weights file with its checksum
// file, when there is one.
func verifySum(weights, sum string) error {
	b, err := os.ReadFile(weights + SumSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unet: reading checksum: %w", err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if want != sum {
		return fmt.Errorf("unet: %s is corrupt: its SHA-256 is %s, %s records %q (if the weights were replaced on purpose, by another program, delete %s)", weights, sum, weights+SumSuffix, want, weights+SumSuffix)
	}
	return nil
}

// CheckFinite reports the first parameter holding NaN or an infinity: such
// weights make every output NaN (black images), so they are refused on
// load rather than found in the results.
func (m *Model) CheckFinite() error {
	for _, p := range m.params {
		for i, v := range p.Value.Data {
			if v-v != 0 {
				return fmt.Errorf("unet: parameter %s holds a non-finite value (%v at index %d)", p.Name, v, i)
			}
		}
	}
	return nil
}

// DefaultSchedulerConfig is the scheduler_config.json of diffusers'
// DDPMScheduler with its defaults (v0.21.1), the schedule of the official
// training script.
const DefaultSchedulerConfig = `{
  "_class_name": "DDPMScheduler",
  "_diffusers_version": "0.21.1",
  "beta_end": 0.02,
  "beta_schedule": "linear",
  "beta_start": 0.0001,
  "clip_sample": true,
  "clip_sample_range": 1.0,
  "dynamic_thresholding_ratio": 0.995,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "sample_max_value": 1.0,
  "steps_offset": 0,
  "thresholding": false,
  "timestep_spacing": "leading",
  "trained_betas": null,
  "variance_type": "fixed_small"
}
`

// WritePipeline writes the files that make dir (holding a model saved by
// Save) loadable with DDPMPipeline.from_pretrained: model_index.json and
// scheduler/scheduler_config.json with schedulerConfig (nil means
// DefaultSchedulerConfig). The scheduler class listed in model_index.json
// is the config's _class_name.
func WritePipeline(dir string, schedulerConfig []byte) error {
	if schedulerConfig == nil {
		schedulerConfig = []byte(DefaultSchedulerConfig)
	}
	var sc struct {
		ClassName string `json:"_class_name"`
	}
	if err := json.Unmarshal(schedulerConfig, &sc); err != nil {
		return fmt.Errorf("unet: scheduler config: %w", err)
	}
	if sc.ClassName == "" {
		return errors.New("unet: scheduler config has no _class_name")
	}
	index := map[string]any{
		"_class_name":        "DDPMPipeline",
		"_diffusers_version": DiffusersVersion,
		"scheduler":          []string{"diffusers", sc.ClassName},
		"unet":               []string{"diffusers", ClassName},
	}
	b, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return fmt.Errorf("unet: model index: %w", err)
	}
	sd := filepath.Join(dir, SchedulerFolder)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return fmt.Errorf("unet: writing pipeline: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(sd, SchedulerConfigFile), schedulerConfig); err != nil {
		return fmt.Errorf("unet: writing scheduler config: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ModelIndexFile), append(b, '\n')); err != nil {
		return fmt.Errorf("unet: writing model index: %w", err)
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 digest of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("unet: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("unet: hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// StateDict returns the parameters by state-dict key; the tensors are the
// model's own, not copies.
func (m *Model) StateDict() map[string]*tensor.Tensor { return nn.StateDict(m.params) }
