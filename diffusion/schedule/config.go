package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Scheduler class names as diffusers writes them in "_class_name".
const (
	DDPMClass      = "DDPMScheduler"
	DDIMClass      = "DDIMScheduler"
	UniPCClass     = "UniPCMultistepScheduler"
	DPMSolverClass = "DPMSolverMultistepScheduler"
)

// BetaSchedule names a rule that maps (beta_start, beta_end) to the betas.
type BetaSchedule string

// The beta schedules of diffusers.
const (
	Linear          BetaSchedule = "linear"            // torch.linspace(beta_start, beta_end)
	ScaledLinear    BetaSchedule = "scaled_linear"     // linspace of the square roots, squared
	SquaredCosCapV2 BetaSchedule = "squaredcos_cap_v2" // cosine alpha-bar, betas capped at 0.999
)

// Prediction is what the model predicts.
type Prediction string

// The prediction types of diffusers.
const (
	Epsilon     Prediction = "epsilon"      // the added noise
	Sample      Prediction = "sample"       // the clean sample x0
	VPrediction Prediction = "v_prediction" // v = alpha*eps - sigma*x0
)

// The final_sigmas_type values of the multistep solvers.
const (
	FinalZero     = "zero"      // the last step lands on the clean sample
	FinalSigmaMin = "sigma_min" // the last step lands on timestep 0's noise level
)

// Config is a diffusers scheduler configuration. The JSON names are those of
// diffusers' scheduler_config.json (v0.21); one Config covers the DDPM, DDIM,
// UniPC and DPM-Solver multistep schedulers, each of which reads only the keys
// its diffusers class accepts.
//
// Like a diffusers config dict, a Config knows which keys it holds (Has):
// those of its file (LoadConfig, ParseConfig) or of its class (Defaults),
// plus any field changed from the default it was filled with; a Config
// literal holds all keys. Resolve fills the keys a config does not hold
// with the defaults of the scheduler it is resolved for, as diffusers'
// from_config does: a DDPM config has no solver_order, so UniPC uses its
// own. To set a key to the value its config was filled with (say
// predict_x0 false, the DDPM filling), resolve first, then edit.
type Config struct {
	ClassName        string `json:"_class_name,omitempty"`
	DiffusersVersion string `json:"_diffusers_version,omitempty"`

	NumTrainTimesteps int          `json:"num_train_timesteps"`
	BetaStart         float64      `json:"beta_start"`
	BetaEnd           float64      `json:"beta_end"`
	BetaSchedule      BetaSchedule `json:"beta_schedule"`
	// TrainedBetas, when not nil, replaces the beta schedule.
	TrainedBetas []float64 `json:"trained_betas"`
	// RescaleBetasZeroSNR rescales the betas to a zero terminal SNR (DDIM only).
	RescaleBetasZeroSNR bool `json:"rescale_betas_zero_snr"`

	PredictionType Prediction `json:"prediction_type"`
	// VarianceType is DDPM's variance rule (fixed_small, fixed_small_log,
	// fixed_large, learned, learned_range); for DPM-Solver only "learned" and
	// "learned_range" matter (the model output then has twice the channels).
	VarianceType string `json:"variance_type"`

	// ClipSample clips the predicted x0 to ±ClipSampleRange (DDPM, DDIM).
	ClipSample      bool    `json:"clip_sample"`
	ClipSampleRange float64 `json:"clip_sample_range"`
	// Thresholding applies Imagen's dynamic thresholding to the predicted x0.
	Thresholding             bool    `json:"thresholding"`
	DynamicThresholdingRatio float64 `json:"dynamic_thresholding_ratio"`
	SampleMaxValue           float64 `json:"sample_max_value"`

	TimestepSpacing Spacing `json:"timestep_spacing"`
	StepsOffset     int     `json:"steps_offset"`
	// SetAlphaToOne makes DDIM's last step go to alpha-bar 1 (else acp[0]).
	SetAlphaToOne bool `json:"set_alpha_to_one"`

	// Multistep solvers (UniPC, DPM-Solver).
	SolverOrder     int    `json:"solver_order"`
	SolverType      string `json:"solver_type"` // UniPC: bh1, bh2; DPM-Solver: midpoint, heun
	PredictX0       bool   `json:"predict_x0"`  // UniPC
	LowerOrderFinal bool   `json:"lower_order_final"`
	// FinalSigmasType is where the last step of UniPC and DPM-Solver++
	// lands: "zero" (the clean sample, the default of later diffusers) or
	// "sigma_min" (the noise level of timestep 0, which diffusers v0.21
	// always used; it leaves about 1.3/255 of noise in the output).
	FinalSigmasType string `json:"final_sigmas_type"`
	// DisableCorrector lists step indices where UniPC skips its corrector.
	DisableCorrector []int  `json:"disable_corrector"`
	UseKarrasSigmas  bool   `json:"use_karras_sigmas"`
	AlgorithmType    string `json:"algorithm_type"` // DPM-Solver: dpmsolver++, dpmsolver
	// LambdaMinClipped (DPM-Solver) drops the noisiest timesteps whose
	// lambda is below it; the default -Inf keeps all. ParseConfig reads
	// Python's -Infinity token; encoding/json cannot write an infinity.
	LambdaMinClipped float64 `json:"lambda_min_clipped"`

	// keys holds the JSON keys the file or class gave, and base the class
	// whose defaults filled the rest; both empty for a literal (all keys).
	keys map[string]bool
	base string
}

