// Package schedule holds the noise schedule of a discrete-time diffusion
// model as diffusers (v0.21) defines it: the betas, the cumulative products
// of the alphas, the forward noising q(x_t | x_0), the inference timestep
// spacings and the scheduler configuration file.
//
// The tables are float32 and reproduce what diffusers computes with float32
// torch on the CPU (torch 1.13): torch.linspace's vectorised kernel and a
// cumprod accumulated in float64. For the default linear schedule the betas
// and alphas_cumprod are bit-identical to the golden fixtures, and so is
// AddNoise.
package schedule

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Schedule is the noise schedule of a configuration. Its tables are
// read-only after New; a Schedule is safe for concurrent use.
type Schedule struct {
	// Betas, Alphas = 1-Betas and AlphasCumprod (alpha-bar) are indexed by
	// training timestep, exactly as diffusers' float32 tensors.
	Betas, Alphas, AlphasCumprod []float32

	// alpha, sigma and lambda are the multistep solvers' float32 tables
	// sqrt(acp), sqrt(1-acp) and log(alpha)-log(sigma).
	alpha, sigma, lambda []float32
}

// New computes the schedule of cfg (beta_schedule or trained_betas, and
// rescale_betas_zero_snr).
func New(cfg Config) (*Schedule, error) {
	if cfg.NumTrainTimesteps <= 0 {
		return nil, fmt.Errorf("schedule: num_train_timesteps must be positive, got %d", cfg.NumTrainTimesteps)
	}
	b, err := betas(cfg)
	if err != nil {
		return nil, err
	}
	n := len(b)
	s := &Schedule{Betas: b, Alphas: make([]float32, n)}
	for i, v := range b {
		s.Alphas[i] = 1 - v
	}
	s.AlphasCumprod = cumprodF32(s.Alphas)
	s.alpha = make([]float32, n)
	s.sigma = make([]float32, n)
	s.lambda = make([]float32, n)
	for i, a := range s.AlphasCumprod {
		s.alpha[i] = float32(math.Sqrt(float64(a)))
		s.sigma[i] = float32(math.Sqrt(float64(1 - a)))
		s.lambda[i] = float32(math.Log(float64(s.alpha[i]))) - float32(math.Log(float64(s.sigma[i])))
	}
	return s, nil
}

// Len returns the number of training timesteps.
func (s *Schedule) Len() int { return len(s.Betas) }

// VP returns the variance-preserving coefficients of timestep t as the
// multistep schedulers tabulate them in float32: alpha_t = sqrt(acp[t]),
// sigma_t = sqrt(1-acp[t]) and the half log-SNR lambda_t =
// log(alpha_t) - log(sigma_t). It panics if t is out of range.
func (s *Schedule) VP(t int) (alpha, sigma, lambda float64) {
	return float64(s.alpha[t]), float64(s.sigma[t]), float64(s.lambda[t])
}

// SNR returns the signal-to-noise ratio acp[t]/(1-acp[t]) of timestep t, in
// float64 from the float32 alphas_cumprod (as used for Min-SNR loss
// weighting). It panics if t is out of range.
func (s *Schedule) SNR(t int) float64 {
	a := float64(s.AlphasCumprod[t])
	return a / (1 - a)
}

// AddNoise returns sqrt(acp[t])*x0 + sqrt(1-acp[t])*noise, the forward
// process q(x_t | x_0) of diffusers' add_noise. t holds one timestep per
// batch item, or a single timestep for the whole batch. The arithmetic is
// float32 in torch's order, so the result matches diffusers bit for bit.
// It panics on mismatched shapes or a timestep out of range.
func (s *Schedule) AddNoise(x0, noise *tensor.Tensor, t []int) *tensor.Tensor {
	out := tensor.New(x0.Shape...)
	s.AddNoiseInto(out, x0, noise, t)
	return out
}

// AddNoiseInto is AddNoise writing into dst (the shape of x0), without
// allocating: the training loop reuses one buffer every step.
func (s *Schedule) AddNoiseInto(dst, x0, noise *tensor.Tensor, t []int) {
	tensor.Check(tensor.SameShape(x0.Shape, noise.Shape), "schedule.AddNoise", "x0 and noise", x0.Shape, noise.Shape)
	tensor.Check(tensor.SameShape(x0.Shape, dst.Shape), "schedule.AddNoise", "x0 and dst", x0.Shape, dst.Shape)
	tensor.Check(x0.Dims() >= 1, "schedule.AddNoise", "x0 needs a batch dimension", x0.Shape)
	batch := x0.Shape[0]
	if len(t) != 1 && len(t) != batch {
		tensor.Fail("schedule.AddNoise", fmt.Sprintf("%d timesteps for batch %d", len(t), batch), x0.Shape)
	}
	if batch == 0 {
		return
	}
	per := len(x0.Data) / batch
	for b := range batch {
		tb := t[0]
		if len(t) > 1 {
			tb = t[b]
		}
		if tb < 0 || tb >= len(s.AlphasCumprod) {
			panic(fmt.Sprintf("schedule.AddNoise: timestep %d outside [0, %d)", tb, len(s.AlphasCumprod)))
		}
		acp := s.AlphasCumprod[tb]
		parallel.Loop(per, 1<<14, noiseLoop{
			x: x0.Data[b*per : (b+1)*per], n: noise.Data[b*per : (b+1)*per], o: dst.Data[b*per : (b+1)*per],
			a: float32(math.Sqrt(float64(acp))), c: float32(math.Sqrt(float64(1 - acp))),
		})
	}
}

// noiseLoop computes o = a*x + c*n.
type noiseLoop struct {
	x, n, o []float32
	a, c    float32
}

func (l *noiseLoop) Run(lo, hi int) {
	x, n, o := l.x[lo:hi], l.n[lo:hi], l.o[lo:hi]
	n = n[:len(x)]
	o = o[:len(x)]
	for i, v := range x {
		// The conversions round each product, as torch does.
		o[i] = float32(l.a*v) + float32(l.c*n[i])
	}
}
