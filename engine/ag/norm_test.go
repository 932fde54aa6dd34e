package ag_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
)

// refGroupNorm computes GroupNorm in float64 (two-pass variance).
func refGroupNorm(x, gamma, beta *tensor.Tensor, groups int, eps float64, silu bool) []float64 {
	n, c := x.Shape[0], x.Shape[1]
	s := len(x.Data) / (n * c)
	l := c / groups * s
	out := make([]float64, len(x.Data))
	for u := 0; u < n*groups; u++ {
		blk := x.Data[u*l : (u+1)*l]
		mean, v := 0.0, 0.0
		for _, e := range blk {
			mean += float64(e)
		}
		mean /= float64(l)
		for _, e := range blk {
			v += (float64(e) - mean) * (float64(e) - mean)
		}
		rstd := 1 / math.Sqrt(v/float64(l)+eps)
		for i, e := range blk {
			ch := (u%groups)*(c/groups) + i/s
			y := (float64(e) - mean) * rstd
			if gamma != nil {
				y *= float64(gamma.Data[ch])
			}
			if beta != nil {
				y += float64(beta.Data[ch])
			}
			if silu {
				y /= 1 + math.Exp(-y)
			}
			out[u*l+i] = y
		}
	}
	return out
}

var groupNormCases = []struct {
	shape  []int
	groups int
	affine bool
	offset float32 // added to x, to test the variance of data far from 0
}{
	{[]int{2, 6, 5, 7}, 3, true, 0},
	{[]int{1, 4, 3}, 2, true, 0},
	{[]int{3, 8, 4, 4}, 8, true, 0},
	{[]int{2, 4, 3, 3}, 1, false, 0},
	{[]int{2, 64, 9, 11}, 32, true, 0},
	{[]int{2, 16, 8, 8}, 4, true, 100},
	{[]int{1, 6}, 2, true, 0}, // no spatial dims
}

func groupNormInputs(shape []int, offset float32) (x, gamma, beta *tensor.Tensor) {
	c := shape[1]
	// Scaled and shifted so that gamma and beta are far from 1 and 0.
	return refRandom(1, 2, offset, shape...), refRandom(2, 0.5, 1, c), refRandom(3, 0.3, 0, c)
}

func TestGroupNormForward(t *testing.T) {
	for _, c := range groupNormCases {
		for _, silu := range []bool{false, true} {
			t.Run(fmt.Sprint(c.shape, c.groups, c.affine, c.offset, silu), func(t *testing.T) {
				x, gamma, beta := groupNormInputs(c.shape, c.offset)
				var gv, bv *ag.Var
				if !c.affine {
					gamma, beta = nil, nil
				} else {
					gv, bv = ag.Const(gamma), ag.Const(beta)
				}
				g := ag.NewGraph(false)
				var y *ag.Var
				if silu {
					y = g.GroupNormSiLU(ag.Const(x), gv, bv, c.groups, 1e-5)
				} else {
					y = g.GroupNorm(ag.Const(x), gv, bv, c.groups, 1e-5)
				}
				d := refClose(t, "value", y.Value.Data, refGroupNorm(x, gamma, beta, c.groups, 1e-5, silu), 1e-5, 0)
				t.Logf("max |Go - float64 reference| = %.3g", d)
			})
		}
	}
}

func TestGroupNormGrad(t *testing.T) {
	for _, c := range groupNormCases {
		if len(c.shape) > 2 && c.shape[1] > 16 {
			continue // GradCheck probes a fixed number of elements; small cases suffice
		}
		for _, silu := range []bool{false, true} {
			t.Run(fmt.Sprint(c.shape, c.groups, c.affine, c.offset, silu), func(t *testing.T) {
				x, gamma, beta := groupNormInputs(c.shape, c.offset)
				in := []*tensor.Tensor{x, gamma, beta}
				f := func(g *ag.Graph, in []*ag.Var) *ag.Var {
					gv, bv := in[1], in[2]
					if !c.affine {
						gv, bv = nil, nil
					}
					if silu {
						return g.GroupNormSiLU(in[0], gv, bv, c.groups, 1e-5)
					}
					return g.GroupNorm(in[0], gv, bv, c.groups, 1e-5)
				}
				opt := agtest.Options{Step: 1e-3, Tol: 5e-3}
				if c.offset != 0 {
					// A step of 1e-3 is below float32 resolution near 100.
					opt.Step = 2e-2
					opt.Tol = 2e-2
				}
				agtest.GradCheck(t, f, in, opt)
			})
		}
	}
}