// commonKeys are accepted by every scheduler class here.
var commonKeys = []string{
	"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
	"prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value",
	"timestep_spacing", "steps_offset",
}

// classKeys lists the __init__ arguments of each diffusers v0.21 class.
var classKeys = map[string][]string{
	DDPMClass:      append(slices.Clone(commonKeys), "variance_type", "clip_sample", "clip_sample_range"),
	DDIMClass:      append(slices.Clone(commonKeys), "clip_sample", "clip_sample_range", "set_alpha_to_one", "rescale_betas_zero_snr"),
	UniPCClass:     append(slices.Clone(commonKeys), "solver_order", "predict_x0", "solver_type", "lower_order_final", "disable_corrector", "use_karras_sigmas", "final_sigmas_type"),
	DPMSolverClass: append(slices.Clone(commonKeys), "solver_order", "algorithm_type", "solver_type", "lower_order_final", "use_karras_sigmas", "lambda_min_clipped", "variance_type", "final_sigmas_type"),
}

// Classes returns the scheduler class names this package knows, sorted.
func Classes() []string {
	var out []string
	for c := range classKeys {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Defaults returns the __init__ defaults of a diffusers v0.21 scheduler
// class (DDPMClass, DDIMClass, UniPCClass or DPMSolverClass). Keys the class
// does not accept hold values that describe its behaviour (UniPC never clips,
// so ClipSample is false) and do not count as held.
//
// Resolving Defaults(DDPMClass) for UniPC gives what diffusers gives for a
// saved DDPM scheduler_config.json (timestep_spacing leading). diffusers'
// in-memory UniPCMultistepScheduler.from_config(DDPMScheduler().config)
// instead drops default-valued keys and ends up with linspace, which is
// simply Defaults(UniPCClass).
func Defaults(class string) (Config, error) {
	c := Config{
		ClassName:                class,
		NumTrainTimesteps:        1000,
		BetaStart:                0.0001,
		BetaEnd:                  0.02,
		BetaSchedule:             Linear,
		PredictionType:           Epsilon,
		DynamicThresholdingRatio: 0.995,
		ClipSampleRange:          1,
		SampleMaxValue:           1,
		LambdaMinClipped:         math.Inf(-1),
	}
	switch class {
	case DDPMClass:
		c.VarianceType = "fixed_small"
		c.ClipSample = true
		c.TimestepSpacing = Leading
	case DDIMClass:
		c.ClipSample = true
		c.SetAlphaToOne = true
		c.TimestepSpacing = Leading
	case UniPCClass:
		c.SolverOrder = 2
		c.PredictX0 = true
		c.SolverType = "bh2"
		c.LowerOrderFinal = true
		c.DisableCorrector = []int{}
		c.TimestepSpacing = Linspace
		c.FinalSigmasType = FinalZero
	case DPMSolverClass:
		c.SolverOrder = 2
		c.AlgorithmType = "dpmsolver++"
		c.SolverType = "midpoint"
		c.LowerOrderFinal = true
		c.TimestepSpacing = Linspace
		c.FinalSigmasType = FinalZero
	default:
		return Config{}, fmt.Errorf("schedule: unknown scheduler class %q (known: %s)", class, strings.Join(Classes(), ", "))
	}
	c.base = class
	c.keys = map[string]bool{}
	for _, k := range classKeys[class] {
		c.keys[k] = true
	}
	return c, nil
}

// Has reports whether c holds key (a JSON name): a key of its file or
// class, or a field whose value differs from the default it was filled
// with. A Config literal holds every key.
func (c Config) Has(key string) bool {
	if c.keys == nil && c.base == "" {
		return true
	}
	if c.keys[key] {
		return true
	}
	i, ok := jsonFields()[key]
	if !ok {
		return false
	}
	def, err := Defaults(c.base)
	if err != nil {
		return true
	}
	return !reflect.DeepEqual(reflect.ValueOf(c).Field(i).Interface(), reflect.ValueOf(def).Field(i).Interface())
}

// Resolve returns the configuration that diffusers' Class.from_config(c)
// gives for class: the keys of c that the class accepts, and the class
// defaults for the rest. This is where a saved DDPM config without
// "timestep_spacing" turns into UniPC's own default, linspace, while one
// that holds the key keeps what it says.
func (c Config) Resolve(class string) (Config, error) {
	out, err := Defaults(class)
	if err != nil {
		return Config{}, err
	}
	src := reflect.ValueOf(c)
	dst := reflect.ValueOf(&out).Elem()
	fields := jsonFields()
	for _, key := range classKeys[class] {
		if !c.Has(key) {
			continue
		}
		i := fields[key]
		dst.Field(i).Set(src.Field(i))
	}
	out.TrainedBetas = slices.Clone(out.TrainedBetas)
	out.DisableCorrector = slices.Clone(out.DisableCorrector)
	if out.DisableCorrector == nil && class == UniPCClass {
		out.DisableCorrector = []int{}
	}
	out.DiffusersVersion = c.DiffusersVersion
	return out, nil
}

// jsonFields maps the JSON names of Config to field indices.
func jsonFields() map[string]int {
	t := reflect.TypeFor[Config]()
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		if tag == "" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		m[name] = i
	}
	return m
}

// LoadConfig reads a diffusers scheduler_config.json. See ParseConfig.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("schedule: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// ParseConfig parses a diffusers scheduler config. Unknown keys are ignored,
// as diffusers ignores them, and a JSON null gives the zero value (a nil
// trained_betas, an empty variance_type). Python's NaN, Infinity and
// -Infinity tokens are accepted (diffusers writes lambda_min_clipped as
// -Infinity). Keys listed in "_use_default_values" count as absent, as in
// diffusers. Absent keys hold the defaults of the class named by
// "_class_name" (DDPMScheduler when it is missing or unknown) until Resolve
// fills them for the scheduler that uses the config.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(pythonTokens(data), &raw); err != nil {
		return Config{}, fmt.Errorf("schedule: bad scheduler config JSON: %w", err)
	}
	class := DDPMClass
	var name string
	if msg, ok := raw["_class_name"]; ok {
		if err := json.Unmarshal(msg, &name); err != nil {
			return Config{}, fmt.Errorf("schedule: key \"_class_name\": %w", err)
		}
		if _, known := classKeys[name]; known {
			class = name
		}
	}
	c, _ := Defaults(class)
	c.ClassName = name
	c.keys = map[string]bool{}
	if msg, ok := raw["_diffusers_version"]; ok {
		if err := json.Unmarshal(msg, &c.DiffusersVersion); err != nil {
			return Config{}, fmt.Errorf("schedule: key \"_diffusers_version\": %w", err)
		}
	}
	if msg, ok := raw["_use_default_values"]; ok {
		var used []string
		if err := json.Unmarshal(msg, &used); err != nil {
			return Config{}, fmt.Errorf("schedule: key \"_use_default_values\": %w", err)
		}
		for _, k := range used {
			delete(raw, k)
		}
	}
	v := reflect.ValueOf(&c).Elem()
	for key, i := range jsonFields() {
		msg, ok := raw[key]
		if !ok || strings.HasPrefix(key, "_") {
			continue
		}
		c.keys[key] = true
		f := v.Field(i)
		if string(bytes.TrimSpace(msg)) == "null" {
			f.Set(reflect.Zero(f.Type()))
			continue
		}
		if f.Kind() == reflect.Float64 {
			x, err := parseFloat(msg)
			if err != nil {
				return Config{}, fmt.Errorf("schedule: key %q: %w", key, err)
			}
			f.SetFloat(x)
			continue
		}
		if err := json.Unmarshal(msg, f.Addr().Interface()); err != nil {
			return Config{}, fmt.Errorf("schedule: key %q: %w", key, err)
		}
	}
	return c, nil
}

