package optim

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// EMAConfig holds the settings of an EMA, named after diffusers' EMAModel
// arguments.
type EMAConfig struct {
	MaxDecay        float64 // upper bound of the decay ("decay")
	MinDecay        float64 // lower bound of the decay
	UpdateAfterStep int     // optimizer steps before averaging starts
	UseWarmup       bool    // ramp the decay up with the step count
	InvGamma        float64 // warm-up time scale
	Power           float64 // warm-up exponent
}

// DefaultEMA returns the settings of the official DDPM training script:
// warm-up on, max decay 0.9999, inv_gamma 1, power 3/4, min decay 0,
// averaging from the first step.
func DefaultEMA() EMAConfig {
	return EMAConfig{MaxDecay: 0.9999, UseWarmup: true, InvGamma: 1, Power: 0.75}
}

// Validate reports an unusable setting.
func (c EMAConfig) Validate() error {
	switch {
	case !(c.MaxDecay >= 0 && c.MaxDecay <= 1):
		return fmt.Errorf("optim: EMA: max decay %v outside [0, 1]", c.MaxDecay)
	case !(c.MinDecay >= 0 && c.MinDecay <= 1):
		return fmt.Errorf("optim: EMA: min decay %v outside [0, 1]", c.MinDecay)
	case c.UpdateAfterStep < 0:
		return fmt.Errorf("optim: EMA: negative update_after_step %d", c.UpdateAfterStep)
	case c.UseWarmup && !(c.InvGamma > 0):
		return fmt.Errorf("optim: EMA: inv_gamma %v must be positive", c.InvGamma)
	case c.UseWarmup && !(c.Power > 0):
		return fmt.Errorf("optim: EMA: power %v must be positive", c.Power)
	}
	return nil
}

// Decay returns the decay used at the given optimization step (1 for the
// first call of EMA.Step), as EMAModel.get_decay: with
// s = step - UpdateAfterStep - 1, 0 if s <= 0, otherwise
// 1 - (1 + s/InvGamma)^-Power (or MaxDecay without warm-up), clamped to
// [MinDecay, MaxDecay].
func (c EMAConfig) Decay(step int) float64 {
	s := step - c.UpdateAfterStep - 1
	if s <= 0 {
		return 0
	}
	d := c.MaxDecay
	if c.UseWarmup {
		d = 1 - math.Pow(1+float64(s)/c.InvGamma, -c.Power)
	}
	return max(min(d, c.MaxDecay), c.MinDecay)
}

// EMA keeps an exponential moving average ("shadow" copy) of parameters,
// as diffusers' EMAModel: after each optimizer step, Step moves every shadow
// tensor towards its parameter, s -= (1-decay)*(s-p), in float32. Frozen
// parameters are copied instead.
type EMA struct {
	Config EMAConfig

	params []*ag.Var
	shadow []*tensor.Tensor // aligned with params
	step   int              // optimization_step
	decay  float64          // decay of the last Step
	keep   float32          // 1 - decay of the current Step, for update
	segs   []segment
	body   func(lo, hi int)
}

// NewEMA starts an average of params at their current values. Every
// parameter must have a distinct non-empty name, under which its shadow is
// saved.
func NewEMA(params []*ag.Var, cfg EMAConfig) (*EMA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkNames("EMA", params); err != nil {
		return nil, err
	}
	e := &EMA{Config: cfg, params: append([]*ag.Var(nil), params...), shadow: make([]*tensor.Tensor, len(params))}
	for i, p := range params {
		e.shadow[i] = p.Value.Clone()
	}
	e.body = e.update
	for i, p := range e.params {
		e.segs = appendSegments(e.segs, i, len(p.Value.Data))
	}
	return e, nil
}

// Steps returns the number of optimization steps averaged so far
// (EMAModel.optimization_step).
func (e *EMA) Steps() int { return e.step }

// LastDecay returns the decay used by the last Step (EMAModel.cur_decay_value).
func (e *EMA) LastDecay() float64 { return e.decay }

// Step folds the parameters' current values into the average. Call it
// once after every optimizer step.
func (e *EMA) Step() {
	e.step++
	e.decay = e.Config.Decay(e.step)
	e.keep = float32(1 - e.decay)
	for i, p := range e.params {
		if len(p.Value.Data) != len(e.shadow[i].Data) {
			panic(&tensor.ShapeError{Op: "EMA.Step", Msg: "parameter " + p.Name + " changed size", Shapes: [][]int{e.shadow[i].Shape, p.Value.Shape}})
		}
	}
	parallel.For(len(e.segs), 1, e.body)
}

