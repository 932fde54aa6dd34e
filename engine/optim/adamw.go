// Package optim updates the parameters of a model: the AdamW optimizer,
// gradient-norm clipping, learning-rate schedules and an exponential moving
// average of the weights.
//
// Each follows a reference implementation exactly, so that a training run
// can be compared with its PyTorch counterpart: AdamW is
// torch.optim.AdamW, ClipGradNorm is torch.nn.utils.clip_grad_norm_, the
// schedules are those of diffusers.optimization, and EMA is diffusers'
// training_utils.EMAModel.
//
// Optimizer and EMA state is keyed by parameter name (ag.Var.Name) so that
// it can be written to and read from a checkpoint.
package optim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// AdamWConfig holds the hyperparameters of AdamW, named as in PyTorch.
type AdamWConfig struct {
	LR          float64 // learning rate
	Beta1       float64 // decay of the first moment
	Beta2       float64 // decay of the second moment
	Eps         float64 // added to the denominator
	WeightDecay float64 // decoupled weight decay
}

// DefaultAdamW returns PyTorch's defaults: lr 1e-3, betas (0.9, 0.999),
// eps 1e-8, weight_decay 1e-2.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}
}

// Validate reports the first out-of-range hyperparameter, with PyTorch's
// limits.
func (c AdamWConfig) Validate() error {
	switch {
	case !(c.LR >= 0):
		return fmt.Errorf("optim: AdamW: invalid learning rate %v", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("optim: AdamW: invalid beta1 %v (want 0 <= beta1 < 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("optim: AdamW: invalid beta2 %v (want 0 <= beta2 < 1)", c.Beta2)
	case !(c.Eps >= 0):
		return fmt.Errorf("optim: AdamW: invalid eps %v", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("optim: AdamW: invalid weight decay %v", c.WeightDecay)
	}
	return nil
}

// AdamW is the Adam optimizer with decoupled weight decay (Loshchilov and
// Hutter, 2019), computed exactly as torch.optim.AdamW (amsgrad off): for a
// parameter p with gradient g at its t-th update,
//
//	p *= 1 - lr*wd
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g*g
//	p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// in float32, with the scalar factors computed in float64. Like PyTorch,
// each parameter counts its own updates: a parameter is skipped, and its
// count not advanced, at a step where its gradient is nil or it is frozen.
type AdamW struct {
	// Config holds the hyperparameters. LR may be changed between steps (by
	// a learning-rate schedule); the others should stay fixed.
	Config AdamWConfig

	params []*ag.Var
	state  []adamState // per parameter, allocated on its first update
	steps  int         // calls of Step
	segs   []segment
	body   func(lo, hi int) // o.update, bound once so Step does not allocate
}

type adamState struct {
	m, v *tensor.Tensor
	t    int      // updates of this parameter
	c    adamCoef // scalars of the current update
}

// adamCoef holds one update's scalar factors, rounded to float32 as PyTorch
// does when it multiplies a float32 tensor by a Python float.
type adamCoef struct {
	decay      float32 // 1 - lr*wd
	b1, omb1   float32 // beta1, 1 - beta1
	b2, omb2   float32 // beta2, 1 - beta2
	bc2sqrt    float32 // sqrt(1 - beta2^t)
	eps        float32
	negStepLen float32 // -lr / (1 - beta1^t)
}

// NewAdamW returns an optimizer for params. Every parameter must have a
// distinct non-empty name, under which its state is saved.
func NewAdamW(params []*ag.Var, cfg AdamWConfig) (*AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkNames("AdamW", params); err != nil {
		return nil, err
	}
	o := &AdamW{Config: cfg, params: append([]*ag.Var(nil), params...), state: make([]adamState, len(params))}
	o.body = o.update
	return o, nil
}

// Params returns the parameters the optimizer updates.
func (o *AdamW) Params() []*ag.Var { return o.params }

// Steps returns how many times Step has been called (including calls
// restored by LoadState).
func (o *AdamW) Steps() int { return o.steps }

// Step updates every parameter that requires a gradient and has one. It
// allocates the moment buffers of a parameter on its first update and
// nothing afterwards (parallel.For itself aside).
func (o *AdamW) Step() {
	o.steps++
	cfg := o.Config
	o.segs = o.segs[:0]
	for i, p := range o.params {
		if !p.RequiresGrad() || p.Grad == nil {
			continue
		}
		if len(p.Grad.Data) != len(p.Value.Data) {
			panic(&tensor.ShapeError{Op: "AdamW.Step", Msg: "gradient of " + p.Name, Shapes: [][]int{p.Value.Shape, p.Grad.Shape}})
		}
		st := &o.state[i]
		if st.m == nil {
			st.m = tensor.New(p.Value.Shape...)
			st.v = tensor.New(p.Value.Shape...)
		}
		st.t++
		t := float64(st.t)
		bc1 := 1 - math.Pow(cfg.Beta1, t)
		bc2 := 1 - math.Pow(cfg.Beta2, t)
		st.c = adamCoef{
			decay:      float32(1 - cfg.LR*cfg.WeightDecay),
			b1:         float32(cfg.Beta1),
			omb1:       float32(1 - cfg.Beta1),
			b2:         float32(cfg.Beta2),
			omb2:       float32(1 - cfg.Beta2),
			bc2sqrt:    float32(math.Sqrt(bc2)),
			eps:        float32(cfg.Eps),
			negStepLen: float32(-cfg.LR / bc1),
		}
		o.segs = appendSegments(o.segs, i, len(p.Value.Data))
	}
	parallel.For(len(o.segs), 1, o.body)
}

// update applies the current step to segments [lo, hi).
func (o *AdamW) update(lo, hi int) {
	for _, s := range o.segs[lo:hi] {
		st := &o.state[s.p]
		c := st.c
		p := o.params[s.p].Value.Data[s.lo:s.hi]
		g := o.params[s.p].Grad.Data[s.lo:s.hi]
		m := st.m.Data[s.lo:s.hi]
		v := st.v.Data[s.lo:s.hi]
		adamwRows(p, g, m, v, &c, adamwVector(p, g, m, v, &c))
	}
}

// adamwRows applies one update with coefficients c to the elements j0 and
// on of a parameter p with gradient g and moments m and v (all as long).
func adamwRows(p, g, m, v []float32, c *adamCoef, j0 int) {
	g = g[:len(p)]
	m = m[:len(p)]
	v = v[:len(p)]
	for j := j0; j < len(p); j++ {
		gj := g[j]
		pj := p[j] * c.decay
		mj := m[j]*c.b1 + c.omb1*gj
		vj := v[j]*c.b2 + c.omb2*gj*gj
		denom := float32(math.Sqrt(float64(vj)))/c.bc2sqrt + c.eps
		p[j] = pj + c.negStepLen*mj/denom
		m[j] = mj
		v[j] = vj
	}
}

// Keys of the optimizer state of parameter name in State and LoadState,
// following the names of PyTorch's AdamW state.
func expAvgKey(name string) string   { return "exp_avg." + name }
func expAvgSqKey(name string) string { return "exp_avg_sq." + name }
func stepKey(name string) string     { return "step." + name }

// State returns the number of steps taken and the optimizer state of every
// parameter that requires a gradient or has been updated: for a parameter
// named n, "exp_avg.n" and "exp_avg_sq.n" (its moments, shaped like it) and
// "step.n" (its own update count, shape [1], float32 as in PyTorch).
// The moment tensors alias the optimizer's buffers: write them out before
// the next Step.
func (o *AdamW) State() (step int, tensors map[string]*tensor.Tensor) {
	tensors = make(map[string]*tensor.Tensor, 3*len(o.params))
	for i, p := range o.params {
		st := &o.state[i]
		if st.m == nil {
			if !p.RequiresGrad() {
				continue
			}
			// Zero moments with count 0 behave exactly like fresh state.
			st.m = tensor.New(p.Value.Shape...)
			st.v = tensor.New(p.Value.Shape...)
		}
		tensors[expAvgKey(p.Name)] = st.m
		tensors[expAvgSqKey(p.Name)] = st.v
		tensors[stepKey(p.Name)] = tensor.FromData([]float32{float32(st.t)}, 1)
	}
	return o.steps, tensors
}

// LoadState restores the state returned by State, copying the values. Every
// parameter that requires a gradient must have complete state; a frozen one
// may have none. The error lists every missing, unexpected or mis-shaped
// entry.
func (o *AdamW) LoadState(step int, tensors map[string]*tensor.Tensor) error {
	if step < 0 {
		return fmt.Errorf("optim: AdamW.LoadState: negative step count %d", step)
	}
	var pe problems
	used := make(map[string]bool, len(tensors))
	type entry struct {
		m, v *tensor.Tensor
		t    int
	}
	loaded := make([]*entry, len(o.params))
	for i, p := range o.params {
		keys := [3]string{expAvgKey(p.Name), expAvgSqKey(p.Name), stepKey(p.Name)}
		var ts [3]*tensor.Tensor
		found := 0
		for k, key := range keys {
			if t, ok := tensors[key]; ok && t != nil {
				ts[k] = t
				used[key] = true
				found++
			}
		}
		if found == 0 && !p.RequiresGrad() {
			continue
		}
		for k, key := range keys {
			if ts[k] == nil {
				pe.missing = append(pe.missing, key)
			}
		}
		if found < 3 {
			continue
		}
		ok := true
		for k := 0; k < 2; k++ {
			if !tensor.SameShape(ts[k].Shape, p.Value.Shape) || len(ts[k].Data) != len(p.Value.Data) {
				pe.mismatch(keys[k], p.Value.Shape, ts[k].Shape)
				ok = false
			}
		}
		if len(ts[2].Data) != 1 {
			pe.mismatch(keys[2], []int{1}, ts[2].Shape)
			ok = false
		} else if t := float64(ts[2].Data[0]); t < 0 || t != math.Trunc(t) || t > float64(step) {
			pe.other = append(pe.other, fmt.Sprintf("%s: invalid update count %v (steps taken %d)", keys[2], ts[2].Data[0], step))
			ok = false
		}
		if ok {
			loaded[i] = &entry{m: ts[0], v: ts[1], t: int(ts[2].Data[0])}
		}
	}
	for key := range tensors {
		if !used[key] {
			pe.unexpected = append(pe.unexpected, key)
		}
	}
	if err := pe.err("AdamW.LoadState"); err != nil {
		return err
	}
	for i, e := range loaded {
		st := &o.state[i]
		if e == nil {
			*st = adamState{}
			continue
		}
		if st.m == nil {
			st.m = tensor.New(o.params[i].Value.Shape...)
			st.v = tensor.New(o.params[i].Value.Shape...)
		}
		copy(st.m.Data, e.m.Data)
		copy(st.v.Data, e.v.Data)
		st.t = e.t
	}
	o.steps = step
	return nil
}

// segment is a contiguous range of one parameter's elements: the unit of
// parallel work, so that large and small tensors share the cores evenly.
type segment struct{ p, lo, hi int }

const segmentLen = 1 << 14

func appendSegments(segs []segment, p, n int) []segment {
	for lo := 0; lo < n; lo += segmentLen {
		segs = append(segs, segment{p, lo, min(lo+segmentLen, n)})
	}
	return segs
}

// checkNames reports empty or repeated parameter names, which would make
// state keyed by name ambiguous.
func checkNames(who string, params []*ag.Var) error {
	seen := make(map[string]bool, len(params))
	var dups []string
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("optim: %s: parameter %d is nil", who, i)
		}
		if p.Name == "" {
			return fmt.Errorf("optim: %s: parameter %d (shape %v) has no name", who, i, p.Value.Shape)
		}
		if seen[p.Name] {
			dups = append(dups, p.Name)
		}
		seen[p.Name] = true
	}
	if len(dups) > 0 {
		return fmt.Errorf("optim: %s: repeated parameter names %q", who, dups)
	}
	return nil
}

// problems collects what is wrong with a state map, to report it all at once.
type problems struct {
	missing, unexpected, other []string
}

func (pe *problems) mismatch(key string, want, got []int) {
	pe.other = append(pe.other, fmt.Sprintf("%s: shape %v, want %v", key, got, want))
}

func (pe *problems) err(who string) error {
	if len(pe.missing)+len(pe.unexpected)+len(pe.other) == 0 {
		return nil
	}
	sort.Strings(pe.missing)
	sort.Strings(pe.unexpected)
	var b strings.Builder
	fmt.Fprintf(&b, "optim: %s: state does not fit the parameters", who)
	if len(pe.missing) > 0 {
		fmt.Fprintf(&b, "; missing %d: %s", len(pe.missing), strings.Join(pe.missing, ", "))
	}
	if len(pe.unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected %d: %s", len(pe.unexpected), strings.Join(pe.unexpected, ", "))
	}
	if len(pe.other) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(pe.other, "; "))
	}
	return errors.New(b.String())
}
