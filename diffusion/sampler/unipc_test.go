package sampler

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// img2imgConfig returns the UniPC config of an img2img fixture variant: the
// saved DDPM config (leading), the same without "timestep_spacing"
// (linspace, as an older diffusers wrote it), or with "trailing".
func img2imgConfig(t *testing.T, fx *fixtures, variant string) schedule.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.dir, "ddpm_scheduler_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	switch variant {
	case "linspace":
		delete(m, "timestep_spacing")
	case "trailing":
		m["timestep_spacing"] = "trailing"
	}
	data, _ = json.Marshal(m)
	cfg, err := schedule.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg.FinalSigmasType = schedule.FinalSigmaMin // diffusers v0.21's only behaviour
	return cfg
}

func newUniPC(t *testing.T, cfg schedule.Config, steps int) *UniPC {
	t.Helper()
	u, err := NewUniPC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetTimesteps(steps); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUniPCImg2ImgFixtures replays the official pipeline's UniPC img2img
// trajectories (50 steps, strength 0.2, so timesteps[40:]) with the UNet
// outputs diffusers recorded.
func TestUniPCImg2ImgFixtures(t *testing.T) {
	fx := openFixtures(t)
	lq, noise := fx.tensor("img2img.lq"), fx.tensor("img2img.noise")
	for _, variant := range []string{"leading", "linspace", "trailing"} {
		t.Run(variant, func(t *testing.T) {
			p := "img2img." + variant + "."
			u := newUniPC(t, img2imgConfig(t, fx, variant), 50)
			if want := fx.ints(p + "timesteps_full"); !slices.Equal(u.Timesteps(), want) {
				t.Fatalf("timesteps %v, want %v", u.Timesteps(), want)
			}
			start := Img2ImgStart(50, 0.2)
			ts := u.Timesteps()[start:]
			if want := fx.ints(p + "timesteps"); !slices.Equal(ts, want) {
				t.Fatalf("img2img timesteps %v, want %v", ts, want)
			}
			if variant == "trailing" {
				return // only timesteps and the UNet-made final are stored
			}
			samples, eps := fx.tensor(p+"samples"), fx.tensor(p+"model_outputs")

			x := u.Schedule().AddNoise(lq, noise, ts[:1])
			if d := tensor.MaxAbsDiff(x, item(samples, 0)); d != 0 {
				t.Errorf("noisy start differs by %g (want bit-identical)", d)
			}
			// Chained: our own samples all the way.
			worst := 0.0
			for i, ts := range ts {
				var err error
				if x, err = u.Step(item(eps, i), x, ts, nil); err != nil {
					t.Fatal(err)
				}
				d := tensor.MaxAbsDiff(x, item(samples, i+1))
				worst = max(worst, d)
				if d > 1e-5 {
					t.Errorf("chained step %d (t=%d): max diff %g > 1e-5", i, ts, d)
				}
			}
			t.Logf("chained trajectory: max diff %.3g over 10 steps", worst)
			if d := tensor.MaxAbsDiff(x, fx.tensor(p+"final")); d > 1e-5 {
				t.Errorf("final: max diff %g", d)
			}
			// The pipeline output (x/2+0.5).clamp(0,1), NHWC.
			img := fx.tensor(p + "final_image_01_nhwc")
			h, w := img.Shape[1], img.Shape[2]
			imgDiff := 0.0
			for c := range 3 {
				for i := range h * w {
					v := min(max(x.Data[c*h*w+i]/2+0.5, 0), 1)
					imgDiff = max(imgDiff, float64(abs32(v-img.Data[i*3+c])))
				}
			}
			if imgDiff > 1e-5 {
				t.Errorf("pipeline image: max diff %g", imgDiff)
			}

			// Per step: the recorded sample in, the recorded next sample out.
			u.Reset()
			worst = 0
			for i, ts := range ts {
				got, err := u.Step(item(eps, i), item(samples, i), ts, nil)
				if err != nil {
					t.Fatal(err)
				}
				d := tensor.MaxAbsDiff(got, item(samples, i+1))
				worst = max(worst, d)
				if d > 1e-5 {
					t.Errorf("step %d (t=%d) from the recorded sample: max diff %g > 1e-5", i, ts, d)
				}
			}
			t.Logf("per-step replay: max diff %.3g", worst)

			// Img2Img with the recorded UNet outputs as the model.
			model := func(x *tensor.Tensor, t int) (*tensor.Tensor, error) {
				i := slices.Index(ts, t)
				if i < 0 {
					return nil, fmt.Errorf("unexpected timestep %d", t)
				}
				return item(eps, i), nil
			}
			got, _, err := Img2Img(u, model, lq, noise, 50, 0.2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(got, x); d != 0 {
				t.Errorf("Img2Img differs from the hand-written loop by %g", d)
			}
		})
	}
}

func abs32(x float32) float32 { return max(x, -x) }

// TestUniPCFirstStepIsFirstOrder: an img2img run that starts mid-schedule
// takes a first-order step (the UniP-1 / DPM-Solver++-1 update) with no
// corrector, exactly like a fresh DPM-Solver++ step between the same
// timesteps; the second step is then second order with a corrector and
// differs.
func TestUniPCFirstStepIsFirstOrder(t *testing.T) {
	u := newUniPC(t, defaults(t, schedule.UniPCClass), 50)
	d, err := NewDPMSolver(defaults(t, schedule.DPMSolverClass))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetTimesteps(50); err != nil {
		t.Fatal(err)
	}
	ts := u.Timesteps()
	if !slices.Equal(ts, d.Timesteps()) {
		t.Fatal("UniPC and DPM-Solver timesteps differ")
	}
	x := fill(tensor.New(1, 3, 8, 8), 7, 1)
	eps := fill(tensor.New(1, 3, 8, 8), 8, 1)
	a, err := u.Step(eps, x, ts[40], nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Step(eps, x, ts[40], nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := tensor.MaxAbsDiff(a, b); diff > 1e-6 {
		t.Errorf("first UniPC step vs first-order DPM-Solver++: max diff %g", diff)
	}
	eps2 := fill(tensor.New(1, 3, 8, 8), 9, 1)
	a2, _ := u.Step(eps2, a, ts[41], nil)
	b2, _ := d.Step(eps2, b, ts[41], nil)
	if diff := tensor.MaxAbsDiff(a2, b2); diff < 1e-4 {
		t.Errorf("second step: UniPC and DPM-Solver++ agree to %g; the corrector or second order did not run", diff)
	}
}

// TestUniPCDisableCorrector: disable_corrector [0] skips the correction of
// the first step's result (made at step index 1) and so changes the second
// output; an index beyond the steps run changes nothing.
func TestUniPCDisableCorrector(t *testing.T) {
	cfg := defaults(t, schedule.UniPCClass)
	x := fill(tensor.New(1, 3, 8, 8), 1, 1)
	e1 := fill(tensor.New(1, 3, 8, 8), 2, 1)
	e2 := fill(tensor.New(1, 3, 8, 8), 3, 1)
	run := func(disable []int) *tensor.Tensor {
		cfg.DisableCorrector = disable
		u := newUniPC(t, cfg, 20)
		ts := u.Timesteps()
		y, err := u.Step(e1, x, ts[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		y, err = u.Step(e2, y, ts[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	with, without := run(nil), run([]int{0})
	if tensor.MaxAbsDiff(with, without) == 0 {
		t.Error("disable_corrector [0] changed nothing")
	}
	if tensor.MaxAbsDiff(run([]int{5}), with) != 0 {
		t.Error("disable_corrector [5] changed the first two steps")
	}
}

func TestUniPCErrors(t *testing.T) {
	u, err := NewUniPC(defaults(t, schedule.UniPCClass))
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(1, 3, 4, 4)
	if _, err := u.Step(x, x, 500, nil); err == nil {
		t.Error("Step before SetTimesteps: no error")
	}
	for _, mod := range []func(*schedule.Config){
		func(c *schedule.Config) { c.SolverType = "rk4" },
		func(c *schedule.Config) { c.SolverOrder = 0 },
		func(c *schedule.Config) { c.UseKarrasSigmas = true },
	} {
		cfg := defaults(t, schedule.UniPCClass)
		mod(&cfg)
		if _, err := NewUniPC(cfg); err == nil {
			t.Errorf("config %+v: no error", cfg)
		}
	}
}
