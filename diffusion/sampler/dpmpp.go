package sampler

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// DPMSolver is diffusers' DPMSolverMultistepScheduler (Lu et al. 2022) with
// the deterministic algorithms: "dpmsolver++" (data prediction, the
// default; with solver_order 2 this is DPM-Solver++ 2M) and "dpmsolver"
// (noise prediction), solver orders 1 to 3, second-order solver types
// "midpoint" (default) and "heun". As in diffusers, the order warms up from
// 1, and lower_order_final drops to lower orders in the last steps of runs
// shorter than 15 steps.
type DPMSolver struct {
	cfg       schedule.Config
	sched     *schedule.Schedule
	timesteps []int
	set       bool

	outputs        []*tensor.Tensor // converted model outputs, oldest first
	lowerOrderNums int
}

// NewDPMSolver returns a DPM-Solver scheduler for cfg resolved as a
// DPMSolverMultistepScheduler. The SDE variants and Karras sigmas are not
// supported.
func NewDPMSolver(cfg schedule.Config) (*DPMSolver, error) {
	cfg, err := cfg.Resolve(schedule.DPMSolverClass)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.AlgorithmType {
	case "dpmsolver++", "dpmsolver":
	case "deis":
		cfg.AlgorithmType = "dpmsolver++" // as diffusers registers it
	default:
		return nil, fmt.Errorf("sampler: DPM-Solver algorithm_type %q is not supported (dpmsolver++, dpmsolver)", cfg.AlgorithmType)
	}
	switch cfg.SolverType {
	case "midpoint", "heun":
	case "logrho", "bh1", "bh2":
		cfg.SolverType = "midpoint" // as diffusers registers it
	default:
		return nil, fmt.Errorf("sampler: DPM-Solver solver_type %q is not one of midpoint, heun", cfg.SolverType)
	}
	if cfg.SolverOrder < 1 || cfg.SolverOrder > 3 {
		return nil, fmt.Errorf("sampler: DPM-Solver solver_order must be 1, 2 or 3, got %d", cfg.SolverOrder)
	}
	if cfg.UseKarrasSigmas {
		return nil, fmt.Errorf("sampler: DPM-Solver use_karras_sigmas is not supported")
	}
	if cfg.AlgorithmType == "dpmsolver" && cfg.FinalSigmasType == schedule.FinalZero {
		// The noise-prediction form cannot step to sigma 0 (diffusers refuses it too).
		return nil, fmt.Errorf("sampler: DPM-Solver algorithm_type dpmsolver needs final_sigmas_type %q, not %q", schedule.FinalSigmaMin, schedule.FinalZero)
	}
	s, err := schedule.New(cfg)
	if err != nil {
		return nil, err
	}
	d := &DPMSolver{cfg: cfg, sched: s}
	d.Reset()
	return d, nil
}

// SetTimesteps sets about n inference steps (see
// schedule.ClippedMultistepTimesteps, with the schedule limited by
// lambda_min_clipped) and resets the multistep state.
func (d *DPMSolver) SetTimesteps(n int) error {
	// Clip the timesteps whose lambda is below lambda_min_clipped:
	// torch.searchsorted on the flipped (increasing) lambda table.
	T := d.sched.Len()
	clipped := sort.Search(T, func(i int) bool {
		_, _, l := d.sched.VP(T - 1 - i)
		return l >= d.cfg.LambdaMinClipped
	})
	ts, err := schedule.ClippedMultistepTimesteps(d.cfg.TimestepSpacing, d.cfg.NumTrainTimesteps, T-clipped, n, d.cfg.StepsOffset)
	if err != nil {
		return err
	}
	d.timesteps, d.set = ts, true
	d.Reset()
	return nil
}

// Timesteps returns the timesteps (nil before SetTimesteps).
func (d *DPMSolver) Timesteps() []int { return slices.Clone(d.timesteps) }

// Order returns 1: one model evaluation per step.
func (d *DPMSolver) Order() int { return 1 }

