package optim

import (
	"fmt"
	"math"
	"strings"
)

// A Schedule returns the learning-rate multiplier for an optimizer step
// (0 for the first): the step uses base_lr * s(step). This is the lr_lambda
// of PyTorch's LambdaLR, which diffusers' training scripts advance once
// after every optimizer step.
type Schedule func(step int) float64

// Constant returns the schedule 1 at every step (diffusers
// get_constant_schedule).
func Constant() Schedule {
	return func(int) float64 { return 1 }
}

// ConstantWithWarmup returns a schedule that rises linearly from 0 to 1
// over warmup steps and then stays at 1 (diffusers
// get_constant_schedule_with_warmup).
func ConstantWithWarmup(warmup int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		return 1
	}
}

// Linear returns a schedule that rises linearly from 0 to 1 over warmup
// steps and then falls linearly to 0 at step total (diffusers
// get_linear_schedule_with_warmup).
func Linear(warmup, total int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		return max(0, float64(total-step)/float64(max(1, total-warmup)))
	}
}

// Cosine returns a schedule that rises linearly from 0 to 1 over warmup
// steps and then follows half a cosine period down to 0 at step total
// (diffusers get_cosine_schedule_with_warmup with num_cycles 0.5).
func Cosine(warmup, total int) Schedule {
	const numCycles = 0.5
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		progress := float64(step-warmup) / float64(max(1, total-warmup))
		return max(0, 0.5*(1+math.Cos(math.Pi*numCycles*2*progress)))
	}
}

// ParseSchedule returns the schedule with a diffusers scheduler name, for
// configuration files: "constant", "constant_with_warmup", "linear" or
// "cosine". As in diffusers' get_scheduler, "constant" ignores warmup;
// "linear" and "cosine" need total > 0.
func ParseSchedule(name string, warmup, total int) (Schedule, error) {
	if warmup < 0 {
		return nil, fmt.Errorf("optim: learning-rate schedule %q: negative warm-up %d", name, warmup)
	}
	switch key := strings.ToLower(strings.TrimSpace(name)); key {
	case "constant":
		return Constant(), nil
	case "constant_with_warmup":
		return ConstantWithWarmup(warmup), nil
	case "linear", "cosine":
		if total <= 0 {
			return nil, fmt.Errorf("optim: learning-rate schedule %q needs the total number of steps (got %d)", name, total)
		}
		if key == "linear" {
			return Linear(warmup, total), nil
		}
		return Cosine(warmup, total), nil
	}
	return nil, fmt.Errorf("optim: unknown learning-rate schedule %q (want constant, constant_with_warmup, linear or cosine)", name)
}
