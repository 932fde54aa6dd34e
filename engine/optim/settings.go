package optim

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/ag"
)

// Settings are the optimisation settings every degradiff trainer shares,
// with the keys of their YAML settings files. Trainers embed them inline.
type Settings struct {
	LR          float64 `yaml:"learning_rate"`
	LRSchedule  string  `yaml:"lr_schedule"`
	WarmupSteps int     `yaml:"warmup_steps"`
	AdamBeta1   float64 `yaml:"adam_beta1"`
	AdamBeta2   float64 `yaml:"adam_beta2"`
	AdamEps     float64 `yaml:"adam_epsilon"`
	WeightDecay float64 `yaml:"weight_decay"`
	// MaxGradNorm clips the gradient norm; 0 disables clipping.
	MaxGradNorm float64 `yaml:"max_grad_norm"`
	UseEMA      bool    `yaml:"use_ema"`
	EMAMaxDecay float64 `yaml:"ema_max_decay"`
	EMAInvGamma float64 `yaml:"ema_inv_gamma"`
	EMAPower    float64 `yaml:"ema_power"`
}

// Validate names the first impossible setting by its YAML key.
func (s Settings) Validate() error {
	bad := func(key string, v any, why string) error { return fmt.Errorf("%s: %v %s", key, v, why) }
	// YAML files refuse infinities already; a Settings built in code may not.
	for _, v := range []struct {
		key string
		val float64
	}{{"learning_rate", s.LR}, {"adam_epsilon", s.AdamEps}, {"weight_decay", s.WeightDecay}, {"max_grad_norm", s.MaxGradNorm}, {"ema_inv_gamma", s.EMAInvGamma}, {"ema_power", s.EMAPower}} {
		if math.IsInf(v.val, 0) {
			return bad(v.key, v.val, "must be finite")
		}
	}
	switch {
	case !(s.LR > 0):
		return bad("learning_rate", s.LR, "must be positive")
	case s.WarmupSteps < 0:
		return bad("warmup_steps", s.WarmupSteps, "must not be negative")
	case !(s.AdamBeta1 >= 0 && s.AdamBeta1 < 1):
		return bad("adam_beta1", s.AdamBeta1, "must be in [0, 1)")
	case !(s.AdamBeta2 >= 0 && s.AdamBeta2 < 1):
		return bad("adam_beta2", s.AdamBeta2, "must be in [0, 1)")
	case !(s.AdamEps > 0):
		return bad("adam_epsilon", s.AdamEps, "must be positive")
	case !(s.WeightDecay >= 0):
		return bad("weight_decay", s.WeightDecay, "must not be negative")
	case !(s.MaxGradNorm >= 0):
		return bad("max_grad_norm", s.MaxGradNorm, "must not be negative (0 disables clipping)")
	case s.UseEMA && !(s.EMAMaxDecay > 0 && s.EMAMaxDecay < 1):
		return bad("ema_max_decay", s.EMAMaxDecay, "must be in (0, 1)")
	case s.UseEMA && !(s.EMAInvGamma > 0):
		return bad("ema_inv_gamma", s.EMAInvGamma, "must be positive")
	case s.UseEMA && !(s.EMAPower > 0):
		return bad("ema_power", s.EMAPower, "must be positive")
	}
	switch s.LRSchedule {
	case "cosine", "constant", "constant_with_warmup", "linear":
	default:
		return bad("lr_schedule", s.LRSchedule, "must be cosine, constant, constant_with_warmup or linear")
	}
	return nil
}

// NewAdamW returns the optimiser of params.
func (s Settings) NewAdamW(params []*ag.Var) (*AdamW, error) {
	return NewAdamW(params, AdamWConfig{LR: s.LR, Beta1: s.AdamBeta1, Beta2: s.AdamBeta2, Eps: s.AdamEps, WeightDecay: s.WeightDecay})
}

// NewEMA returns the weight average of params (the diffusers rule with
// warm-up), or nil when UseEMA is off.
func (s Settings) NewEMA(params []*ag.Var) (*EMA, error) {
	if !s.UseEMA {
		return nil, nil
	}
	c := DefaultEMA()
	c.MaxDecay, c.InvGamma, c.Power = s.EMAMaxDecay, s.EMAInvGamma, s.EMAPower
	return NewEMA(params, c)
}

// Schedule returns the learning-rate multiplier of a run of total steps.
func (s Settings) Schedule(total int) (Schedule, error) {
	return ParseSchedule(s.LRSchedule, s.WarmupSteps, total)
}

// ClipGrads clips the gradients of params to MaxGradNorm (when positive)
// and returns their norm before clipping.
func (s Settings) ClipGrads(params []*ag.Var) float64 {
	if s.MaxGradNorm > 0 {
		return ClipGradNorm(params, s.MaxGradNorm)
	}
	return GradNorm(params)
}