// parseFloat reads a JSON number or one of the quoted Python tokens that
// pythonTokens produced.
func parseFloat(msg json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(msg, &s) == nil {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	var x float64
	err := json.Unmarshal(msg, &x)
	return x, err
}

// pythonTokens quotes the bare NaN, Infinity and -Infinity tokens that
// Python's json module writes, so that encoding/json accepts the document.
func pythonTokens(data []byte) []byte {
	var out []byte
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		ch := data[i]
		if inString {
			out = append(out, ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		if ch == '"' {
			inString = true
			out = append(out, ch)
			continue
		}
		matched := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(data[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, ch)
		}
	}
	return out
}

// MaxTrainTimesteps bounds num_train_timesteps.
const MaxTrainTimesteps = 100000

// Validate checks the keys that every scheduler reads and returns an error
// naming the first bad parameter.
func (c Config) Validate() error {
	switch {
	case c.NumTrainTimesteps <= 0:
		return fmt.Errorf("schedule: num_train_timesteps must be positive, got %d", c.NumTrainTimesteps)
	// A config file is outside input: a huge count would allocate the
	// schedule's arrays without bound (diffusers' models use 1000).
	case c.NumTrainTimesteps > MaxTrainTimesteps:
		return fmt.Errorf("schedule: num_train_timesteps %d is above %d", c.NumTrainTimesteps, MaxTrainTimesteps)
	case c.StepsOffset > c.NumTrainTimesteps:
		return fmt.Errorf("schedule: steps_offset %d is above num_train_timesteps %d", c.StepsOffset, c.NumTrainTimesteps)
	case c.TrainedBetas == nil && c.BetaSchedule != Linear && c.BetaSchedule != ScaledLinear && c.BetaSchedule != SquaredCosCapV2:
		return fmt.Errorf("schedule: beta_schedule %q is not one of %q, %q, %q", c.BetaSchedule, Linear, ScaledLinear, SquaredCosCapV2)
	case c.PredictionType != Epsilon && c.PredictionType != Sample && c.PredictionType != VPrediction:
		return fmt.Errorf("schedule: prediction_type %q is not one of %q, %q, %q", c.PredictionType, Epsilon, Sample, VPrediction)
	case c.TimestepSpacing != Leading && c.TimestepSpacing != Linspace && c.TimestepSpacing != Trailing:
		return fmt.Errorf("schedule: timestep_spacing %q is not one of %q, %q, %q", c.TimestepSpacing, Leading, Linspace, Trailing)
	case c.StepsOffset < 0:
		return fmt.Errorf("schedule: steps_offset must not be negative, got %d", c.StepsOffset)
	case c.FinalSigmasType != "" && c.FinalSigmasType != FinalZero && c.FinalSigmasType != FinalSigmaMin:
		return fmt.Errorf("schedule: final_sigmas_type %q is not one of %q, %q", c.FinalSigmasType, FinalZero, FinalSigmaMin)
	case c.Thresholding && !(c.DynamicThresholdingRatio > 0 && c.DynamicThresholdingRatio <= 1):
		return fmt.Errorf("schedule: dynamic_thresholding_ratio must be in (0, 1], got %g", c.DynamicThresholdingRatio)
	}
	return nil
}
