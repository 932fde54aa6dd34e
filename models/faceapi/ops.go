package faceapi

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

// fmap is a feature map of one image in TensorFlow.js layout: H x W x C,
// channels fastest (NHWC with N = 1).
type fmap struct {
	H, W, C int
	D       []float32
}

func newMap(h, w, c int) *fmap { return &fmap{H: h, W: w, C: c, D: make([]float32, h*w*c)} }

// pad4 is zero padding before/after the rows and columns.
type pad4 struct{ top, bottom, left, right int }

// samePad returns TensorFlow's SAME padding of one axis: the output size
// ceil(in/stride) and the padding before and after (the odd cell after).
func samePad(in, k, stride int) (out, before, after int) {
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return out, total / 2, total - total/2
}

// same returns the SAME padding of a k x k window with the given stride on x.
func (x *fmap) same(k, stride int) pad4 {
	_, t, b := samePad(x.H, k, stride)
	_, l, r := samePad(x.W, k, stride)
	return pad4{t, b, l, r}
}

// outSize returns the output size of a window of k with the given stride
// over in cells padded by p.
func outSize(in, k, stride, before, after int) int {
	n := in + before + after - k
	if n < 0 {
		panic(fmt.Sprintf("faceapi: window %d larger than the padded input %d", k, in+before+after))
	}
	return n/stride + 1
}

// conv2d returns the cross-correlation of x with filters w [k, k, C, cout]
// (HWIO) at the given stride and zero padding, plus bias (nil for none).
// It is an im2col product: each output pixel's k*k*C inputs, in (ky, kx, c)
// order, form a row that multiplies w viewed as a (k*k*C) x cout matrix.
func conv2d(x *fmap, w []float32, k, cout, stride int, p pad4, bias []float32) *fmap {
	ho := outSize(x.H, k, stride, p.top, p.bottom)
	wo := outSize(x.W, k, stride, p.left, p.right)
	y := newMap(ho, wo, cout)
	kk := k * k * x.C
	if len(w) != kk*cout {
		panic(fmt.Sprintf("faceapi: conv2d filters have %d values, want %d", len(w), kk*cout))
	}
	var a []float32
	if k == 1 && stride == 1 && p == (pad4{}) {
		a = x.D
	} else {
		a = make([]float32, ho*wo*kk)
		parallel.For(ho, 1, func(lo, hi int) {
			for oy := lo; oy < hi; oy++ {
				for ox := 0; ox < wo; ox++ {
					row := a[(oy*wo+ox)*kk : (oy*wo+ox+1)*kk]
					for ky := 0; ky < k; ky++ {
						iy := oy*stride + ky - p.top
						seg := row[ky*k*x.C : (ky+1)*k*x.C]
						if iy < 0 || iy >= x.H {
							clear(seg)
							continue
						}
						ix0 := ox*stride - p.left
						if ix0 >= 0 && ix0+k <= x.W {
							copy(seg, x.D[(iy*x.W+ix0)*x.C:(iy*x.W+ix0+k)*x.C])
							continue
						}
						for kx := 0; kx < k; kx++ {
							ix := ix0 + kx
							s := seg[kx*x.C : (kx+1)*x.C]
							if ix < 0 || ix >= x.W {
								clear(s)
							} else {
								copy(s, x.D[(iy*x.W+ix)*x.C:(iy*x.W+ix+1)*x.C])
							}
						}
					}
				}
			}
		})
	}
	gemm.Sgemm(false, false, ho*wo, cout, kk, 1, a, kk, w, cout, 0, y.D, cout)
	if bias != nil {
		y.addBias(bias)
	}
	return y
}

// depthwise returns the depthwise 3x3 (k x k) cross-correlation of x with
// filters w [k, k, C, 1] at the given stride and padding.
func depthwise(x *fmap, w []float32, k, stride int, p pad4) *fmap {
	ho := outSize(x.H, k, stride, p.top, p.bottom)
	wo := outSize(x.W, k, stride, p.left, p.right)
	c := x.C
	if len(w) != k*k*c {
		panic(fmt.Sprintf("faceapi: depthwise filters have %d values, want %d", len(w), k*k*c))
	}
	y := newMap(ho, wo, c)
	parallel.For(ho, 1, func(lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			for ox := 0; ox < wo; ox++ {
				out := y.D[(oy*wo+ox)*c : (oy*wo+ox+1)*c]
				for ky := 0; ky < k; ky++ {
					iy := oy*stride + ky - p.top
					if iy < 0 || iy >= x.H {
						continue
					}
					for kx := 0; kx < k; kx++ {
						ix := ox*stride + kx - p.left
						if ix < 0 || ix >= x.W {
							continue
						}
						in := x.D[(iy*x.W+ix)*c : (iy*x.W+ix+1)*c]
						f := w[(ky*k+kx)*c : (ky*k+kx+1)*c]
						for ch := range out {
							out[ch] += in[ch] * f[ch]
						}
					}
				}
			}
		}
	})
	return y
}

// separable returns separableConv2d(x, dw [3,3,C,1], pw [1,1,C,cout]) + bias:
// a depthwise 3x3 convolution at the given stride and padding, then a 1x1
// convolution, with nothing in between.
func separable(x *fmap, dw, pw []float32, cout, stride int, p pad4, bias []float32) *fmap {
	return conv2d(depthwise(x, dw, 3, stride, p), pw, 1, cout, 1, pad4{}, bias)
}

// addBias adds b over the channel axis.
func (x *fmap) addBias(b []float32) {
	c := x.C
	for i := 0; i < len(x.D); i += c {
		row := x.D[i : i+c]
		for j := range row {
			row[j] += b[j]
		}
	}
}

