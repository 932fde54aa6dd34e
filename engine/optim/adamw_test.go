package optim

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
)

// param returns a parameter with the given values and a zero gradient.
func param(name string, vals ...float32) *ag.Var {
	p := ag.Param(name, tensor.FromData(append([]float32(nil), vals...), len(vals)))
	p.Grad = tensor.New(len(vals))
	return p
}

func randParam(name string, seed uint64, n int) *ag.Var {
	r := rand.New(rand.NewPCG(seed, 3))
	p := ag.Param(name, tensor.New(n))
	p.Grad = tensor.New(n)
	for i := range p.Value.Data {
		p.Value.Data[i] = float32(r.NormFloat64())
		p.Grad.Data[i] = float32(r.NormFloat64())
	}
	return p
}

func mustAdamW(t *testing.T, params []*ag.Var, cfg AdamWConfig) *AdamW {
	t.Helper()
	o, err := NewAdamW(params, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAdamWFirstStepByHand(t *testing.T) {
	// p=1, g=0.5, lr=0.1, wd=0.01: p = 0.999, m = 0.05, v = 2.5e-4,
	// denom = sqrt(2.5e-4)/sqrt(1e-3) + 1e-8 = 0.5 + 1e-8,
	// p = 0.999 - (0.1/0.1)*0.05/(0.5+1e-8) = 0.899 + 2e-9.
	p := param("p", 1)
	p.Grad.Data[0] = 0.5
	o := mustAdamW(t, []*ag.Var{p}, AdamWConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	o.Step()
	if got := p.Value.Data[0]; math.Abs(float64(got)-0.899) > 1e-7 {
		t.Errorf("after one step p = %.9g, want 0.899", got)
	}
}

// adamRef is the PyTorch AdamW update of one scalar in float64.
type adamRef struct{ p, m, v float64 }

func (r *adamRef) step(cfg AdamWConfig, t int, g float64) {
	r.p *= 1 - cfg.LR*cfg.WeightDecay
	r.m = cfg.Beta1*r.m + (1-cfg.Beta1)*g
	r.v = cfg.Beta2*r.v + (1-cfg.Beta2)*g*g
	bc1 := 1 - math.Pow(cfg.Beta1, float64(t))
	bc2 := 1 - math.Pow(cfg.Beta2, float64(t))
	denom := math.Sqrt(r.v)/math.Sqrt(bc2) + cfg.Eps
	r.p -= cfg.LR / bc1 * r.m / denom
}

func TestAdamWMatchesFormula(t *testing.T) {
	cfg := AdamWConfig{LR: 0.01, Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.1}
	a := param("a", 0.5, -2, 3e-3)
	b := param("b", 1.5) // gets no gradient at step 2
	c := param("c", 7)   // frozen
	c.SetRequiresGrad(false)
	c.Grad.Data[0] = 1
	o := mustAdamW(t, []*ag.Var{a, b, c}, cfg)
	refA := []adamRef{{p: 0.5}, {p: -2}, {p: 3e-3}}
	refB := adamRef{p: 1.5}
	tb := 0
	worst := 0.0
	grads := [][]float64{{0.3, -1, 1e-4}, {-0.7, 2, 0}, {0.05, 0.5, -3e-3}, {1, 1, 1}, {-2, 0.1, 10}}
	lrs := []float64{0.01, 0.02, 0.005, 0.01, 0.001}
	for step, gs := range grads {
		cfg.LR = lrs[step]
		o.Config.LR = lrs[step]
		for i, g := range gs {
			a.Grad.Data[i] = float32(g)
			refA[i].step(cfg, step+1, float64(float32(g)))
		}
		if step == 1 {
			b.Grad = nil
		} else {
			if b.Grad == nil {
				b.Grad = tensor.New(1)
			}
			b.Grad.Data[0] = float32(gs[0] * 3)
			tb++
			refB.step(cfg, tb, float64(float32(gs[0]*3)))
		}
		o.Step()
		for i := range refA {
			d := math.Abs(float64(a.Value.Data[i]) - refA[i].p)
			worst = math.Max(worst, d/math.Max(1, math.Abs(refA[i].p)))
			if d > 2e-6*math.Max(1, math.Abs(refA[i].p)) {
				t.Errorf("step %d: a[%d] = %.8g, float64 formula %.8g (diff %.2g)", step+1, i, a.Value.Data[i], refA[i].p, d)
			}
		}
		if d := math.Abs(float64(b.Value.Data[0]) - refB.p); d > 2e-6 {
			t.Errorf("step %d: b = %.8g, formula %.8g", step+1, b.Value.Data[0], refB.p)
		}
		if c.Value.Data[0] != 7 {
			t.Errorf("step %d: frozen parameter changed to %v", step+1, c.Value.Data[0])
		}
	}
	t.Logf("largest difference from the float64 formula: %.3g (relative to max(1,|p|))", worst)
	if o.Steps() != 5 {
		t.Errorf("Steps = %d, want 5", o.Steps())
	}
	_, st := o.State()
	if got := st["step.b"].Data[0]; got != 4 {
		t.Errorf("b was updated 4 times, state says %v", got)
	}
	if _, ok := st["exp_avg.c"]; ok {
		t.Errorf("frozen, never-updated parameter has state")
	}
}

func TestAdamWStateRoundTrip(t *testing.T) {
	cfg := DefaultAdamW()
	mk := func() []*ag.Var {
		return []*ag.Var{randParam("w", 1, 40000), randParam("b", 2, 7), randParam("unused", 3, 5)}
	}
	setGrads := func(ps []*ag.Var, step int) {
		for k, p := range ps[:2] {
			r := rand.New(rand.NewPCG(uint64(step), uint64(k)))
			for i := range p.Grad.Data {
				p.Grad.Data[i] = float32(r.NormFloat64())
			}
		}
		ps[2].Grad = nil
	}
	ps1 := mk()
	o1 := mustAdamW(t, ps1, cfg)
	for s := 0; s < 3; s++ {
		setGrads(ps1, s)
		o1.Step()
	}
	step, st := o1.State()
	if step != 3 || len(st) != 9 {
		t.Fatalf("State: step %d, %d tensors; want 3 and 9 (unused parameter included with zero state)", step, len(st))
	}
	// A fresh optimizer on copies of the parameters continues identically.
	ps2 := mk()
	for i := range ps2 {
		ps2[i].Value.CopyFrom(ps1[i].Value)
	}
	o2 := mustAdamW(t, ps2, cfg)
	saved := map[string]*tensor.Tensor{}
	for k, v := range st {
		saved[k] = v.Clone()
	}
	if err := o2.LoadState(step, saved); err != nil {
		t.Fatal(err)
	}
	for s := 3; s < 5; s++ {
		setGrads(ps1, s)
		setGrads(ps2, s)
		o1.Step()
		o2.Step()
	}
	for i := range ps1 {
		if d := tensor.MaxAbsDiff(ps1[i].Value, ps2[i].Value); d != 0 {
			t.Errorf("%s: resumed run differs by %g", ps1[i].Name, d)
		}
	}
}

func TestAdamWLoadStateErrors(t *testing.T) {
	ps := []*ag.Var{param("a", 1, 2), param("b", 3)}
	o := mustAdamW(t, ps, DefaultAdamW())
	o.Step()
	_, st := o.State()
	tests := []struct {
		name string
		edit func(map[string]*tensor.Tensor)
		want []string
	}{
		{"missing", func(m map[string]*tensor.Tensor) { delete(m, "exp_avg_sq.b") }, []string{"missing 1: exp_avg_sq.b"}},
		{"unexpected", func(m map[string]*tensor.Tensor) { m["exp_avg.c"] = tensor.New(1) }, []string{"unexpected 1: exp_avg.c"}},
		{"shape", func(m map[string]*tensor.Tensor) { m["exp_avg.a"] = tensor.New(3) }, []string{"exp_avg.a: shape [3], want [2]"}},
		{"count", func(m map[string]*tensor.Tensor) { m["step.a"] = tensor.FromData([]float32{2.5}, 1) }, []string{"step.a: invalid update count 2.5"}},
		{"all", func(m map[string]*tensor.Tensor) {
			delete(m, "step.a")
			m["x"] = tensor.New(1)
			m["exp_avg_sq.b"] = tensor.New(2, 1)
		}, []string{"missing 1: step.a", "unexpected 1: x", "exp_avg_sq.b: shape [2 1], want [1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]*tensor.Tensor{}
			for k, v := range st {
				m[k] = v.Clone()
			}
			tt.edit(m)
			before := ps[0].Value.Clone()
			err := o.LoadState(1, m)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tensor.MaxAbsDiff(before, ps[0].Value) != 0 || o.Steps() != 1 {
				t.Errorf("failed LoadState changed the optimizer")
			}
		})
	}
}

func TestNewAdamWErrors(t *testing.T) {
	tests := []struct {
		name   string
		params []*ag.Var
		cfg    AdamWConfig
		want   string
	}{
		{"lr", []*ag.Var{param("a", 1)}, AdamWConfig{LR: -1, Beta1: 0.9, Beta2: 0.9}, "learning rate"},
		{"beta1", []*ag.Var{param("a", 1)}, AdamWConfig{LR: 1, Beta1: 1, Beta2: 0.9}, "beta1"},
		{"beta2", []*ag.Var{param("a", 1)}, AdamWConfig{LR: 1, Beta1: 0.9, Beta2: math.NaN()}, "beta2"},
		{"unnamed", []*ag.Var{ag.Param("", tensor.New(2))}, DefaultAdamW(), "no name"},
		{"repeated", []*ag.Var{param("a", 1), param("a", 2)}, DefaultAdamW(), `repeated parameter names ["a"]`},
	}
	for _, tt := range tests {
		if _, err := NewAdamW(tt.params, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestAdamWWorkersIndependent(t *testing.T) {
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		p := randParam("w", 9, 100_003)
		o := mustAdamW(t, []*ag.Var{p}, DefaultAdamW())
		for range 3 {
			o.Step()
		}
		return p.Value.Data
	}
	a, b := run(1), run(4)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("element %d: %v with 1 worker, %v with 4", i, a[i], b[i])
		}
	}
}

func TestAdamWStepDoesNotAllocate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ps := []*ag.Var{randParam("w", 1, 50000), randParam("b", 2, 64)}
	o := mustAdamW(t, ps, DefaultAdamW())
	o.Step()
	if n := testing.AllocsPerRun(20, o.Step); n != 0 {
		t.Errorf("Step allocates %v times after the first", n)
	}
}

func BenchmarkAdamWStep(b *testing.B) {
	// About the size of the official DDPM UNet's largest layers.
	ps := []*ag.Var{randParam("w", 1, 1<<22), randParam("v", 2, 1<<20), randParam("b", 3, 512)}
	o, _ := NewAdamW(ps, DefaultAdamW())
	n := 0
	for _, p := range ps {
		n += len(p.Value.Data)
	}
	// Traffic per element: read p, g, m, v and write p, m, v, in float32.
	b.SetBytes(int64(28 * n))
	o.Step() // allocates the moments
	for b.Loop() {
		o.Step()
	}
}

// TestAdamWVectorMatchesGo checks that the assembly update (where the CPU
// runs it) gives the Go loop's bits, on values from subnormal to large and
// a length that leaves a tail to the Go loop.
func TestAdamWVectorMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 16*13 + 7
	val := func(scale float64) float32 { return float32(r.NormFloat64() * math.Exp(r.NormFloat64()*scale)) }
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p {
		p[i], g[i], m[i] = val(2), val(6), val(3)
		v[i] = float32(math.Abs(float64(val(6))))
		if i%5 == 0 { // values and results around float32's smallest normal
			g[i] *= 1e-19
			m[i] *= 1e-36
			v[i] *= 1e-37
		}
	}
	c := adamCoef{decay: 0.9999, b1: 0.9, omb1: 0.1, b2: 0.999, omb2: 0.001, bc2sqrt: 0.0447, eps: 1e-8, negStepLen: -1e-3}
	cp := func(x []float32) []float32 { return append([]float32(nil), x...) }
	wp, wm, wv := cp(p), cp(m), cp(v)
	adamwRows(wp, g, wm, wv, &c, 0)
	gp, gm, gv := cp(p), cp(m), cp(v)
	done := adamwVector(gp, g, gm, gv, &c)
	adamwRows(gp, g, gm, gv, &c, done)
	t.Logf("%d of %d elements in assembly", done, n)
	for i := range p {
		for _, q := range []struct {
			name      string
			got, want float32
		}{{"param", gp[i], wp[i]}, {"exp_avg", gm[i], wm[i]}, {"exp_avg_sq", gv[i], wv[i]}} {
			if math.Float32bits(q.got) != math.Float32bits(q.want) {
				t.Fatalf("%s[%d] = %g, the Go loop gives %g", q.name, i, q.got, q.want)
			}
		}
	}
}
