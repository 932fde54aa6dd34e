package nn

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// checkUniform checks that values lie in [-bound, bound] and have the mean
// 0 and variance bound²/3 of a uniform distribution, within 5 standard
// errors.
func checkUniform(t *testing.T, name string, v []float32, bound float64) {
	t.Helper()
	n := float64(len(v))
	sum, sq, peak := 0.0, 0.0, 0.0
	for _, x := range v {
		if math.Abs(float64(x)) > bound {
			t.Fatalf("%s: value %v outside ±%v", name, x, bound)
		}
		sum += float64(x)
		sq += float64(x) * float64(x)
		peak = max(peak, math.Abs(float64(x)))
	}
	mean := sum / n
	variance := sq/n - mean*mean
	wantVar := bound * bound / 3
	if se := math.Sqrt(wantVar / n); math.Abs(mean) > 5*se {
		t.Errorf("%s: mean %v, want 0 ± %v", name, mean, 5*se)
	}
	// The variance of x² for a uniform is bound⁴*4/45.
	if se := math.Sqrt(4.0 / 45 * bound * bound * bound * bound / n); math.Abs(variance-wantVar) > 5*se {
		t.Errorf("%s: variance %v, want %v ± %v", name, variance, wantVar, 5*se)
	}
	if n >= 1000 && peak < 0.99*bound {
		t.Errorf("%s: largest |value| %v, want close to the bound %v", name, peak, bound)
	}
}

func TestConv2dInit(t *testing.T) {
	r := rng.New(1, "init")
	c := NewConv2d("down.0.conv", 16, 32, 3, 2, 1, true, r)
	if c.Weight.Name != "down.0.conv.weight" || c.Bias.Name != "down.0.conv.bias" {
		t.Errorf("names %q %q", c.Weight.Name, c.Bias.Name)
	}
	if !tensor.SameShape(c.Weight.Shape(), []int{32, 16, 3, 3}) || !tensor.SameShape(c.Bias.Shape(), []int{32}) {
		t.Errorf("shapes %v %v", c.Weight.Shape(), c.Bias.Shape())
	}
	bound := 1 / math.Sqrt(16*9)
	checkUniform(t, "conv weight", c.Weight.Value.Data, bound)
	checkUniform(t, "conv bias", c.Bias.Value.Data, bound)
	if !c.Weight.RequiresGrad() || c.Stride != 2 || c.Pad != 1 {
		t.Errorf("weight trainable %v, stride %d, pad %d", c.Weight.RequiresGrad(), c.Stride, c.Pad)
	}
	nb := NewConv2d("x", 4, 8, 1, 1, 0, false, r)
	if nb.Bias != nil || len(nb.Params()) != 1 || nb.Weight.Name != "x.weight" {
		t.Errorf("conv without bias: %+v", nb)
	}
	if top := NewConv2d("", 1, 1, 1, 1, 0, true, r); top.Weight.Name != "weight" || top.Bias.Name != "bias" {
		t.Errorf("empty prefix names %q %q", top.Weight.Name, top.Bias.Name)
	}
}

func TestLinearInit(t *testing.T) {
	r := rng.New(2, "init")
	l := NewLinear("time_embedding.linear_1", 100, 400, true, r)
	if !tensor.SameShape(l.Weight.Shape(), []int{400, 100}) || l.Weight.Name != "time_embedding.linear_1.weight" {
		t.Errorf("weight %s %v", l.Weight.Name, l.Weight.Shape())
	}
	checkUniform(t, "linear weight", l.Weight.Value.Data, 0.1)
	checkUniform(t, "linear bias", l.Bias.Value.Data, 0.1)
}

func TestGroupNormInit(t *testing.T) {
	n := NewGroupNorm("norm1", 8, 64, 1e-5)
	for i := range 64 {
		if n.Weight.Value.Data[i] != 1 || n.Bias.Value.Data[i] != 0 {
			t.Fatalf("channel %d: weight %v bias %v, want 1 and 0", i, n.Weight.Value.Data[i], n.Bias.Value.Data[i])
		}
	}
	if n.Weight.Name != "norm1.weight" || n.Bias.Name != "norm1.bias" || n.Groups != 8 || n.Eps != 1e-5 {
		t.Errorf("%+v", n)
	}
}

