package sampler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

func TestDDIMStepFixtures(t *testing.T) {
	fx := openFixtures(t)
	d, err := NewDDIM(defaults(t, schedule.DDIMClass))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetTimesteps(50); err != nil {
		t.Fatal(err)
	}
	if want := fx.ints("ddim.timesteps"); !slices.Equal(d.Timesteps(), want) {
		t.Errorf("timesteps %v, want %v", d.Timesteps(), want)
	}
	for i := range 4 {
		p := fmt.Sprintf("ddim_step.%d.", i)
		ts := fx.ints(p + "t")[0]
		prev, x0, err := d.StepX0(fx.tensor(p+"model_output"), fx.tensor(p+"sample"), ts, nil)
		if err != nil {
			t.Fatal(err)
		}
		dx0 := tensor.MaxAbsDiff(x0, fx.tensor(p+"pred_original_sample"))
		dprev := tensor.MaxAbsDiff(prev, fx.tensor(p+"prev_sample"))
		t.Logf("t=%d: pred_original_sample max diff %.3g, prev_sample %.3g", ts, dx0, dprev)
		if dx0 > 1e-5 || dprev > 1e-5 {
			t.Errorf("t=%d: max diff x0 %g, prev %g > 1e-5", ts, dx0, dprev)
		}
	}
}

// TestDDIMEtaOneIsDDPM: with eta 1 and steps of one timestep, the DDIM
// update is the DDPM posterior sample (fixed_small variance).
func TestDDIMEtaOneIsDDPM(t *testing.T) {
	for _, pt := range []schedule.Prediction{schedule.Epsilon, schedule.VPrediction, schedule.Sample} {
		cfg := defaults(t, schedule.DDIMClass)
		cfg.ClipSample, cfg.PredictionType = false, pt
		ddim, err := NewDDIM(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ddim.Eta = 1
		if err := ddim.SetTimesteps(1000); err != nil {
			t.Fatal(err)
		}
		pcfg := defaults(t, schedule.DDPMClass)
		pcfg.ClipSample, pcfg.PredictionType = false, pt
		ddpm, err := NewDDPM(pcfg)
		if err != nil {
			t.Fatal(err)
		}
		x := fill(tensor.New(1, 3, 4, 4), 4, 1)
		mo := fill(tensor.New(1, 3, 4, 4), 5, 0.3)
		z := fill(tensor.New(1, 3, 4, 4), 6, 1)
		for _, ts := range []int{900, 300, 20} {
			a, err := ddim.Step(mo, x, ts, replay(t, z))
			if err != nil {
				t.Fatal(err)
			}
			b, err := ddpm.Step(mo, x, ts, replay(t, z))
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(a, b); d > 1e-5 {
				t.Errorf("%s t=%d: DDIM(eta=1) vs DDPM max diff %g", pt, ts, d)
			}
		}
	}
}

func TestDDIMNeedsTimestepsAndNoise(t *testing.T) {
	d, err := NewDDIM(defaults(t, schedule.DDIMClass))
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(1, 3, 4, 4)
	if _, err := d.Step(x, x, 500, nil); err == nil {
		t.Error("Step before SetTimesteps: no error")
	}
	d.SetTimesteps(10)
	d.Eta = 0.5
	if _, err := d.Step(x, x, 500, nil); err == nil {
		t.Error("eta 0.5 without noise: no error")
	}
	a, err := d.Step(x, x, 500, rng.New(3, "ddim"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Step(x, x, 500, rng.New(3, "ddim"))
	c, _ := d.Step(x, x, 500, rng.New(4, "ddim"))
	if tensor.MaxAbsDiff(a, b) != 0 || tensor.MaxAbsDiff(a, c) == 0 {
		t.Error("eta > 0 is not deterministic in the noise source")
	}
}