// Reset clears the model-output history.
func (d *DPMSolver) Reset() {
	d.outputs = make([]*tensor.Tensor, d.cfg.SolverOrder)
	d.lowerOrderNums = 0
}

// Schedule returns the noise schedule.
func (d *DPMSolver) Schedule() *schedule.Schedule { return d.sched }

// Config returns the resolved configuration.
func (d *DPMSolver) Config() schedule.Config { return d.cfg }

// Step implements Scheduler; the algorithms here are deterministic and
// ignore noise.
func (d *DPMSolver) Step(modelOutput, sample *tensor.Tensor, t int, _ NoiseSource) (*tensor.Tensor, error) {
	if !d.set {
		return nil, fmt.Errorf("sampler: DPMSolver.Step: call SetTimesteps first")
	}
	learned := d.cfg.VarianceType == "learned" || d.cfg.VarianceType == "learned_range"
	if err := checkStep("DPMSolver.Step", modelOutput, sample, t, d.sched.Len(), learned); err != nil {
		return nil, err
	}
	if !tensor.SameShape(modelOutput.Shape, sample.Shape) {
		modelOutput, _ = splitChannels(modelOutput) // keep the mean output
	}
	n := len(d.timesteps)
	idx := indexOf(d.timesteps, t)
	to := stepTarget(d.sched, d.cfg, d.timesteps, idx)
	short := d.cfg.LowerOrderFinal && n < 15
	// As in diffusers, the step to sigma 0 is always first order: higher
	// orders divide by its infinite log-SNR step.
	lowerFinal := idx == n-1 && (short || to.sigma == 0)
	lowerSecond := idx == n-2 && short

	conv := d.convert(modelOutput, sample, t)
	k := d.cfg.SolverOrder
	copy(d.outputs, d.outputs[1:])
	d.outputs[k-1] = conv

	var out *tensor.Tensor
	var err error
	switch {
	case k == 1 || d.lowerOrderNums < 1 || lowerFinal:
		out, err = d.update(sample, []int{t}, to)
	case k == 2 || d.lowerOrderNums < 2 || lowerSecond:
		if idx < 1 {
			return nil, fmt.Errorf("sampler: DPMSolver.Step: second-order step at the first timestep (call Reset between runs)")
		}
		out, err = d.update(sample, []int{d.timesteps[idx-1], t}, to)
	default:
		if idx < 2 {
			return nil, fmt.Errorf("sampler: DPMSolver.Step: third-order step at timestep index %d (call Reset between runs)", idx)
		}
		out, err = d.update(sample, []int{d.timesteps[idx-2], d.timesteps[idx-1], t}, to)
	}
	if err != nil {
		return nil, err
	}
	if d.lowerOrderNums < k {
		d.lowerOrderNums++
	}
	return out, nil
}

// convert returns the predicted x0 (dpmsolver++, thresholded if configured)
// or the predicted noise (dpmsolver).
func (d *DPMSolver) convert(mo, x *tensor.Tensor, t int) *tensor.Tensor {
	alpha, sigma, _ := d.sched.VP(t)
	var a, b float64 // out = a*x + b*mo
	if d.cfg.AlgorithmType == "dpmsolver++" {
		switch d.cfg.PredictionType {
		case schedule.Sample:
			a, b = 0, 1
		case schedule.VPrediction:
			a, b = alpha, -sigma
		default:
			a, b = 1/alpha, -sigma/alpha
		}
		out := combine(x, mo, nil, a, b, nil)
		if d.cfg.Thresholding {
			thresholdInPlace(out, d.cfg.DynamicThresholdingRatio, d.cfg.SampleMaxValue)
		}
		return out
	}
	switch d.cfg.PredictionType {
	case schedule.Sample:
		a, b = 1/sigma, -alpha/sigma
	case schedule.VPrediction:
		a, b = sigma, alpha
	default:
		a, b = 0, 1
	}
	eps := combine(x, mo, nil, a, b, nil)
	if d.cfg.Thresholding {
		// Threshold the implied x0, then return the noise it implies.
		x0 := combine(x, eps, nil, 1/alpha, -sigma/alpha, nil)
		thresholdInPlace(x0, d.cfg.DynamicThresholdingRatio, d.cfg.SampleMaxValue)
		eps = combine(x, x0, nil, 1/sigma, -alpha/sigma, nil)
	}
	return eps
}