func TestInitDeterministic(t *testing.T) {
	// The same stream and name give the same values whatever was built
	// before; another name gives other values.
	r := rng.New(7, "model")
	a := NewLinear("a", 8, 8, true, r)
	NewConv2d("other", 3, 3, 3, 1, 1, true, r)
	b := NewLinear("b", 8, 8, true, r)
	r2 := rng.New(7, "model")
	b2 := NewLinear("b", 8, 8, true, r2)
	a2 := NewLinear("a", 8, 8, true, r2)
	if tensor.MaxAbsDiff(a.Weight.Value, a2.Weight.Value) != 0 || tensor.MaxAbsDiff(b.Bias.Value, b2.Bias.Value) != 0 {
		t.Errorf("init depends on construction order")
	}
	if tensor.MaxAbsDiff(a.Weight.Value, b.Weight.Value) == 0 {
		t.Errorf("layers a and b got the same weights")
	}
}

func TestInvalidSizesPanic(t *testing.T) {
	r := rng.New(1)
	for name, f := range map[string]func(){
		"conv":  func() { NewConv2d("c", 0, 4, 3, 1, 1, true, r) },
		"lin":   func() { NewLinear("l", 4, -1, true, r) },
		"group": func() { NewGroupNorm("g", 3, 8, 1e-5) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestForward(t *testing.T) {
	r := rng.New(3, "fwd")
	g := ag.NewGraph(false)

	// Linear: y = x Wᵀ + b with W [out, in].
	l := NewLinear("l", 3, 2, true, r)
	x := ag.Const(tensor.FromData([]float32{1, 2, 3, -1, 0, 0.5}, 2, 3))
	y := l.Forward(g, x)
	if !tensor.SameShape(y.Shape(), []int{2, 2}) {
		t.Fatalf("Linear output shape %v", y.Shape())
	}
	w, b := l.Weight.Value.Data, l.Bias.Value.Data
	for i := range 2 {
		for o := range 2 {
			want := float64(b[o])
			for k := range 3 {
				want += float64(x.Value.Data[i*3+k]) * float64(w[o*3+k])
			}
			if got := y.Value.Data[i*2+o]; math.Abs(float64(got)-want) > 1e-6 {
				t.Errorf("Linear y[%d,%d] = %v, want %v", i, o, got, want)
			}
		}
	}

	// Conv2d with a 1x1 kernel is a per-pixel linear map; check shape and
	// one pixel for stride 2.
	c := NewConv2d("c", 2, 3, 1, 2, 0, true, r)
	img := tensor.New(1, 2, 4, 4)
	for i := range img.Data {
		img.Data[i] = float32(i%7) - 3
	}
	out := c.Forward(g, ag.Const(img))
	if !tensor.SameShape(out.Shape(), []int{1, 3, 2, 2}) {
		t.Fatalf("Conv2d output shape %v", out.Shape())
	}
	// Output (co, 1, 1) reads input pixel (2, 2).
	for co := range 3 {
		want := float64(c.Bias.Value.Data[co])
		for ci := range 2 {
			want += float64(c.Weight.Value.Data[co*2+ci]) * float64(img.Data[ci*16+2*4+2])
		}
		if got := out.Value.Data[co*4+3]; math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("Conv2d out[%d,1,1] = %v, want %v", co, got, want)
		}
	}

	// GroupNorm at its initial affine (1, 0) gives zero mean and unit
	// variance per group.
	n := NewGroupNorm("n", 2, 4, 1e-5)
	z := tensor.New(1, 4, 3, 3)
	for i := range z.Data {
		z.Data[i] = float32(i*i%11) * 0.5
	}
	o := n.Forward(g, ag.Const(z))
	for grp := range 2 {
		vals := o.Value.Data[grp*18 : (grp+1)*18]
		s, sq := 0.0, 0.0
		for _, v := range vals {
			s += float64(v)
			sq += float64(v) * float64(v)
		}
		if mean, vr := s/18, sq/18-s*s/18/18; math.Abs(mean) > 1e-5 || math.Abs(vr-1) > 1e-3 {
			t.Errorf("GroupNorm group %d: mean %v variance %v", grp, mean, vr)
		}
	}
	fused := n.ForwardSiLU(g, ag.Const(z))
	for i, v := range o.Value.Data {
		want := float64(v) / (1 + math.Exp(-float64(v)))
		if math.Abs(float64(fused.Value.Data[i])-want) > 1e-5 {
			t.Fatalf("ForwardSiLU[%d] = %v, want %v", i, fused.Value.Data[i], want)
		}
	}
}