// scaleShift sets x = x*s + b over the channel axis (two float32 roundings,
// as tf.mul then tf.add).
func (x *fmap) scaleShift(s, b []float32) {
	c := x.C
	for i := 0; i < len(x.D); i += c {
		row := x.D[i : i+c]
		for j := range row {
			v := row[j] * s[j]
			row[j] = v + b[j]
		}
	}
}

// relu sets x = max(x, 0) in place and returns x.
func (x *fmap) relu() *fmap {
	for i, v := range x.D {
		if !(v > 0) {
			x.D[i] = 0
		}
	}
	return x
}

// leaky applies face-api's leaky ReLU in place: m = 0.1*x, relu(x - m) + m,
// each step rounded to float32 as tfjs does.
func (x *fmap) leaky() *fmap {
	const a = float32(0.10000000149011612)
	for i, v := range x.D {
		m := v * a
		d := v - m
		if !(d > 0) {
			d = 0
		}
		x.D[i] = d + m
	}
	return x
}

// add sets x += y elementwise and returns x.
func (x *fmap) add(y *fmap) *fmap {
	if len(x.D) != len(y.D) {
		panic(fmt.Sprintf("faceapi: adding %dx%dx%d and %dx%dx%d maps", x.H, x.W, x.C, y.H, y.W, y.C))
	}
	for i, v := range y.D {
		x.D[i] += v
	}
	return x
}

// sum returns a new map a + b.
func sum(a, b *fmap) *fmap {
	y := &fmap{H: a.H, W: a.W, C: a.C, D: append([]float32(nil), a.D...)}
	return y.add(b)
}

// maxPool returns the max over k x k windows at the given stride; padded
// cells are ignored (TensorFlow's SAME max pooling).
func maxPool(x *fmap, k, stride int, p pad4) *fmap {
	ho := outSize(x.H, k, stride, p.top, p.bottom)
	wo := outSize(x.W, k, stride, p.left, p.right)
	c := x.C
	y := newMap(ho, wo, c)
	for oy := 0; oy < ho; oy++ {
		for ox := 0; ox < wo; ox++ {
			out := y.D[(oy*wo+ox)*c : (oy*wo+ox+1)*c]
			for i := range out {
				out[i] = float32(math.Inf(-1))
			}
			for ky := 0; ky < k; ky++ {
				iy := oy*stride + ky - p.top
				if iy < 0 || iy >= x.H {
					continue
				}
				for kx := 0; kx < k; kx++ {
					ix := ox*stride + kx - p.left
					if ix < 0 || ix >= x.W {
						continue
					}
					in := x.D[(iy*x.W+ix)*c : (iy*x.W+ix+1)*c]
					for ch, v := range in {
						if v > out[ch] {
							out[ch] = v
						}
					}
				}
			}
		}
	}
	return y
}

// avgPoolValid returns the mean over k x k windows at the given stride,
// without padding.
func avgPoolValid(x *fmap, k, stride int) *fmap {
	ho := outSize(x.H, k, stride, 0, 0)
	wo := outSize(x.W, k, stride, 0, 0)
	c := x.C
	y := newMap(ho, wo, c)
	inv := 1 / float32(k*k)
	for oy := 0; oy < ho; oy++ {
		for ox := 0; ox < wo; ox++ {
			out := y.D[(oy*wo+ox)*c : (oy*wo+ox+1)*c]
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					iy, ix := oy*stride+ky, ox*stride+kx
					in := x.D[(iy*x.W+ix)*c : (iy*x.W+ix+1)*c]
					for ch, v := range in {
						out[ch] += v
					}
				}
			}
			for ch := range out {
				out[ch] *= inv
			}
		}
	}
	return y
}

// padBottomRight returns x with rows and columns of zeros appended at the
// bottom and right, to h x w.
func padBottomRight(x *fmap, h, w int) *fmap {
	if h == x.H && w == x.W {
		return x
	}
	y := newMap(h, w, x.C)
	for r := 0; r < x.H; r++ {
		copy(y.D[r*w*x.C:], x.D[r*x.W*x.C:(r+1)*x.W*x.C])
	}
	return y
}

// padChannels returns x with zero channels appended, to c channels.
func padChannels(x *fmap, c int) *fmap {
	if c == x.C {
		return x
	}
	y := newMap(x.H, x.W, c)
	for i := 0; i < x.H*x.W; i++ {
		copy(y.D[i*c:i*c+x.C], x.D[i*x.C:(i+1)*x.C])
	}
	return y
}

// meanHW returns the mean over rows and columns, one value per channel.
func meanHW(x *fmap) []float32 {
	acc := make([]float64, x.C)
	for i := 0; i < len(x.D); i += x.C {
		for j, v := range x.D[i : i+x.C] {
			acc[j] += float64(v)
		}
	}
	out := make([]float32, x.C)
	n := float64(x.H * x.W)
	for j, v := range acc {
		out[j] = float32(v / n)
	}
	return out
}

// matVec returns x . w for x of length n and w an n x m row-major matrix,
// plus bias (nil for none), summed in float64.
func matVec(x, w []float32, m int, bias []float32) []float32 {
	n := len(x)
	if len(w) != n*m {
		panic(fmt.Sprintf("faceapi: %d x %d matrix with %d values", n, m, len(w)))
	}
	acc := make([]float64, m)
	for i, v := range x {
		row := w[i*m : (i+1)*m]
		for j, u := range row {
			acc[j] += float64(v) * float64(u)
		}
	}
	out := make([]float32, m)
	for j, v := range acc {
		out[j] = float32(v)
		if bias != nil {
			out[j] += bias[j]
		}
	}
	return out
}
