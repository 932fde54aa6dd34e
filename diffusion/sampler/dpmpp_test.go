package sampler

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// TestDPMSolverFirstOrderIsDDIM: the first-order DPM-Solver++ (and
// DPM-Solver) update is the deterministic DDIM step (Lu et al. 2022,
// Section 4.1), checked between the timesteps where both schedules agree.
func TestDPMSolverFirstOrderIsDDIM(t *testing.T) {
	for _, alg := range []string{"dpmsolver++", "dpmsolver"} {
		for _, pt := range []schedule.Prediction{schedule.Epsilon, schedule.VPrediction, schedule.Sample} {
			cfg := defaults(t, schedule.DPMSolverClass)
			cfg.AlgorithmType, cfg.PredictionType, cfg.SolverOrder = alg, pt, 1
			cfg.FinalSigmasType = schedule.FinalSigmaMin
			cfg.TimestepSpacing = schedule.Leading
			dpm, err := NewDPMSolver(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Leading multistep spacing with 9 steps: 900, 800, ..., 100.
			if err := dpm.SetTimesteps(9); err != nil {
				t.Fatal(err)
			}
			dcfg := defaults(t, schedule.DDIMClass)
			dcfg.ClipSample, dcfg.PredictionType = false, pt
			ddim, err := NewDDIM(dcfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := ddim.SetTimesteps(10); err != nil { // 900, 800, ..., 0
				t.Fatal(err)
			}
			x := fill(tensor.New(2, 3, 5, 5), 11, 1)
			for i, ts := range dpm.Timesteps()[:8] {
				mo := fill(tensor.New(2, 3, 5, 5), 20+i, 0.7)
				a, err := dpm.Step(mo, x, ts, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := ddim.Step(mo, x, ts, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := tensor.MaxAbsDiff(a, b); d > 2e-5 {
					t.Errorf("%s/%s t=%d: first-order step vs DDIM max diff %g", alg, pt, ts, d)
				}
				x = a
			}
		}
	}
}

// TestDPMSolverOrders: the state machine warms up from first order, and the
// second and third orders and the heun variant change the result.
func TestDPMSolverOrders(t *testing.T) {
	run := func(order int, solverType string, lowerFinal bool) []*tensor.Tensor {
		cfg := defaults(t, schedule.DPMSolverClass)
		cfg.SolverOrder, cfg.SolverType, cfg.LowerOrderFinal = order, solverType, lowerFinal
		d, err := NewDPMSolver(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetTimesteps(6); err != nil {
			t.Fatal(err)
		}
		x := fill(tensor.New(1, 2, 4, 4), 1, 1)
		var out []*tensor.Tensor
		for i, ts := range d.Timesteps() {
			mo := fill(tensor.New(1, 2, 4, 4), 30+i, 1)
			if x, err = d.Step(mo, x, ts, nil); err != nil {
				t.Fatal(err)
			}
			out = append(out, x)
		}
		return out
	}
	o1, o2, o3 := run(1, "midpoint", true), run(2, "midpoint", true), run(3, "midpoint", true)
	heun := run(2, "heun", true)
	if tensor.MaxAbsDiff(o1[0], o2[0]) != 0 || tensor.MaxAbsDiff(o1[0], o3[0]) != 0 {
		t.Error("first steps differ: the warm-up is not first order")
	}
	if tensor.MaxAbsDiff(o2[1], o3[1]) != 0 {
		t.Error("second steps of orders 2 and 3 differ: the warm-up is not second order")
	}
	for name, pair := range map[string][2]*tensor.Tensor{
		"order 2 vs 1 at step 2": {o1[1], o2[1]},
		"order 3 vs 2 at step 3": {o2[2], o3[2]},
		"heun vs midpoint":       {o2[1], heun[1]},
	} {
		if tensor.MaxAbsDiff(pair[0], pair[1]) == 0 {
			t.Errorf("%s: identical", name)
		}
	}
	for _, x := range o3 {
		if !finite(x) {
			t.Fatal("order 3 produced a non-finite value")
		}
	}
}

func TestDPMSolverConfig(t *testing.T) {
	for _, mod := range []func(*schedule.Config){
		func(c *schedule.Config) { c.AlgorithmType = "sde-dpmsolver++" },
		func(c *schedule.Config) { c.SolverOrder = 4 },
		func(c *schedule.Config) { c.SolverType = "rk4" },
		func(c *schedule.Config) { c.UseKarrasSigmas = true },
	} {
		cfg := defaults(t, schedule.DPMSolverClass)
		mod(&cfg)
		if _, err := NewDPMSolver(cfg); err == nil {
			t.Errorf("config %+v: no error", cfg)
		}
	}
	// lambda_min_clipped limits the schedule to timesteps with lambda above it.
	cfg := defaults(t, schedule.DPMSolverClass)
	cfg.LambdaMinClipped = -3
	d, err := NewDPMSolver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	first := d.Timesteps()[0]
	_, _, l := d.Schedule().VP(first)
	_, _, lNext := d.Schedule().VP(first + 1)
	if l < -3 || lNext >= -3 {
		t.Errorf("clipped schedule starts at %d with lambda %g (next %g); want the last timestep with lambda >= -3", first, l, lNext)
	}
}

// TestDPMSolverHeunExactForLinearX0: DPM-Solver++ 2M with solver_type heun
// integrates exactly when the data prediction is linear in lambda (its
// second-order term is the exact phi_2 integral). The model predicts x0
// directly (prediction_type sample) as A + B*lambda_t, and the second step,
// between unevenly spaced lambdas, must match the closed form
// x_t = sigma_t/sigma_s*x + alpha_t*(1-e^-h)*x0(s) + alpha_t*(h-1+e^-h)*B.
func TestDPMSolverHeunExactForLinearX0(t *testing.T) {
	cfg := defaults(t, schedule.DPMSolverClass)
	cfg.SolverType, cfg.PredictionType = "heun", schedule.Sample
	d, err := NewDPMSolver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetTimesteps(20); err != nil {
		t.Fatal(err)
	}
	A := fill(tensor.New(1, 2, 3, 3), 1, 0.5)
	B := fill(tensor.New(1, 2, 3, 3), 2, 0.1)
	model := func(ts int) *tensor.Tensor {
		_, _, l := d.Schedule().VP(ts)
		out := tensor.New(A.Shape...)
		for i := range out.Data {
			out.Data[i] = float32(float64(A.Data[i]) + float64(B.Data[i])*l)
		}
		return out
	}
	ts := d.Timesteps()
	x := fill(tensor.New(1, 2, 3, 3), 3, 1)
	for i := 0; i < 16; i++ {
		y, err := d.Step(model(ts[i]), x, ts[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 { // steps after the first-order warm-up
			alphaT, sigmaT, lT := d.Schedule().VP(ts[i+1])
			_, sigmaS, lS := d.Schedule().VP(ts[i])
			h := lT - lS
			worst := 0.0
			for j := range x.Data {
				x0 := float64(A.Data[j]) + float64(B.Data[j])*lS
				want := sigmaT/sigmaS*float64(x.Data[j]) - alphaT*math.Expm1(-h)*x0 + alphaT*(h+math.Expm1(-h))*float64(B.Data[j])
				worst = max(worst, math.Abs(float64(y.Data[j])-want))
			}
			if worst > 1e-6 {
				t.Errorf("step %d (t=%d -> %d): max diff from the exact integral %g", i, ts[i], ts[i+1], worst)
			}
		}
		x = y
	}
}

// TestFinalStepToZero: with final_sigmas_type zero the last step of UniPC
// and DPM-Solver++ returns the clean sample the model predicts from the
// last input, (x - sigma*eps)/alpha, whatever the solver order.
func TestFinalStepToZero(t *testing.T) {
	for _, tc := range []struct {
		name  string
		class string
		order int
	}{{"unipc", schedule.UniPCClass, 2}, {"unipc", schedule.UniPCClass, 3}, {"dpmpp", schedule.DPMSolverClass, 2}, {"dpmpp", schedule.DPMSolverClass, 3}} {
		cfg := defaults(t, tc.class)
		cfg.SolverOrder, cfg.LowerOrderFinal = tc.order, false
		s, err := New(tc.name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetTimesteps(20); err != nil {
			t.Fatal(err)
		}
		ts := s.Timesteps()
		x := fill(tensor.New(1, 3, 4, 4), 3, 1)
		var eps *tensor.Tensor
		for i, step := range ts {
			eps = fill(tensor.New(1, 3, 4, 4), 40+i, 0.5)
			last := x
			if x, err = s.Step(eps, x, step, nil); err != nil {
				t.Fatal(err)
			}
			if i == len(ts)-1 {
				alpha, sigma, _ := s.Schedule().VP(step)
				want := tensor.New(last.Shape...)
				for j := range want.Data {
					want.Data[j] = float32((float64(last.Data[j]) - sigma*float64(eps.Data[j])) / alpha)
				}
				if d := tensor.MaxAbsDiff(x, want); d > 1e-5 || math.IsNaN(d) {
					t.Errorf("%s order %d: last step differs from the predicted clean sample by %g", tc.name, tc.order, d)
				}
			}
		}
	}
}