// update is the multistep update of order len(ts) from ts[len-1] to the
// noise level to, with the newest model outputs for ts (oldest first).
func (d *DPMSolver) update(x *tensor.Tensor, ts []int, to vpPoint) (*tensor.Tensor, error) {
	order := len(ts)
	k := d.cfg.SolverOrder
	s0 := ts[order-1]
	alphaT, sigmaT, lambdaT := to.alpha, to.sigma, to.lambda
	alphaS0, sigmaS0, lambdaS0 := d.sched.VP(s0)
	h := lambdaT - lambdaS0
	if h == 0 || math.IsNaN(h) {
		return nil, fmt.Errorf("sampler: DPMSolver: degenerate step from timestep %d to log-SNR %g (h=%g)", s0, lambdaT, h)
	}
	m0 := d.outputs[k-1]

	// x_t = cx*x + c0*D0 + c1*D1 + c2*D2 with D0 = m0.
	var cx, phi, c1, c2 float64
	if d.cfg.AlgorithmType == "dpmsolver++" {
		phi = -alphaT * math.Expm1(-h) // -alpha_t*(e^{-h}-1)
		cx = sigmaT / sigmaS0
		if d.cfg.SolverType == "heun" || order == 3 {
			c1 = alphaT * (math.Expm1(-h)/h + 1)
		} else {
			c1 = 0.5 * phi
		}
		c2 = -alphaT * ((math.Expm1(-h)+h)/(h*h) - 0.5)
	} else {
		phi = -sigmaT * math.Expm1(h) // -sigma_t*(e^h-1)
		cx = alphaT / alphaS0
		if d.cfg.SolverType == "heun" || order == 3 {
			c1 = -sigmaT * (math.Expm1(h)/h - 1)
		} else {
			c1 = 0.5 * phi
		}
		c2 = -sigmaT * ((math.Expm1(h)-h)/(h*h) - 0.5)
	}

	switch order {
	case 1:
		return combine(x, m0, nil, cx, phi, nil), nil
	case 2:
		_, _, lambdaS1 := d.sched.VP(ts[0])
		r0 := (lambdaS0 - lambdaS1) / h
		// D1 = (m0 - m1)/r0 = -(m1 - m0)/r0.
		return combine(x, m0, []*tensor.Tensor{d.outputs[k-2]}, cx, phi, []float64{-c1 / r0}), nil
	default:
		_, _, lambdaS1 := d.sched.VP(ts[1])
		_, _, lambdaS2 := d.sched.VP(ts[0])
		r0 := (lambdaS0 - lambdaS1) / h
		r1 := (lambdaS1 - lambdaS2) / h
		// In terms of a = m1-m0 and b = m2-m0: D1_0 = -a/r0,
		// D1_1 = (a-b)/r1, D1 = D1_0 + r0/(r0+r1)*(D1_0-D1_1),
		// D2 = (D1_0-D1_1)/(r0+r1).
		d10 := [2]float64{-1 / r0, 0}
		d11 := [2]float64{1 / r1, -1 / r1}
		var w [2]float64
		for i := range w {
			diff := d10[i] - d11[i]
			D1 := d10[i] + r0/(r0+r1)*diff
			D2 := diff / (r0 + r1)
			w[i] = c1*D1 + c2*D2
		}
		return combine(x, m0, []*tensor.Tensor{d.outputs[k-2], d.outputs[k-3]}, cx, phi, w[:]), nil
	}
}
