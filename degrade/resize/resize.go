// Package resize scales planar images the way the reference degradation
// pipelines do:
//
//   - Interpolate and Scale follow PyTorch's F.interpolate with
//     align_corners=False and no antialiasing, in modes area
//     (adaptive_avg_pool2d), bilinear and bicubic (A = -0.75), as
//     Real-ESRGAN (BasicSR) resizes;
//   - OpenCV follows cv2.resize on float images (INTER_NEAREST, INTER_LINEAR,
//     INTER_CUBIC, INTER_AREA), as KAIR's BSRGAN degradation resizes;
//   - Imresize follows MATLAB's imresize (bicubic with antialiasing when
//     shrinking) as KAIR's imresize_np and BasicSR's imresize compute it.
//
// All of them are separable. Interpolate, Scale and OpenCV compute in
// float32 in the reference's order of operations; Imresize computes its
// weights and sums in float64. Results agree with the references to float32
// rounding. Rows are processed in parallel; results do not depend on the
// number of cores.
package resize

import (
	"fmt"
	"math"
	"strings"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Mode is an F.interpolate mode.
type Mode int

// The interpolation modes Real-ESRGAN chooses from.
const (
	Area     Mode = iota // adaptive average pooling
	Bilinear             // linear in each axis, edge-clamped
	Bicubic              // Keys cubic, A = -0.75, edge-clamped taps
)

// Modes lists the modes in the order of Real-ESRGAN's
// random.choice(['area', 'bilinear', 'bicubic']).
var Modes = []Mode{Area, Bilinear, Bicubic}

var modeNames = [...]string{Area: "area", Bilinear: "bilinear", Bicubic: "bicubic"}

// String returns the PyTorch name of m.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode returns the mode with PyTorch name s ("area", "bilinear" or
// "bicubic", case-insensitive).
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("resize: unknown mode %q (want area, bilinear or bicubic)", s)
}

// MarshalText implements encoding.TextMarshaler, so configs and manifests
// (JSON, YAML) name modes by their PyTorch names.
func (m Mode) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(modeNames) {
		return nil, fmt.Errorf("resize: invalid mode %d", int(m))
	}
	return []byte(modeNames[m]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Interpolate returns img resized to h x w as F.interpolate(img, size=(h, w),
// mode=m) does: the source coordinate of output pixel i is
// (i+0.5)·in/out - 0.5.
func Interpolate(img *raster.Image, h, w int, m Mode) *raster.Image {
	checkSize("Interpolate", img, h, w)
	if m == Area {
		return adaptiveAvgPool(img, h, w)
	}
	sy := float32(img.H) / float32(h)
	sx := float32(img.W) / float32(w)
	return torchSeparable(img, h, w, sy, sx, m)
}

// Scale returns img resized by factor as F.interpolate(img,
// scale_factor=factor, mode=m) does with recompute_scale_factor left unset:
// the output is floor(in·factor) on each side, and bilinear and bicubic map
// coordinates with 1/factor rather than in/out, so Scale(img, f, m) and
// Interpolate to the same size differ slightly. Area depends only on the
// sizes. It panics when an output side would be 0.
func Scale(img *raster.Image, factor float64, m Mode) *raster.Image {
	if !(factor > 0) || math.IsInf(factor, 0) {
		panic(fmt.Sprintf("resize.Scale: factor %v", factor))
	}
	h := int(float64(img.H) * factor)
	w := int(float64(img.W) * factor)
	checkSize("Scale", img, h, w)
	if m == Area {
		return adaptiveAvgPool(img, h, w)
	}
	s := float32(1 / factor)
	return torchSeparable(img, h, w, s, s, m)
}

func checkSize(op string, img *raster.Image, h, w int) {
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("resize.%s: output %dx%d from %dx%d image", op, h, w, img.H, img.W))
	}
}

// taps holds, for each output index of one axis, n source indices and
// weights (already clamped to the input).
type taps struct {
	n   int
	idx []int32
	w   []float32
}

// torchTaps computes PyTorch's indices and weights for one axis of out
// samples from in samples with coordinate scale s (float32 as in ATen).
func torchTaps(in, out int, s float32, m Mode) taps {
	switch m {
	case Bilinear:
		t := taps{n: 2, idx: make([]int32, 2*out), w: make([]float32, 2*out)}
		for i := 0; i < out; i++ {
			var i0, i1 int
			var l0, l1 float32
			if in == out {
				// ATen copies when the sizes match, whatever the scale.
				i0, i1, l0, l1 = i, i, 1, 0
			} else {
				src := s*(float32(i)+0.5) - 0.5
				if src < 0 {
					src = 0
				}
				i0, l1 = guard(src, in)
				i1 = i0
				if i0 < in-1 {
					i1++
				}
				l0 = 1 - l1
			}
			t.idx[2*i], t.idx[2*i+1] = int32(i0), int32(i1)
			t.w[2*i], t.w[2*i+1] = l0, l1
		}
		return t
	case Bicubic:
		t := taps{n: 4, idx: make([]int32, 4*out), w: make([]float32, 4*out)}
		for i := 0; i < out; i++ {
			src := s*(float32(i)+0.5) - 0.5
			i0, lam := guard(src, in)
			c := cubicCoeffs(lam)
			for j := 0; j < 4; j++ {
				t.idx[4*i+j] = int32(min(max(i0+j-1, 0), in-1))
				t.w[4*i+j] = c[j]
			}
		}
		return t
	}
	panic(fmt.Sprintf("resize: mode %v has no taps", m))
}

