package optim

import (
	"math"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
)

func TestEMADecay(t *testing.T) {
	def := DefaultEMA()
	after5 := def
	after5.UpdateAfterStep = 5
	noWarm := def
	noWarm.UseWarmup = false
	floor := def
	floor.MinDecay = 0.5
	tests := []struct {
		name string
		cfg  EMAConfig
		step int
		want float64
	}{
		{"default", def, 0, 0},
		{"default", def, 1, 0},
		{"default", def, 2, 1 - math.Pow(2, -0.75)},
		{"default", def, 10, 0.8221720589961077},   // 1 - 10^-3/4
		{"default", def, 1000, 0.9943765867480965}, // 1 - 1000^-3/4
		{"default", def, 10_000_000, 0.9999},
		{"update after 5", after5, 6, 0},
		{"update after 5", after5, 7, 1 - math.Pow(2, -0.75)},
		{"no warm-up", noWarm, 1, 0},
		{"no warm-up", noWarm, 2, 0.9999},
		{"min decay", floor, 2, 0.5},
	}
	for _, tt := range tests {
		if got := tt.cfg.Decay(tt.step); math.Abs(got-tt.want) > 1e-15 {
			t.Errorf("%s: Decay(%d) = %.16g, want %.16g", tt.name, tt.step, got, tt.want)
		}
	}
}

func TestEMAStep(t *testing.T) {
	a := param("a", 1, -2)
	f := param("f", 5)
	f.SetRequiresGrad(false)
	e, err := NewEMA([]*ag.Var{a, f}, DefaultEMA())
	if err != nil {
		t.Fatal(err)
	}
	ref := []float64{1, -2}
	vals := [][]float32{{2, 0}, {3, 1}, {-1, 4}, {0.5, 0.25}}
	for k, v := range vals {
		copy(a.Value.Data, v)
		f.Value.Data[0] = float32(10 + k)
		e.Step()
		d := DefaultEMA().Decay(k + 1)
		if e.LastDecay() != d {
			t.Errorf("step %d: decay %v, want %v", k+1, e.LastDecay(), d)
		}
		for i := range ref {
			ref[i] -= (1 - d) * (ref[i] - float64(v[i]))
			if got := e.Shadow("a").Data[i]; math.Abs(float64(got)-ref[i]) > 1e-6 {
				t.Errorf("step %d: shadow a[%d] = %v, want %v", k+1, i, got, ref[i])
			}
		}
		if got := e.Shadow("f").Data[0]; got != float32(10+k) {
			t.Errorf("step %d: frozen parameter's shadow %v, want a copy %v", k+1, got, 10+k)
		}
	}
	if k := e.Steps(); k != 4 {
		t.Errorf("Steps = %d", k)
	}
}

// TestEMAFirstStepFloat32 checks the first step (decay 0) bit for bit
// against PyTorch's float32 arithmetic s - 1*(s - p), which is p up to
// rounding, not exactly p.
func TestEMAFirstStepFloat32(t *testing.T) {
	start := []float32{1, -2, 3}
	next := []float32{0.1, 0.2, 0.3}
	a := param("a", start...)
	e, _ := NewEMA([]*ag.Var{a}, DefaultEMA())
	copy(a.Value.Data, next)
	e.Step()
	one := float32(1)
	for i, v := range e.Shadow("a").Data {
		s, p := start[i], next[i]
		diff := s - p
		want := s - one*diff
		if v != want || math.Abs(float64(v-p)) > 1e-6 {
			t.Errorf("after the first step shadow[%d] = %v, want %v (parameter %v)", i, v, want, p)
		}
	}
}

func TestEMASwapCopyAndState(t *testing.T) {
	a := param("a", 1, 2)
	b := param("b", 3)
	e, _ := NewEMA([]*ag.Var{a, b}, DefaultEMA())
	e.Step() // shadow = params
	copy(a.Value.Data, []float32{5, 6})
	b.Value.Data[0] = 7
	e.Step() // shadow moves part of the way
	sa := e.Shadow("a").Clone()
	e.Swap()
	if a.Value.Data[0] != sa.Data[0] || e.Shadow("a").Data[0] != 5 {
		t.Fatalf("Swap: param %v shadow %v", a.Value.Data, e.Shadow("a").Data)
	}
	e.Swap()
	if a.Value.Data[0] != 5 || b.Value.Data[0] != 7 {
		t.Fatalf("second Swap did not restore: %v %v", a.Value.Data, b.Value.Data)
	}

	// CopyTo a separate model with the same names.
	a2, b2 := param("a", 0, 0), param("b", 0)
	if err := e.CopyTo([]*ag.Var{a2, b2}); err != nil {
		t.Fatal(err)
	}
	if tensor.MaxAbsDiff(a2.Value, sa) != 0 {
		t.Errorf("CopyTo: %v, want %v", a2.Value, sa)
	}
	err := e.CopyTo([]*ag.Var{param("c", 0), param("a", 0, 0, 0)})
	if err == nil || !strings.Contains(err.Error(), "missing 1: c") || !strings.Contains(err.Error(), "a: shape [2], want [3]") {
		t.Errorf("CopyTo error %v", err)
	}

	// State round trip into a fresh EMA continues identically.
	step, st := e.State()
	saved := map[string]*tensor.Tensor{}
	for k, v := range st {
		saved[k] = v.Clone()
	}
	e2, _ := NewEMA([]*ag.Var{a, b}, DefaultEMA())
	if err := e2.LoadState(step, saved); err != nil {
		t.Fatal(err)
	}
	e.Step()
	e2.Step()
	if e2.Steps() != 3 || e2.LastDecay() != e.LastDecay() || tensor.MaxAbsDiff(e.Shadow("a"), e2.Shadow("a")) != 0 {
		t.Errorf("resumed EMA differs: step %d decay %v vs %v", e2.Steps(), e2.LastDecay(), e.LastDecay())
	}

	bad := map[string]*tensor.Tensor{"a": tensor.New(3), "z": tensor.New(1)}
	err = e2.LoadState(1, bad)
	for _, w := range []string{"missing 1: b", "unexpected 1: z", "a: shape [3], want [2]"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("LoadState error %v, want it to contain %q", err, w)
		}
	}
}

func TestEMAConfigErrors(t *testing.T) {
	c := DefaultEMA()
	c.MaxDecay = 1.5
	if _, err := NewEMA(nil, c); err == nil || !strings.Contains(err.Error(), "max decay") {
		t.Errorf("error %v", err)
	}
	c = DefaultEMA()
	c.InvGamma = 0
	if _, err := NewEMA(nil, c); err == nil || !strings.Contains(err.Error(), "inv_gamma") {
		t.Errorf("error %v", err)
	}
}