// TestGroupNormSiLUComposition checks that the fused op equals SiLU after
// GroupNorm, values and gradients of every input.
func TestGroupNormSiLUComposition(t *testing.T) {
	for _, c := range groupNormCases {
		t.Run(fmt.Sprint(c.shape, c.groups), func(t *testing.T) {
			x, gamma, beta := groupNormInputs(c.shape, c.offset)
			run := func(fused bool) (y *ag.Var, vars []*ag.Var) {
				vars = []*ag.Var{ag.Param("x", x.Clone()), ag.Param("gamma", gamma.Clone()), ag.Param("beta", beta.Clone())}
				g := ag.NewGraph(true)
				if fused {
					y = g.GroupNormSiLU(vars[0], vars[1], vars[2], c.groups, 1e-5)
				} else {
					y = g.SiLU(g.GroupNorm(vars[0], vars[1], vars[2], c.groups, 1e-5))
				}
				r := agtest.Random(9, y.Shape()...)
				g.Backward(g.Sum(g.Mul(y, ag.Const(r))))
				return y, vars
			}
			yf, vf := run(true)
			yc, vc := run(false)
			if d := tensor.MaxAbsDiff(yf.Value, yc.Value); d > 1e-6 {
				t.Errorf("values differ by %.3g", d)
			}
			for i, name := range []string{"x", "gamma", "beta"} {
				scale := 0.0
				for _, v := range vc[i].Grad.Data {
					scale = max(scale, math.Abs(float64(v)))
				}
				if d := tensor.MaxAbsDiff(vf[i].Grad, vc[i].Grad); d > 1e-5*max(1, scale) {
					t.Errorf("gradients of %s differ by %.3g (max %.3g)", name, d, scale)
				}
			}
		})
	}
}

func TestGroupNormShapeErrors(t *testing.T) {
	g := ag.NewGraph(false)
	x := ag.Const(tensor.New(2, 6, 4))
	refShapePanic(t, "GroupNorm", func() { g.GroupNorm(x, nil, nil, 4, 1e-5) })
	refShapePanic(t, "GroupNorm", func() { g.GroupNorm(x, nil, nil, 0, 1e-5) })
	refShapePanic(t, "GroupNorm", func() { g.GroupNorm(ag.Const(tensor.New(6)), nil, nil, 1, 1e-5) })
	refShapePanic(t, "GroupNormSiLU", func() { g.GroupNormSiLU(x, ag.Const(tensor.New(4)), nil, 2, 1e-5) })
	refShapePanic(t, "GroupNormSiLU", func() { g.GroupNormSiLU(x, nil, ag.Const(tensor.New(7)), 2, 1e-5) })
}

// BenchmarkGroupNormSiLU runs the fused op on a [8,64,64,64] activation in
// 32 groups. Bytes count one read of x and one write of y (forward), plus
// reads of x and dy and a write of dx (backward).
func BenchmarkGroupNormSiLU(b *testing.B) {
	shape := []int{8, 64, 64, 64}
	x := agtest.Random(1, shape...)
	gamma, beta := refRandom(2, 0.5, 1, 64), refRandom(3, 0.3, 0, 64)
	n := int64(x.Numel())
	b.Run("forward", func(b *testing.B) {
		g := ag.NewGraph(false)
		b.SetBytes(8 * n)
		for b.Loop() {
			g.GroupNormSiLU(ag.Const(x), ag.Const(gamma), ag.Const(beta), 32, 1e-5)
			g.Reset()
		}
	})
	b.Run("forward+backward", func(b *testing.B) {
		g := ag.NewGraph(true)
		xv, gv, bv := ag.Param("x", x), ag.Param("gamma", gamma), ag.Param("beta", beta)
		b.SetBytes(20 * n)
		for b.Loop() {
			g.Backward(g.GroupNormSiLU(xv, gv, bv, 32, 1e-5))
			g.Reset()
		}
	})
}

// TestGroupNormSiLUTorch checks the fused op against PyTorch on a UNet
// activation: the tiny UNet's output is conv_out(SiLU(conv_norm_out(h)))
// with h the stored output of its last up block (8 groups, eps 1e-5).
func TestGroupNormSiLUTorch(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	io, err := safetensors.Open(filepath.Join(dir, "unet_tiny_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer io.Close()
	w, err := safetensors.Open(filepath.Join(dir, "unet_tiny", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	load := func(f *safetensors.File, name string) *ag.Var {
		t.Helper()
		d, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return ag.Const(tensor.FromData(d, shape...))
	}
	g := ag.NewGraph(false)
	h := g.GroupNormSiLU(load(io, "hook.up_blocks.2"), load(w, "conv_norm_out.weight"), load(w, "conv_norm_out.bias"), 8, 1e-5)
	y := g.Conv2d(h, load(w, "conv_out.weight"), load(w, "conv_out.bias"), 1, 1)
	want := load(io, "out.sample").Value
	d := tensor.MaxAbsDiff(y.Value, want)
	t.Logf("max |Go - PyTorch| on out.sample = %.3g", d)
	if d > 1e-4 {
		t.Errorf("out.sample differs from PyTorch by %.3g > 1e-4", d)
	}
}
