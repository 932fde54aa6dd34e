package sampler

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// TestDDPMStepFixtures replays diffusers' DDPM steps (no set_timesteps, so
// t -> t-1) with the noise they drew.
func TestDDPMStepFixtures(t *testing.T) {
	fx := openFixtures(t)
	d, err := NewDDPM(defaults(t, schedule.DDPMClass))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p := fmt.Sprintf("ddpm_step.%d.", i)
		ts := fx.ints(p + "t")[0]
		prev, x0, err := d.StepX0(fx.tensor(p+"model_output"), fx.tensor(p+"sample"), ts, replay(t, fx.tensor(p+"noise")))
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-5
		if ts == 1 {
			tol = 1e-4 // README section 9: ill-conditioned
		}
		dx0 := tensor.MaxAbsDiff(x0, fx.tensor(p+"pred_original_sample"))
		dprev := tensor.MaxAbsDiff(prev, fx.tensor(p+"prev_sample"))
		t.Logf("t=%d: pred_original_sample max diff %.3g, prev_sample %.3g", ts, dx0, dprev)
		if dx0 > tol || dprev > tol {
			t.Errorf("t=%d: max diff x0 %g, prev %g > %g", ts, dx0, dprev, tol)
		}
		wantVar := float64(fx.tensor(p + "variance").Data[0])
		gotVar := float64(d.Variance(ts))
		if ts == 0 {
			gotVar = 0 // diffusers reports the variance it added: none at t=0
		}
		if math.Abs(gotVar-wantVar) > 1e-6*max(wantVar, 1e-3) {
			t.Errorf("t=%d: variance %g, want %g", ts, gotVar, wantVar)
		}
	}
}

// TestDDPMPosterior checks a step against the closed-form posterior mean
// and standard deviation in float64, with and without set_timesteps.
func TestDDPMPosterior(t *testing.T) {
	for _, tc := range []struct {
		steps      int // 0: no SetTimesteps
		t, prev    int
		prediction schedule.Prediction
		variance   string
	}{
		{0, 700, 699, schedule.Epsilon, "fixed_small"},
		{10, 700, 600, schedule.Epsilon, "fixed_small"},
		{10, 700, 600, schedule.VPrediction, "fixed_large"},
		{20, 650, 600, schedule.Sample, "fixed_small_log"},
	} {
		name := fmt.Sprintf("steps=%d/t=%d/%s/%s", tc.steps, tc.t, tc.prediction, tc.variance)
		cfg := defaults(t, schedule.DDPMClass)
		cfg.ClipSample = false
		cfg.PredictionType = tc.prediction
		cfg.VarianceType = tc.variance
		d, err := NewDDPM(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if tc.steps > 0 {
			if err := d.SetTimesteps(tc.steps); err != nil {
				t.Fatal(err)
			}
		}
		x := fill(tensor.New(1, 2, 4, 4), 1, 1.2)
		mo := fill(tensor.New(1, 2, 4, 4), 2, 0.8)
		z := fill(tensor.New(1, 2, 4, 4), 3, 1)
		got, err := d.Step(mo, x, tc.t, replay(t, z))
		if err != nil {
			t.Fatal(err)
		}
		acp := func(i int) float64 { return float64(d.Schedule().AlphasCumprod[i]) }
		a, ap := acp(tc.t), acp(tc.prev)
		beta := 1 - a/ap
		std := math.Sqrt((1 - ap) / (1 - a) * beta)
		if tc.variance == "fixed_large" {
			std = math.Sqrt(beta)
		}
		for i := range x.Data {
			xi, mi := float64(x.Data[i]), float64(mo.Data[i])
			var x0 float64
			switch tc.prediction {
			case schedule.Epsilon:
				x0 = (xi - math.Sqrt(1-a)*mi) / math.Sqrt(a)
			case schedule.Sample:
				x0 = mi
			case schedule.VPrediction:
				x0 = math.Sqrt(a)*xi - math.Sqrt(1-a)*mi
			}
			mean := math.Sqrt(ap)*beta/(1-a)*x0 + math.Sqrt(a/ap)*(1-ap)/(1-a)*xi
			want := mean + std*float64(z.Data[i])
			if d := math.Abs(float64(got.Data[i]) - want); d > 2e-5 {
				t.Fatalf("%s: element %d = %g, want %g (diff %g)", name, i, got.Data[i], want, d)
			}
		}
	}
}

func TestDDPMErrors(t *testing.T) {
	d, err := NewDDPM(defaults(t, schedule.DDPMClass))
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(1, 3, 4, 4)
	if _, err := d.Step(x, x, 10, nil); err == nil {
		t.Error("t=10 without noise: no error")
	}
	if _, err := d.Step(x, x, 0, nil); err != nil {
		t.Errorf("t=0 needs no noise: %v", err)
	}
	if _, err := d.Step(x, x, 1000, rng.New(1)); err == nil {
		t.Error("t=1000: no error")
	}
	if _, err := d.Step(tensor.New(1, 3, 4, 5), x, 5, rng.New(1)); err == nil {
		t.Error("shape mismatch: no error")
	}
	if err := d.SetTimesteps(2000); err == nil {
		t.Error("2000 steps of 1000: no error")
	}
	cfg := defaults(t, schedule.DDPMClass)
	cfg.VarianceType = "fixed_large_log"
	if _, err := NewDDPM(cfg); err == nil {
		t.Error("fixed_large_log: no error")
	}
}

// TestDDPMLearnedVariance checks the learned_range interpolation: a model
// variance output of -1 gives the fixed_small log-variance, +1 fixed_large.
func TestDDPMLearnedVariance(t *testing.T) {
	cfg := defaults(t, schedule.DDPMClass)
	cfg.ClipSample = false
	x := fill(tensor.New(1, 2, 3, 3), 1, 1)
	eps := fill(tensor.New(1, 2, 3, 3), 2, 1)
	z := fill(tensor.New(1, 2, 3, 3), 3, 1)
	for _, v := range []struct {
		fill  float32
		fixed string
	}{{-1, "fixed_small"}, {1, "fixed_large"}} {
		mo := tensor.New(1, 4, 3, 3)
		copy(mo.Data, eps.Data)
		for i := len(eps.Data); i < len(mo.Data); i++ {
			mo.Data[i] = v.fill
		}
		cfg.VarianceType = "learned_range"
		learned, err := NewDDPM(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.VarianceType = v.fixed
		fixed, err := NewDDPM(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := learned.Step(mo, x, 500, replay(t, z))
		if err != nil {
			t.Fatal(err)
		}
		want, err := fixed.Step(eps, x, 500, replay(t, z))
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(got, want); d > 1e-6 {
			t.Errorf("learned_range at %g vs %s: max diff %g", v.fill, v.fixed, d)
		}
		if _, err := learned.Step(eps, x, 500, replay(t, z)); err == nil {
			t.Error("learned_range with a 2-channel output: no error")
		}
	}
}
