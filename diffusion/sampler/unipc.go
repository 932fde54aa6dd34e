package sampler

import (
	"fmt"
	"math"
	"slices"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
)

// UniPC is diffusers' UniPCMultistepScheduler (Zhao et al. 2023): a
// multistep predictor (UniP) of order solver_order, followed at the next
// step by a corrector (UniC) that reuses the new model output, in the
// data-prediction (predict_x0) or noise-prediction form, with the B(h)
// variants bh1 or bh2. Any solver order works; orders above 2 solve a small
// linear system for the coefficients.
//
// The state machine is diffusers' own: a step locates t in the timesteps
// (or takes the last index when t is absent), the order warms up from 1 as
// history accumulates (so an img2img run that starts in the middle of the
// schedule takes a first-order step first), lower_order_final limits the
// order to the steps left, and the corrector is skipped at the first step,
// at indices listed in disable_corrector (index-1 of the step it would
// correct), and whenever there is no previous sample.
type UniPC struct {
	cfg       schedule.Config
	sched     *schedule.Schedule
	timesteps []int
	set       bool
	disabled  map[int]bool

	// Multistep state, oldest first; nil entries are empty slots.
	outputs        []*tensor.Tensor // converted model outputs
	outTimesteps   []int            // their timesteps
	lowerOrderNums int
	lastSample     *tensor.Tensor // the sample the last predictor started from
	thisOrder      int            // the order of the last predictor
}

// NewUniPC returns a UniPC scheduler for cfg resolved as a
// UniPCMultistepScheduler. Karras sigmas and solver_p are not supported.
func NewUniPC(cfg schedule.Config) (*UniPC, error) {
	cfg, err := cfg.Resolve(schedule.UniPCClass)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.SolverType {
	case "bh1", "bh2":
	case "midpoint", "heun", "logrho":
		cfg.SolverType = "bh1" // diffusers v0.21 maps DPM-Solver names to bh1
	default:
		return nil, fmt.Errorf("sampler: UniPC solver_type %q is not one of bh1, bh2", cfg.SolverType)
	}
	if cfg.SolverOrder < 1 {
		return nil, fmt.Errorf("sampler: UniPC solver_order must be positive, got %d", cfg.SolverOrder)
	}
	if cfg.UseKarrasSigmas {
		return nil, fmt.Errorf("sampler: UniPC use_karras_sigmas is not supported")
	}
	s, err := schedule.New(cfg)
	if err != nil {
		return nil, err
	}
	u := &UniPC{cfg: cfg, sched: s, disabled: map[int]bool{}}
	for _, i := range cfg.DisableCorrector {
		u.disabled[i] = true
	}
	u.Reset()
	return u, nil
}

// SetTimesteps sets about n inference steps (see
// schedule.MultistepTimesteps) and resets the multistep state.
func (u *UniPC) SetTimesteps(n int) error {
	ts, err := schedule.MultistepTimesteps(u.cfg.TimestepSpacing, u.cfg.NumTrainTimesteps, n, u.cfg.StepsOffset)
	if err != nil {
		return err
	}
	u.timesteps, u.set = ts, true
	u.Reset()
	return nil
}

// Timesteps returns the timesteps (nil before SetTimesteps).
func (u *UniPC) Timesteps() []int { return slices.Clone(u.timesteps) }

// Order returns 1: one model evaluation per step.
func (u *UniPC) Order() int { return 1 }

// Reset clears the model-output history and the corrector state.
func (u *UniPC) Reset() {
	u.outputs = make([]*tensor.Tensor, u.cfg.SolverOrder)
	u.outTimesteps = make([]int, u.cfg.SolverOrder)
	u.lowerOrderNums = 0
	u.lastSample = nil
	u.thisOrder = 0
}

// Schedule returns the noise schedule.
func (u *UniPC) Schedule() *schedule.Schedule { return u.sched }

// Config returns the resolved configuration.
func (u *UniPC) Config() schedule.Config { return u.cfg }

