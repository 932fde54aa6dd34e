// Package conv computes 2-D convolutions (cross-correlations, as PyTorch's
// conv2d) of NCHW float32 data with zero padding, and their gradients.
//
// Every operation is a matrix product done by package gemm, with the im2col
// matrix never stored: its panels are packed straight from a zero-padded
// copy of each image (implicit im2col), split into stride x stride phase
// planes when the stride is above 1 so that the values under a kernel tap
// for a run of output pixels are contiguous. Convolutions with a 1x1 kernel,
// stride 1 and no padding are plain products. The data gradient of a
// stride-1 convolution is itself a convolution (of the padded output
// gradient with the flipped, transposed weights) and accumulates straight
// into dx; other strides compute the column gradient and scatter it
// (col2im).
//
// Stride-1 3x3 convolutions of 128 channels or more, in float32 and on
// several images, run Winograd's F(2x2, 3x3) instead (winograd.go): 2.25
// times fewer multiply-adds, in 16 products per image, where measurement
// showed it faster.
//
// In the BF16 precision on AMX tiles, stride-1 convolutions whose source
// has whole blocks of 32 channels run as shifted products instead
// (shifted.go): the tiles load the bf16 image at each kernel tap's offset,
// so neither im2col panels nor their transposes are packed, for the
// forward pass, the data gradient and (on two images or more) the weight
// gradient.
//
// Images are spread over the cores (a single image has its products split
// over them instead). The weight and bias gradients are summed per group of
// images, the groups fixed by the batch size alone, and the groups added in
// order, so no result depends on the number of goroutines.
package conv

import "fmt"

// Shape describes a convolution: input N x Cin x H x W, weights
// Cout x Cin x K x K, the given stride and zero padding on every side.
type Shape struct {
	N, Cin, H, W int
	Cout, K      int
	Stride, Pad  int
}

// Out returns the output height and width.
func (s Shape) Out() (ho, wo int) {
	return (s.H+2*s.Pad-s.K)/s.Stride + 1, (s.W+2*s.Pad-s.K)/s.Stride + 1
}

// Forward sets y = conv(x, w) + bias. bias may be nil.
func Forward(s Shape, x, w, bias, y []float32) {
	g := s.check("conv.Forward")
	g.need("conv.Forward", "x", x, s.N*s.Cin*s.H*s.W)
	g.need("conv.Forward", "w", w, s.Cout*g.ckk)
	g.need("conv.Forward", "y", y, s.N*s.Cout*g.ho*g.wo)
	if bias != nil {
		g.need("conv.Forward", "bias", bias, s.Cout)
	}
	if s.N == 0 || s.Cout == 0 {
		return
	}
	if s.Cin == 0 { // no inputs: y is the bias
		for i := range y[:s.N*s.Cout*g.how] {
			y[i] = 0
			if bias != nil {
				y[i] = bias[i/g.how%s.Cout]
			}
		}
		return
	}
	j := getJob(opForward, g)
	j.in, j.w, j.bias, j.out = x, w, bias, y
	j.prepare()
	j.runImages()
	putJob(j)
}

// BackwardData adds the gradient with respect to x, given dy, into dx.
func BackwardData(s Shape, dy, w, dx []float32) {
	backwardData("conv.BackwardData", s, dy, w, dx, false)
}

// BackwardDataSet writes the gradient with respect to x, given dy, into dx,
// whatever dx held: for a gradient's first contribution, which then needs
// neither zeroing nor reading.
func BackwardDataSet(s Shape, dy, w, dx []float32) {
	backwardData("conv.BackwardDataSet", s, dy, w, dx, true)
}

func backwardData(op string, s Shape, dy, w, dx []float32, set bool) {
	g := s.check(op)
	g.need(op, "dy", dy, s.N*s.Cout*g.ho*g.wo)
	g.need(op, "w", w, s.Cout*g.ckk)
	g.need(op, "dx", dx, s.N*s.Cin*s.H*s.W)
	if g.empty() {
		if set && s.N > 0 {
			clear(dx[:s.N*s.Cin*s.H*s.W]) // no output channel contributes
		}
		return
	}
	j := getJob(opBackwardData, g)
	j.in, j.w, j.out, j.set = dy, w, dx, set
	j.prepare()
	j.runImages()
	putJob(j)
}

// BackwardWeight adds the gradients with respect to w and bias, given x and
// dy, into dw and db. db may be nil.
func BackwardWeight(s Shape, x, dy, dw, db []float32) {
	g := s.check("conv.BackwardWeight")
	g.need("conv.BackwardWeight", "x", x, s.N*s.Cin*s.H*s.W)
	g.need("conv.BackwardWeight", "dy", dy, s.N*s.Cout*g.ho*g.wo)
	g.need("conv.BackwardWeight", "dw", dw, s.Cout*g.ckk)
	if db != nil {
		g.need("conv.BackwardWeight", "db", db, s.Cout)
	}
	if s.N == 0 || s.Cout == 0 {
		return
	}
	j := getJob(opBackwardWeight, g)
	j.in, j.dy, j.out, j.db = x, dy, dw, db
	j.prepare()
	j.backwardWeight()
	putJob(j)
}

// geom holds a Shape with the sizes derived from it.
type geom struct {
	Shape
	ho, wo int
	ckk    int // Cin*K*K: the summation length of the forward product
	how    int // ho*wo
}

// check validates s for op and returns its geometry; it panics on sizes no
// convolution has.
func (s Shape) check(op string) geom {
	if s.N < 0 || s.Cin < 0 || s.Cout < 0 || s.H < 1 || s.W < 1 || s.K < 1 || s.Stride < 1 || s.Pad < 0 {
		panic(fmt.Sprintf("%s: invalid shape %+v", op, s))
	}
	if s.H+2*s.Pad < s.K || s.W+2*s.Pad < s.K {
		panic(fmt.Sprintf("%s: kernel %d larger than the padded %dx%d input (pad %d)", op, s.K, s.H, s.W, s.Pad))
	}
	ho, wo := s.Out()
	return geom{Shape: s, ho: ho, wo: wo, ckk: s.Cin * s.K * s.K, how: ho * wo}
}

// need panics unless len(v) >= n.
func (g geom) need(op, name string, v []float32, n int) {
	if len(v) < n {
		panic(fmt.Sprintf("%s: %s has %d elements, want %d for %+v", op, name, len(v), n, g.Shape))
	}
}

// empty reports whether the convolution computes nothing.
func (g geom) empty() bool { return g.N == 0 || g.Cin == 0 || g.Cout == 0 }

// plain reports whether the convolution is a plain product per image.
func (g geom) plain() bool { return g.K == 1 && g.Stride == 1 && g.Pad == 0 }
