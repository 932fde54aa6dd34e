package schedule

import (
	"fmt"
	"math"
)

// linspaceF32 reproduces torch.linspace(start, end, steps, dtype=float32) of
// the CPU build that made the golden fixtures (torch 1.13, AVX2 kernel):
// the step is computed in float32, the first half counts up from start and the
// second half down from end, each 8-lane vector starts at a fused
// multiply-add base and its lanes add l*step unfused. The result is
// bit-identical to that build (other builds can differ by an ulp).
func linspaceF32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 0 {
		return out
	}
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	from := func(i int) float32 {
		if i < half {
			return fmaF32(step, float32(i), start)
		}
		return fmaF32(-step, float32(steps-i-1), end)
	}
	const w = 8 // AVX2 float lanes
	vec := func(i int) {
		base := from(i)
		for l := range w {
			out[i+l] = base + float32(float32(l)*step)
		}
	}
	i := 0
	// The vectorised loop handles two vectors per iteration; the tail is scalar.
	for ; i <= steps-2*w; i += 2 * w {
		vec(i)
		vec(i + w)
	}
	for ; i < steps; i++ {
		out[i] = from(i)
	}
	return out
}

// fmaF32 returns a*b+c rounded once to float32, as a fused multiply-add in
// float32 does. The product of two float32 values is exact in float64; the
// sum is rounded to odd (TwoSum gives its error) so that the final rounding
// to float32 is correct rather than a double rounding.
func fmaF32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b)) // the conversion forbids fusing
	cc := float64(c)
	s := p + cc
	bb := s - p
	e := (p - (s - bb)) + (cc - bb)
	if bits := math.Float64bits(s); e != 0 && bits&1 == 0 {
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// cumprodF32 is torch.cumprod on a float32 CPU tensor: the running product is
// kept in float64 (ATen's accumulate type) and each output rounded to float32.
func cumprodF32(x []float32) []float32 {
	out := make([]float32, len(x))
	p := 1.0
	for i, v := range x {
		p *= float64(v)
		out[i] = float32(p)
	}
	return out
}

// betasForAlphaBar discretises the cosine alpha-bar of Nichol & Dhariwal
// (squaredcos_cap_v2): beta_i = min(1 - abar((i+1)/n)/abar(i/n), maxBeta),
// computed in float64 and rounded to float32 as torch.tensor does.
func betasForAlphaBar(n int, maxBeta float64) []float32 {
	abar := func(t float64) float64 {
		c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	out := make([]float32, n)
	for i := range out {
		t1 := float64(i) / float64(n)
		t2 := float64(i+1) / float64(n)
		out[i] = float32(math.Min(1-abar(t2)/abar(t1), maxBeta))
	}
	return out
}

// rescaleZeroTerminalSNR rescales betas so that the last timestep has zero
// signal-to-noise ratio (Lin et al. 2023, Algorithm 1), in float32 as
// diffusers' DDIMScheduler does with rescale_betas_zero_snr.
func rescaleZeroTerminalSNR(betas []float32) []float32 {
	n := len(betas)
	alphas := make([]float32, n)
	for i, b := range betas {
		alphas[i] = 1 - b
	}
	acp := cumprodF32(alphas)
	sq := make([]float32, n)
	for i, a := range acp {
		sq[i] = float32(math.Sqrt(float64(a)))
	}
	s0, sT := sq[0], sq[n-1]
	scale := s0 / (s0 - sT)
	for i := range sq {
		sq[i] -= sT
		sq[i] *= scale
	}
	bar := make([]float32, n)
	for i, s := range sq {
		bar[i] = s * s
	}
	out := make([]float32, n)
	out[0] = 1 - bar[0]
	for i := 1; i < n; i++ {
		out[i] = 1 - bar[i]/bar[i-1]
	}
	return out
}

// betas returns the float32 beta schedule described by cfg.
func betas(cfg Config) ([]float32, error) {
	n := cfg.NumTrainTimesteps
	var b []float32
	switch {
	case cfg.TrainedBetas != nil:
		if len(cfg.TrainedBetas) != n {
			return nil, fmt.Errorf("schedule: trained_betas has %d values, num_train_timesteps is %d", len(cfg.TrainedBetas), n)
		}
		b = make([]float32, n)
		for i, v := range cfg.TrainedBetas {
			b[i] = float32(v)
		}
	case cfg.BetaSchedule == Linear:
		b = linspaceF32(float32(cfg.BetaStart), float32(cfg.BetaEnd), n)
	case cfg.BetaSchedule == ScaledLinear:
		b = linspaceF32(float32(math.Sqrt(cfg.BetaStart)), float32(math.Sqrt(cfg.BetaEnd)), n)
		for i, v := range b {
			b[i] = v * v
		}
	case cfg.BetaSchedule == SquaredCosCapV2:
		b = betasForAlphaBar(n, 0.999)
	default:
		return nil, fmt.Errorf("schedule: beta_schedule %q is not one of %q, %q, %q", cfg.BetaSchedule, Linear, ScaledLinear, SquaredCosCapV2)
	}
	if cfg.RescaleBetasZeroSNR {
		b = rescaleZeroTerminalSNR(b)
	}
	return b, nil
}