// Step implements Scheduler; UniPC is deterministic and ignores noise.
func (u *UniPC) Step(modelOutput, sample *tensor.Tensor, t int, _ NoiseSource) (*tensor.Tensor, error) {
	if !u.set {
		return nil, fmt.Errorf("sampler: UniPC.Step: call SetTimesteps first")
	}
	if err := checkStep("UniPC.Step", modelOutput, sample, t, u.sched.Len(), false); err != nil {
		return nil, err
	}
	idx := indexOf(u.timesteps, t)
	conv := u.convert(modelOutput, sample, t)

	x := sample
	if idx > 0 && !u.disabled[idx-1] && u.lastSample != nil {
		var err error
		if x, err = u.correct(conv, t); err != nil {
			return nil, err
		}
	} else {
		x = sample.Clone() // kept as lastSample: the caller may reuse its tensor
	}

	to := stepTarget(u.sched, u.cfg, u.timesteps, idx)
	k := u.cfg.SolverOrder
	copy(u.outputs, u.outputs[1:])
	copy(u.outTimesteps, u.outTimesteps[1:])
	u.outputs[k-1], u.outTimesteps[k-1] = conv, t

	order := k
	if u.cfg.LowerOrderFinal {
		order = min(k, len(u.timesteps)-idx)
	}
	if to.sigma == 0 {
		// Higher orders divide by the infinite log-SNR step; the first-order
		// step to sigma 0 is exactly the predicted clean sample.
		order = 1
	}
	u.thisOrder = min(order, u.lowerOrderNums+1)
	u.lastSample = x
	out, err := u.predict(to, x, u.thisOrder)
	if err != nil {
		return nil, err
	}
	if u.lowerOrderNums < k {
		u.lowerOrderNums++
	}
	return out, nil
}

// convert turns the model output into what the solver integrates: the
// predicted x0 (predict_x0, then thresholded if configured) or the noise.
func (u *UniPC) convert(mo, x *tensor.Tensor, t int) *tensor.Tensor {
	alpha, sigma, _ := u.sched.VP(t)
	var a, b float64 // out = a*x + b*mo
	if u.cfg.PredictX0 {
		switch u.cfg.PredictionType {
		case schedule.Sample:
			a, b = 0, 1
		case schedule.VPrediction:
			a, b = alpha, -sigma
		default:
			a, b = 1/alpha, -sigma/alpha
		}
	} else {
		switch u.cfg.PredictionType {
		case schedule.Sample:
			a, b = 1/sigma, -alpha/sigma
		case schedule.VPrediction:
			a, b = sigma, alpha
		default:
			a, b = 0, 1
		}
	}
	out := combine(x, mo, nil, a, b, nil)
	if u.cfg.PredictX0 && u.cfg.Thresholding {
		thresholdInPlace(out, u.cfg.DynamicThresholdingRatio, u.cfg.SampleMaxValue)
	}
	return out
}

// uniCoeffs holds what UniP and UniC share for a step from timestep s0 (the
// newest history entry) to t: the ratios r_k = (lambda_{s_k} -
// lambda_{s0})/h of the older history, the order conditions R and b, and the
// coefficients of the first-order part.
type uniCoeffs struct {
	rks     []float64 // r_1..r_{order-1}
	R       [][]float64
	b       []float64
	cx, cm  float64          // x and m0 coefficients of the first-order part
	cRes    float64          // -alpha_t*B(h) (x0 form) or -sigma_t*B(h)
	history []*tensor.Tensor // m_1..m_{order-1}, newest first
	newest  *tensor.Tensor   // m0
}

