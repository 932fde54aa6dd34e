// Package nn provides the layers that hold a model's parameters, and the
// state-dict plumbing to save, load and count them.
//
// Parameters are *ag.Var values named as in a PyTorch/diffusers state dict
// (the layer's full prefix plus ".weight" or ".bias"), so that a model built
// from these layers reads and writes checkpoints with the reference key
// names. Layers initialise their weights as PyTorch's defaults do, drawing
// from an rng stream derived from the parameter's name, so the
// values do not depend on the order in which layers are built.
package nn

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// Module is anything that holds parameters.
type Module interface {
	// Params returns the module's parameters in a fixed order.
	Params() []*ag.Var
}

// Collect concatenates the parameters of ms in order.
func Collect(ms ...Module) []*ag.Var {
	var ps []*ag.Var
	for _, m := range ms {
		ps = append(ps, m.Params()...)
	}
	return ps
}

// join returns prefix.leaf, or leaf for an empty prefix.
func join(prefix, leaf string) string {
	if prefix == "" {
		return leaf
	}
	return prefix + "." + leaf
}

// kaimingBound returns the bound of PyTorch's default weight init for
// Conv2d and Linear, kaiming_uniform_ with a = sqrt(5): gain*sqrt(3/fanIn)
// with gain = sqrt(2/(1+a²)), that is 1/sqrt(fanIn), computed as PyTorch
// computes it.
func kaimingBound(fanIn int) float64 {
	if fanIn <= 0 {
		return 0
	}
	gain := math.Sqrt(2.0 / (1 + 5.0))
	std := gain / math.Sqrt(float64(fanIn))
	return math.Sqrt(3.0) * std
}

// uniformParam returns a parameter named name of the given shape with values
// uniform in [-bound, bound), drawn from r's sub-stream for name.
func uniformParam(name string, r *rng.Stream, bound float64, shape ...int) *ag.Var {
	t := tensor.New(shape...)
	s := r.Derive(name)
	for i := range t.Data {
		t.Data[i] = float32(s.Uniform(-bound, bound))
	}
	return ag.Param(name, t)
}

// Conv2d is a 2-D convolution with square kernels, as torch.nn.Conv2d:
// Weight is [Cout, Cin, K, K], Bias [Cout] or nil.
type Conv2d struct {
	Weight, Bias *ag.Var
	Stride, Pad  int
}

// NewConv2d returns a convolution whose parameters are named
// name+".weight" and name+".bias" (bias only if bias is true), initialised
// like PyTorch's: weight and bias uniform in ±1/sqrt(cin*k*k).
func NewConv2d(name string, cin, cout, k, stride, pad int, bias bool, r *rng.Stream) *Conv2d {
	if cin <= 0 || cout <= 0 || k <= 0 || stride <= 0 || pad < 0 {
		panic(fmt.Sprintf("nn.NewConv2d %q: invalid sizes cin %d cout %d k %d stride %d pad %d", name, cin, cout, k, stride, pad))
	}
	fanIn := cin * k * k
	c := &Conv2d{
		Weight: uniformParam(join(name, "weight"), r, kaimingBound(fanIn), cout, cin, k, k),
		Stride: stride,
		Pad:    pad,
	}
	if bias {
		c.Bias = uniformParam(join(name, "bias"), r, 1/math.Sqrt(float64(fanIn)), cout)
	}
	return c
}

// Forward returns the convolution of x [N, Cin, H, W].
func (c *Conv2d) Forward(g *ag.Graph, x *ag.Var) *ag.Var {
	return g.Conv2d(x, c.Weight, c.Bias, c.Stride, c.Pad)
}

// Params returns the weight and, if present, the bias.
func (c *Conv2d) Params() []*ag.Var { return params(c.Weight, c.Bias) }

// Linear is an affine map of the last dimension, as torch.nn.Linear:
// Weight is [out, in], Bias [out] or nil.
type Linear struct {
	Weight, Bias *ag.Var
}

// NewLinear returns a linear layer whose parameters are named
// name+".weight" and name+".bias" (bias only if bias is true), initialised
// like PyTorch's: weight and bias uniform in ±1/sqrt(in).
func NewLinear(name string, in, out int, bias bool, r *rng.Stream) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn.NewLinear %q: invalid sizes in %d out %d", name, in, out))
	}
	l := &Linear{Weight: uniformParam(join(name, "weight"), r, kaimingBound(in), out, in)}
	if bias {
		l.Bias = uniformParam(join(name, "bias"), r, 1/math.Sqrt(float64(in)), out)
	}
	return l
}

// Forward returns x*Weightᵀ + Bias for x [..., in].
func (l *Linear) Forward(g *ag.Graph, x *ag.Var) *ag.Var {
	return g.Linear(x, l.Weight, l.Bias)
}

// Params returns the weight and, if present, the bias.
func (l *Linear) Params() []*ag.Var { return params(l.Weight, l.Bias) }

// GroupNorm is torch.nn.GroupNorm with an affine transform: Weight and
// Bias are [C], initialised to 1 and 0.
type GroupNorm struct {
	Weight, Bias *ag.Var
	Groups       int
	Eps          float32
}

// NewGroupNorm returns a group normalisation of channels channels in groups
// groups whose parameters are named name+".weight" and name+".bias". Its
// initialisation is deterministic, so it takes no random stream.
func NewGroupNorm(name string, groups, channels int, eps float32) *GroupNorm {
	if groups <= 0 || channels <= 0 || channels%groups != 0 {
		panic(fmt.Sprintf("nn.NewGroupNorm %q: %d channels do not split into %d groups", name, channels, groups))
	}
	return &GroupNorm{
		Weight: ag.Param(join(name, "weight"), tensor.Full(1, channels)),
		Bias:   ag.Param(join(name, "bias"), tensor.New(channels)),
		Groups: groups,
		Eps:    eps,
	}
}

// Forward normalises x [N, C, ...].
func (n *GroupNorm) Forward(g *ag.Graph, x *ag.Var) *ag.Var {
	return g.GroupNorm(x, n.Weight, n.Bias, n.Groups, n.Eps)
}

// ForwardSiLU returns SiLU(Forward(x)) with the fused operation, the
// pattern of every diffusers ResNet block.
func (n *GroupNorm) ForwardSiLU(g *ag.Graph, x *ag.Var) *ag.Var {
	return g.GroupNormSiLU(x, n.Weight, n.Bias, n.Groups, n.Eps)
}

// Params returns the weight and the bias.
func (n *GroupNorm) Params() []*ag.Var { return params(n.Weight, n.Bias) }

func params(vs ...*ag.Var) []*ag.Var {
	out := make([]*ag.Var, 0, len(vs))
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}