func (e *EMA) update(lo, hi int) {
	k := e.keep
	for _, sg := range e.segs[lo:hi] {
		p := e.params[sg.p]
		s := e.shadow[sg.p].Data[sg.lo:sg.hi]
		v := p.Value.Data[sg.lo:sg.hi]
		v = v[:len(s)]
		if !p.RequiresGrad() {
			copy(s, v)
			continue
		}
		for j := range s {
			s[j] -= k * (s[j] - v[j])
		}
	}
}

// Shadow returns the averaged value of the parameter with the given name,
// or nil. It aliases the EMA's buffer.
func (e *EMA) Shadow(name string) *tensor.Tensor {
	for i, p := range e.params {
		if p.Name == name {
			return e.shadow[i]
		}
	}
	return nil
}

// CopyTo copies the averaged weights into params, matched by name, for
// evaluation or export (EMAModel.copy_to). Every parameter in params must
// have an average of the same shape.
func (e *EMA) CopyTo(params []*ag.Var) error {
	byName := make(map[string]*tensor.Tensor, len(e.params))
	for i, p := range e.params {
		byName[p.Name] = e.shadow[i]
	}
	var pe problems
	for _, p := range params {
		s, ok := byName[p.Name]
		switch {
		case !ok:
			pe.missing = append(pe.missing, p.Name)
		case !tensor.SameShape(s.Shape, p.Value.Shape):
			pe.mismatch(p.Name, p.Value.Shape, s.Shape)
		}
	}
	if err := pe.err("EMA.CopyTo"); err != nil {
		return err
	}
	for _, p := range params {
		copy(p.Value.Data, byName[p.Name].Data)
	}
	return nil
}

// Swap exchanges the values of the tracked parameters with their averages,
// in place: call it before evaluating or saving with the averaged weights
// and again afterwards to resume training (EMAModel.store, copy_to and
// restore, without the extra copy).
func (e *EMA) Swap() {
	parallel.For(len(e.segs), 1, func(lo, hi int) {
		for _, sg := range e.segs[lo:hi] {
			s := e.shadow[sg.p].Data[sg.lo:sg.hi]
			v := e.params[sg.p].Value.Data[sg.lo:sg.hi]
			v = v[:len(s)]
			for j := range s {
				s[j], v[j] = v[j], s[j]
			}
		}
	})
}

// State returns the optimization step and the averaged weights keyed by
// parameter name (aliasing the EMA's buffers: write them out before the
// next Step). The decay settings are configuration, not state.
func (e *EMA) State() (step int, shadow map[string]*tensor.Tensor) {
	shadow = make(map[string]*tensor.Tensor, len(e.params))
	for i, p := range e.params {
		shadow[p.Name] = e.shadow[i]
	}
	return e.step, shadow
}

// LoadState restores what State returned, copying the values. It needs
// exactly one tensor of the right shape per parameter; the error lists
// every missing, unexpected and mis-shaped entry.
func (e *EMA) LoadState(step int, shadow map[string]*tensor.Tensor) error {
	if step < 0 {
		return fmt.Errorf("optim: EMA.LoadState: negative step count %d", step)
	}
	var pe problems
	known := make(map[string]bool, len(e.params))
	for i, p := range e.params {
		known[p.Name] = true
		s, ok := shadow[p.Name]
		switch {
		case !ok || s == nil:
			pe.missing = append(pe.missing, p.Name)
		case !tensor.SameShape(s.Shape, e.shadow[i].Shape) || len(s.Data) != len(e.shadow[i].Data):
			pe.mismatch(p.Name, e.shadow[i].Shape, s.Shape)
		}
	}
	for name := range shadow {
		if !known[name] {
			pe.unexpected = append(pe.unexpected, name)
		}
	}
	if err := pe.err("EMA.LoadState"); err != nil {
		return err
	}
	for i, p := range e.params {
		copy(e.shadow[i].Data, shadow[p.Name].Data)
	}
	e.step = step
	e.decay = 0
	if step > 0 {
		e.decay = e.Config.Decay(step)
	}
	return nil
}