// coeffs computes the uniCoeffs of a step to the noise level to with the
// given order.
func (u *UniPC) coeffs(to vpPoint, order int) (*uniCoeffs, error) {
	k := u.cfg.SolverOrder
	s0 := u.outTimesteps[k-1]
	alphaT, sigmaT, lambdaT := to.alpha, to.sigma, to.lambda
	alphaS0, sigmaS0, lambdaS0 := u.sched.VP(s0)
	h := lambdaT - lambdaS0
	if h == 0 || math.IsNaN(h) {
		return nil, fmt.Errorf("sampler: UniPC: degenerate step from timestep %d to log-SNR %g (h=%g)", s0, lambdaT, h)
	}
	c := &uniCoeffs{newest: u.outputs[k-1]}
	for i := 1; i < order; i++ {
		si := u.outTimesteps[k-1-i]
		_, _, lambdaSi := u.sched.VP(si)
		c.rks = append(c.rks, (lambdaSi-lambdaS0)/h)
		c.history = append(c.history, u.outputs[k-1-i])
	}
	rks := append(slices.Clone(c.rks), 1)

	hh := h
	if u.cfg.PredictX0 {
		hh = -h
	}
	hPhi1 := math.Expm1(hh)
	hPhiK := hPhi1/hh - 1
	factorial := 1.0
	bh := hh
	if u.cfg.SolverType == "bh2" {
		bh = math.Expm1(hh)
	}
	for i := 1; i <= order; i++ {
		row := make([]float64, len(rks))
		for j, r := range rks {
			row[j] = math.Pow(r, float64(i-1))
		}
		c.R = append(c.R, row)
		c.b = append(c.b, hPhiK*factorial/bh)
		factorial *= float64(i + 1)
		hPhiK = hPhiK/hh - 1/factorial
	}
	if u.cfg.PredictX0 {
		c.cx, c.cm, c.cRes = sigmaT/sigmaS0, -alphaT*hPhi1, -alphaT*bh
	} else {
		c.cx, c.cm, c.cRes = alphaT/alphaS0, -sigmaT*hPhi1, -sigmaT*bh
	}
	return c, nil
}

// predict is the UniP step from the newest history entry to the noise
// level to.
func (u *UniPC) predict(to vpPoint, x *tensor.Tensor, order int) (*tensor.Tensor, error) {
	c, err := u.coeffs(to, order)
	if err != nil {
		return nil, err
	}
	var rhos []float64
	switch {
	case order == 2:
		rhos = []float64{0.5} // diffusers' simplified second order
	case order > 2:
		a := make([][]float64, order-1)
		for i := range a {
			a[i] = slices.Clone(c.R[i][:order-1])
		}
		if rhos, err = solve(a, c.b[:order-1]); err != nil {
			return nil, fmt.Errorf("sampler: UniP order %d: %w", order, err)
		}
	}
	// D1_k = (m_k - m0)/r_k enters with weight cRes*rho_k.
	w := make([]float64, len(c.history))
	for i := range w {
		w[i] = c.cRes * rhos[i] / c.rks[i]
	}
	return combine(x, c.newest, c.history, c.cx, c.cm, w), nil
}

// correct is the UniC step: it recomputes the sample at timestep t from the
// last sample with the newest model output conv, using the order of the
// previous predictor.
func (u *UniPC) correct(conv *tensor.Tensor, t int) (*tensor.Tensor, error) {
	order := u.thisOrder
	c, err := u.coeffs(pointAt(u.sched, t), order)
	if err != nil {
		return nil, err
	}
	var rhos []float64
	if order == 1 {
		rhos = []float64{0.5}
	} else {
		a := make([][]float64, order)
		for i := range a {
			a[i] = slices.Clone(c.R[i])
		}
		if rhos, err = solve(a, c.b); err != nil {
			return nil, fmt.Errorf("sampler: UniC order %d: %w", order, err)
		}
	}
	w := make([]float64, len(c.history)+1)
	for i := range c.history {
		w[i] = c.cRes * rhos[i] / c.rks[i]
	}
	w[len(w)-1] = c.cRes * rhos[len(rhos)-1] // D1_t = model_t - m0
	ms := append(slices.Clone(c.history), conv)
	return combine(u.lastSample, c.newest, ms, c.cx, c.cm, w), nil
}
