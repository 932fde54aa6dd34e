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

// TestDDIMTail checks TailSteps: the timesteps of the split last step,
// that every step of the tail lands on the next one's noise level (the
// model output is the exact noise, so a DDIM step from t to p returns
// sqrt(acp[p]) x0 + sqrt(1-acp[p]) eps), and that 0 and 1 change nothing.
func TestDDIMTail(t *testing.T) {
	cfg := defaults(t, schedule.DDIMClass)
	plain, _ := NewDDIM(cfg)
	if err := plain.SetTimesteps(50); err != nil {
		t.Fatal(err)
	}
	pts := plain.Timesteps()
	hi, lo := pts[len(pts)-2], pts[len(pts)-1]

	d, _ := NewDDIM(cfg)
	d.TailSteps = 4
	if err := d.SetTimesteps(50); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(pts[:len(pts)-1]), hi-(hi-lo)/4, hi-(hi-lo)/2, hi-3*(hi-lo)/4, lo)
	if got := d.Timesteps(); !slices.Equal(got, want) {
		t.Fatalf("timesteps %v, want %v", got, want)
	}

	x0 := fill(tensor.New(1, 3, 4, 4), 1, 0.8)
	eps := fill(tensor.New(1, 3, 4, 4), 2, 1)
	at := func(ts int) *tensor.Tensor { // x0 noised to timestep ts (-1: clean)
		acp := d.finalAcp
		if ts >= 0 {
			acp = d.sched.AlphasCumprod[ts]
		}
		out := tensor.New(x0.Shape...)
		for i := range out.Data {
			out.Data[i] = sqrtF32(acp)*x0.Data[i] + sqrtF32(1-acp)*eps.Data[i]
		}
		return out
	}
	ts := d.Timesteps()
	for i, tt := range ts[len(ts)-6:] { // the last plain steps, then the tail
		next := -1
		if j := len(ts) - 6 + i + 1; j < len(ts) {
			next = ts[j]
		}
		got, err := d.Step(eps, at(tt), tt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := tensor.MaxAbsDiff(got, at(next)); diff > 1e-5 {
			t.Errorf("step from %d: off the noise level of %d by %g", tt, next, diff)
		}
	}

	for _, k := range []int{0, 1} {
		s, _ := NewDDIM(cfg)
		s.TailSteps = k
		if err := s.SetTimesteps(50); err != nil || !slices.Equal(s.Timesteps(), pts) {
			t.Errorf("TailSteps %d: timesteps %v (err %v), want the plain %v", k, s.Timesteps(), err, pts)
		}
		for _, tt := range pts[len(pts)-3:] {
			a, _ := plain.Step(eps, at(tt), tt, nil)
			b, _ := s.Step(eps, at(tt), tt, nil)
			if diff := tensor.MaxAbsDiff(a, b); diff != 0 {
				t.Errorf("TailSteps %d: step at %d differs from the plain one by %g", k, tt, diff)
			}
		}
	}

	for _, tc := range []struct{ tail, steps int }{{-1, 50}, {hi - lo + 1, 50}, {2, 1}} {
		s, _ := NewDDIM(cfg)
		s.TailSteps = tc.tail
		if err := s.SetTimesteps(tc.steps); err == nil {
			t.Errorf("TailSteps %d with %d steps: no error", tc.tail, tc.steps)
		}
	}
}

// TestImg2ImgTail checks which timesteps an img2img run with a DDIM tail
// takes: the tail follows the plain schedule's second-to-last timestep,
// and a run that starts at the plain schedule's last one runs it alone.
func TestImg2ImgTail(t *testing.T) {
	model := func(x *tensor.Tensor, ts int) (*tensor.Tensor, error) {
		return fill(tensor.New(x.Shape...), ts, 0.5), nil
	}
	lq := fill(tensor.New(1, 3, 4, 4), 1, 0.9)
	noise := fill(tensor.New(1, 3, 4, 4), 2, 1)
	plain, _ := NewDDIM(defaults(t, schedule.DDIMClass))
	plain.SetTimesteps(50)
	pts := plain.Timesteps()
	n := len(pts)
	for _, tc := range []struct {
		strength float64
		want     []int
	}{
		{0, nil},
		{0.019, nil},
		{0.02, pts[n-1:]},
		{0.05, append(slices.Clone(pts[n-2:n-1]), 15, 10, 5, pts[n-1])},
		{0.1, append(slices.Clone(pts[n-5:n-1]), 15, 10, 5, pts[n-1])},
	} {
		d, _ := NewDDIM(defaults(t, schedule.DDIMClass))
		d.TailSteps = 4
		_, ran, err := Img2Img(d, model, lq, noise, 50, tc.strength, nil)
		if err != nil || !slices.Equal(ran, tc.want) {
			t.Errorf("strength %g: ran %v (err %v), want %v", tc.strength, ran, err, tc.want)
		}
	}
}
