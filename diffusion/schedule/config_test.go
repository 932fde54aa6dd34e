package schedule

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

// savedDDPM is the scheduler_config.json that DDPMScheduler().save_pretrained
// writes in diffusers 0.21.1 (the fixture ddpm_scheduler_config.json).
const savedDDPM = `{
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
}`

func parse(t *testing.T, s string) Config {
	t.Helper()
	c, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func resolve(t *testing.T, c Config, class string) Config {
	t.Helper()
	r, err := c.Resolve(class)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResolveSpacing is the README's gotcha: UniPC loaded from a saved DDPM
// config uses the config's spacing when the key is there and its own
// default (linspace) when it is not.
func TestResolveSpacing(t *testing.T) {
	withKey := parse(t, savedDDPM)
	without := parse(t, strings.Replace(savedDDPM, ` "timestep_spacing": "leading",`+"\n", "", 1))
	if without.Has("timestep_spacing") {
		t.Fatal("the edited config still has timestep_spacing")
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		class string
		want  Spacing
	}{
		{"saved config, UniPC", withKey, UniPCClass, Leading},
		{"old config, UniPC", without, UniPCClass, Linspace},
		{"old config, DPM-Solver", without, DPMSolverClass, Linspace},
		{"old config, DDPM", without, DDPMClass, Leading},
		{"old config, DDIM", without, DDIMClass, Leading},
	} {
		if got := resolve(t, tc.cfg, tc.class).TimestepSpacing; got != tc.want {
			t.Errorf("%s: timestep_spacing %q, want %q", tc.name, got, tc.want)
		}
	}
	// A key listed in _use_default_values counts as absent.
	used := parse(t, strings.Replace(savedDDPM, `"_class_name"`, `"_use_default_values": ["timestep_spacing"], "_class_name"`, 1))
	if got := resolve(t, used, UniPCClass).TimestepSpacing; got != Linspace {
		t.Errorf("_use_default_values: UniPC spacing %q, want linspace", got)
	}
}

// TestResolveMatchesDiffusers compares the UniPC configs diffusers resolved
// (generation_report.json) with ours, key by key.
func TestResolveMatchesDiffusers(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	cfg, err := LoadConfig(filepath.Join(dir, "ddpm_scheduler_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClassName != DDPMClass || cfg.DiffusersVersion != "0.21.1" {
		t.Errorf("class %q version %q, want DDPMScheduler 0.21.1", cfg.ClassName, cfg.DiffusersVersion)
	}
	data, err := os.ReadFile(filepath.Join(dir, "generation_report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		DDIM    map[string]any `json:"ddim_config"`
		Img2Img map[string]struct {
			Config map[string]any `json:"config"`
		} `json:"img2img"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	without, err := ParseConfig([]byte(strings.Replace(savedDDPM, ` "timestep_spacing": "leading",`+"\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		variant string
		cfg     Config
	}{{"leading", cfg}, {"linspace", without}} {
		got := resolve(t, tc.cfg, UniPCClass)
		compareKeys(t, "UniPC "+tc.variant, got, report.Img2Img[tc.variant].Config, classKeys[UniPCClass])
	}
	compareKeys(t, "DDIM", resolve(t, cfg, DDIMClass), report.DDIM, classKeys[DDIMClass])
}

// compareKeys checks that every key of want that class accepts has the same
// value in got.
func compareKeys(t *testing.T, name string, got Config, want map[string]any, keys []string) {
	t.Helper()
	fields := jsonFields()
	v := reflect.ValueOf(got)
	for _, key := range keys {
		w, ok := want[key]
		if !ok && key == "final_sigmas_type" {
			continue // later than diffusers v0.21, whose behaviour is sigma_min
		}
		if !ok {
			t.Errorf("%s: diffusers config has no %q", name, key)
			continue
		}
		g := v.Field(fields[key]).Interface()
		// Round-trip ours through JSON to compare like with like.
		b, _ := json.Marshal(g)
		var gv any
		json.Unmarshal(b, &gv)
		if gv == nil && w == nil {
			continue
		}
		if !reflect.DeepEqual(gv, w) {
			if ga, ok := gv.([]any); ok && len(ga) == 0 {
				if wa, ok := w.([]any); ok && len(wa) == 0 {
					continue
				}
			}
			t.Errorf("%s: %s = %v, diffusers has %v", name, key, gv, w)
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Run("python tokens and nulls", func(t *testing.T) {
		c := parse(t, `{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity,
			"variance_type": null, "solver_order": 3, "algorithm_type": "dpmsolver++", "note": "NaN stays a string",
			"beta_schedule": "scaled_linear", "some_future_key": [1, 2, {"x": Infinity}]}`)
		if !math.IsInf(c.LambdaMinClipped, -1) || c.VarianceType != "" || c.SolverOrder != 3 || c.BetaSchedule != ScaledLinear {
			t.Errorf("got lambda_min_clipped %g, variance_type %q, solver_order %d, beta_schedule %q",
				c.LambdaMinClipped, c.VarianceType, c.SolverOrder, c.BetaSchedule)
		}
		// Absent keys hold the DPM-Solver defaults.
		if c.TimestepSpacing != Linspace || c.SolverType != "midpoint" || c.Has("solver_type") {
			t.Errorf("absent keys: spacing %q solver_type %q (has %v)", c.TimestepSpacing, c.SolverType, c.Has("solver_type"))
		}
	})
	t.Run("finite lambda_min_clipped", func(t *testing.T) {
		c := parse(t, `{"lambda_min_clipped": -5.1}`)
		if c.LambdaMinClipped != -5.1 {
			t.Errorf("lambda_min_clipped = %g", c.LambdaMinClipped)
		}
	})
	t.Run("trained_betas", func(t *testing.T) {
		c := parse(t, `{"trained_betas": [0.1, 0.2], "num_train_timesteps": 2}`)
		if len(c.TrainedBetas) != 2 || c.TrainedBetas[1] != 0.2 {
			t.Errorf("trained_betas = %v", c.TrainedBetas)
		}
		if _, err := New(c); err != nil {
			t.Error(err)
		}
	})
	for _, bad := range []struct{ name, json, want string }{
		{"not JSON", `{"beta_start": }`, "bad scheduler config JSON"},
		{"wrong type", `{"num_train_timesteps": "many"}`, `"num_train_timesteps"`},
		{"string float", `{"beta_end": "big"}`, `"beta_end"`},
	} {
		_, err := ParseConfig([]byte(bad.json))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one naming %s", bad.name, err, bad.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}

func TestDefaultsAndValidate(t *testing.T) {
	for _, class := range Classes() {
		c, err := Defaults(class)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s defaults: %v", class, err)
		}
		if r := resolve(t, c, class); !reflect.DeepEqual(r, c) {
			t.Errorf("%s: Resolve of the defaults changed them:\n%+v\n%+v", class, r, c)
		}
	}
	if _, err := Defaults("PNDMScheduler"); err == nil || !strings.Contains(err.Error(), "UniPCMultistepScheduler") {
		t.Errorf("unknown class: error %v, want one listing the known classes", err)
	}
	base, _ := Defaults(DDPMClass)
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"num_train_timesteps", func(c *Config) { c.NumTrainTimesteps = 0 }},
		{"beta_schedule", func(c *Config) { c.BetaSchedule = "cosine" }},
		{"prediction_type", func(c *Config) { c.PredictionType = "noise" }},
		{"timestep_spacing", func(c *Config) { c.TimestepSpacing = "even" }},
		{"steps_offset", func(c *Config) { c.StepsOffset = -1 }},
		{"dynamic_thresholding_ratio", func(c *Config) { c.Thresholding, c.DynamicThresholdingRatio = true, 1.5 }},
	} {
		c := base
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("bad %s: error %v, want one naming it", tc.key, err)
		}
	}
}

// TestHasTracksChanges: a Config from Defaults holds its class's keys and
// any field changed afterwards, so edits made in Go reach the scheduler.
func TestHasTracksChanges(t *testing.T) {
	ddpm, _ := Defaults(DDPMClass)
	if ddpm.Has("solver_order") || !ddpm.Has("clip_sample") {
		t.Errorf("DDPM defaults: Has(solver_order) %v, Has(clip_sample) %v", ddpm.Has("solver_order"), ddpm.Has("clip_sample"))
	}
	u := resolve(t, ddpm, UniPCClass)
	if u.SolverOrder != 2 || u.SolverType != "bh2" || !u.PredictX0 || u.TimestepSpacing != Leading {
		t.Errorf("DDPM defaults resolved for UniPC: %+v", u)
	}
	ddpm.SolverOrder = 3
	ddpm.TimestepSpacing = Trailing
	if u := resolve(t, ddpm, UniPCClass); u.SolverOrder != 3 || u.TimestepSpacing != Trailing {
		t.Errorf("changed fields lost: solver_order %d, spacing %q", u.SolverOrder, u.TimestepSpacing)
	}
	loaded := parse(t, savedDDPM)
	loaded.SolverOrder = 1 // absent from the file, changed in Go
	if u := resolve(t, loaded, UniPCClass); u.SolverOrder != 1 {
		t.Errorf("solver_order set in Go was replaced by %d", u.SolverOrder)
	}
	// A value equal to the DDPM-filled one is no change: resolve, then edit.
	u = resolve(t, parse(t, savedDDPM), UniPCClass)
	u.PredictX0 = false
	if r := resolve(t, u, UniPCClass); r.PredictX0 {
		t.Error("predict_x0 set to false after Resolve was lost")
	}
	var literal Config
	if !literal.Has("solver_order") {
		t.Error("a Config literal should hold every key")
	}
	if r := resolve(t, literal, DDPMClass); r.Validate() == nil {
		t.Error("the zero Config resolved for DDPM validates (num_train_timesteps 0)")
	}
}

// A huge num_train_timesteps from a scheduler_config.json allocated the
// schedule without bound (found by FuzzSchedulerConfig).
func TestTrainTimestepsBounded(t *testing.T) {
	c, err := ParseConfig([]byte(`{"num_train_timesteps": 2000000000}`))
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "num_train_timesteps") {
		t.Fatalf("num_train_timesteps 2e9: %v", err)
	}
}