// guard is ATen's guard_index_and_lambda: the integer part of src, at most
// in-1, and the fraction clamped to [0, 1].
func guard(src float32, in int) (int, float32) {
	i := min(int(math.Floor(float64(src))), in-1)
	l := src - float32(i)
	return i, min(max(l, 0), 1)
}

// cubicCoeffs are ATen's get_cubic_upsample_coefficients with A = -0.75.
func cubicCoeffs(t float32) [4]float32 {
	const a = -0.75
	conv1 := func(x float32) float32 { return ((a+2)*x-(a+3))*x*x + 1 }
	conv2 := func(x float32) float32 { return ((a*x-5*a)*x+8*a)*x - 4*a }
	x2 := 1 - t
	return [4]float32{conv2(t + 1), conv1(t), conv1(x2), conv2(x2 + 1)}
}

// torchSeparable resizes with bilinear or bicubic taps: a horizontal pass
// over every input row, then a vertical pass. ATen evaluates
// Σ_i wy_i·(Σ_j wx_j·src) in float32 in the same order.
func torchSeparable(img *raster.Image, h, w int, sy, sx float32, m Mode) *raster.Image {
	tx := torchTaps(img.W, w, sx, m)
	ty := torchTaps(img.H, h, sy, m)
	return separable(img, h, w, tx, ty)
}

// separable applies tx along rows into an img.H x w temporary, then ty
// along columns. Both sums run over taps in order, starting from the
// first product.
func separable(img *raster.Image, h, w int, tx, ty taps) *raster.Image {
	tmp := raster.New(img.C, img.H, w)
	parallel.For(img.C*img.H, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			hRow(tmp.Pix[r*w:(r+1)*w], img.Pix[r*img.W:(r+1)*img.W], tx)
		}
	})
	out := raster.New(img.C, h, w)
	parallel.For(img.C*h, 16, func(lo, hi int) {
		rows := make([][]float32, ty.n)
		for r := lo; r < hi; r++ {
			c, y := r/h, r%h
			plane := tmp.Plane(c)
			for k := range rows {
				sy := int(ty.idx[y*ty.n+k])
				rows[k] = plane[sy*w : (sy+1)*w]
			}
			vRow(out.Pix[r*w:(r+1)*w], rows, ty.w[y*ty.n:(y+1)*ty.n])
		}
	})
	return out
}

// hRow computes dst[x] = Σ_k src[idx[x,k]]·w[x,k].
func hRow(dst, src []float32, t taps) {
	n := t.n
	switch n {
	case 2:
		for x := range dst {
			i := t.idx[2*x : 2*x+2 : 2*x+2]
			w := t.w[2*x : 2*x+2 : 2*x+2]
			a := src[i[0]] * w[0]
			a += src[i[1]] * w[1]
			dst[x] = a
		}
	case 4:
		for x := range dst {
			i := t.idx[4*x : 4*x+4 : 4*x+4]
			w := t.w[4*x : 4*x+4 : 4*x+4]
			a := src[i[0]] * w[0]
			a += src[i[1]] * w[1]
			a += src[i[2]] * w[2]
			a += src[i[3]] * w[3]
			dst[x] = a
		}
	default:
		for x := range dst {
			i := t.idx[n*x : n*x+n]
			w := t.w[n*x : n*x+n]
			a := src[i[0]] * w[0]
			for k := 1; k < n; k++ {
				a += src[i[k]] * w[k]
			}
			dst[x] = a
		}
	}
}

// vRow computes dst[x] = Σ_k rows[k][x]·w[k].
func vRow(dst []float32, rows [][]float32, w []float32) {
	switch len(w) {
	case 2:
		r0, r1 := rows[0][:len(dst)], rows[1][:len(dst)]
		w0, w1 := w[0], w[1]
		for x := range dst {
			a := r0[x] * w0
			a += r1[x] * w1
			dst[x] = a
		}
	case 4:
		r0, r1, r2, r3 := rows[0][:len(dst)], rows[1][:len(dst)], rows[2][:len(dst)], rows[3][:len(dst)]
		w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
		for x := range dst {
			a := r0[x] * w0
			a += r1[x] * w1
			a += r2[x] * w2
			a += r3[x] * w3
			dst[x] = a
		}
	default:
		for x := range dst {
			a := rows[0][x] * w[0]
			for k := 1; k < len(w); k++ {
				a += rows[k][x] * w[k]
			}
			dst[x] = a
		}
	}
}

// adaptiveAvgPool is ATen's adaptive_avg_pool2d: output (oy, ox) is the
// mean over rows [floor(oy·H/h), ceil((oy+1)·H/h)) and the matching
// columns, summed row by row in float32 and divided by the row count and
// then the column count.
func adaptiveAvgPool(img *raster.Image, h, w int) *raster.Image {
	out := raster.New(img.C, h, w)
	x0 := make([]int, w)
	x1 := make([]int, w)
	for ox := 0; ox < w; ox++ {
		x0[ox], x1[ox] = ox*img.W/w, ((ox+1)*img.W+w-1)/w
	}
	parallel.For(img.C*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, oy := r/h, r%h
			y0, y1 := oy*img.H/h, ((oy+1)*img.H+h-1)/h
			plane := img.Plane(c)
			dst := out.Pix[r*w : (r+1)*w]
			kh := float32(y1 - y0)
			for ox := range dst {
				var sum float32
				for y := y0; y < y1; y++ {
					for _, v := range plane[y*img.W+x0[ox] : y*img.W+x1[ox]] {
						sum += v
					}
				}
				dst[ox] = sum / kh / float32(x1[ox]-x0[ox])
			}
		}
	})
	return out
}
