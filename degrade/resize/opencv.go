package resize

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Inter is an OpenCV interpolation flag, with OpenCV's numeric values
// (KAIR's add_resize picks random.choice([1, 2, 3])).
type Inter int

// The cv2.resize interpolations implemented.
const (
	InterNearest Inter = 0 // cv2.INTER_NEAREST
	InterLinear  Inter = 1 // cv2.INTER_LINEAR
	InterCubic   Inter = 2 // cv2.INTER_CUBIC
	InterArea    Inter = 3 // cv2.INTER_AREA
)

var interNames = [...]string{"nearest", "linear", "cubic", "area"}

// String returns the OpenCV name without the INTER_ prefix, in lower case.
func (i Inter) String() string {
	if i >= 0 && int(i) < len(interNames) {
		return interNames[i]
	}
	return fmt.Sprintf("Inter(%d)", int(i))
}

// OpenCV returns img resized to h x w as cv2.resize(img, (w, h),
// interpolation=inter) does for a float32 image (OpenCV's generic C++ code;
// builds that route float resizes through Intel IPP may differ in the last
// float32 bits):
//
//   - scale = in/out per axis (as 1/(out/in) in float64); equal sizes copy;
//   - InterNearest: source floor(i·scale), at most in-1;
//   - InterLinear: source (i+0.5)·scale - 0.5 rounded to float32, two taps
//     with weights (1-f, f), edge-clamped; an exact 2x reduction of both
//     sides switches to InterArea, as OpenCV does;
//   - InterCubic: four taps with Keys A = -0.75 weights (the last one
//     1 minus the others) and replicated borders;
//   - InterArea: when both sides shrink, exact area coverage — block means
//     for integer factors, OpenCV's fractional cell weights otherwise;
//     when a side grows, OpenCV's bilinear variant with weights
//     f = (i+1) - (floor(i·scale)+1)/scale reduced to [0, 1).
func OpenCV(img *raster.Image, h, w int, inter Inter) *raster.Image {
	checkSize("OpenCV", img, h, w)
	if h == img.H && w == img.W {
		return img.Clone()
	}
	invX := float64(w) / float64(img.W)
	invY := float64(h) / float64(img.H)
	sx, sy := 1/invX, 1/invY
	isx, isy := int(math.Round(sx)), int(math.Round(sy))
	areaFast := math.Abs(sx-float64(isx)) < 0x1p-52 && math.Abs(sy-float64(isy)) < 0x1p-52
	switch inter {
	case InterNearest:
		return cvNearest(img, h, w, sx, sy)
	case InterLinear:
		if areaFast && isx == 2 && isy == 2 {
			return cvAreaFast(img, h, w, isx, isy)
		}
		return separable(img, h, w, cvLinearTaps(img.W, w, sx, invX, false, true), cvLinearTaps(img.H, h, sy, invY, false, false))
	case InterCubic:
		return separable(img, h, w, cvCubicTaps(img.W, w, sx), cvCubicTaps(img.H, h, sy))
	case InterArea:
		if sx >= 1 && sy >= 1 {
			if areaFast {
				return cvAreaFast(img, h, w, isx, isy)
			}
			return separable(img, h, w, cvAreaTaps(img.W, w, sx), cvAreaTaps(img.H, h, sy))
		}
		return separable(img, h, w, cvLinearTaps(img.W, w, sx, invX, true, true), cvLinearTaps(img.H, h, sy, invY, true, false))
	}
	panic(fmt.Sprintf("resize.OpenCV: unsupported interpolation %v", inter))
}

func cvNearest(img *raster.Image, h, w int, sx, sy float64) *raster.Image {
	xs := make([]int, w)
	for x := range xs {
		xs[x] = min(int(math.Floor(float64(x)*sx)), img.W-1)
	}
	out := raster.New(img.C, h, w)
	parallel.For(img.C*h, 32, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, y := r/h, r%h
			src := min(int(math.Floor(float64(y)*sy)), img.H-1)
			row := img.Plane(c)[src*img.W : (src+1)*img.W]
			dst := out.Pix[r*w : (r+1)*w]
			for x, s := range xs {
				dst[x] = row[s]
			}
		}
	})
	return out
}

// cvLinearTaps computes OpenCV's two-tap coefficients for one axis, with
// area set for INTER_AREA's enlarging variant. Indices are clamped to the
// input (OpenCV replicates the border rows); horizontal is set for the
// horizontal pass, where OpenCV also moves a source position left of 0 or
// at or right of in-1 onto the edge pixel with weight 1.
func cvLinearTaps(in, out int, scale, inv float64, area, horizontal bool) taps {
	t := taps{n: 2, idx: make([]int32, 2*out), w: make([]float32, 2*out)}
	for d := 0; d < out; d++ {
		var s int
		var f float32
		if !area {
			f = float32((float64(d)+0.5)*scale - 0.5)
			fl := float32(math.Floor(float64(f)))
			s = int(fl)
			f -= fl
		} else {
			s = int(math.Floor(float64(d) * scale))
			f = float32(float64(d+1) - float64(s+1)*inv)
			if f <= 0 {
				f = 0
			} else {
				f -= float32(math.Floor(float64(f)))
			}
		}
		if horizontal {
			if s < 0 {
				s, f = 0, 0
			}
			if s >= in-1 {
				s, f = in-1, 0
			}
		}
		t.idx[2*d], t.idx[2*d+1] = int32(min(max(s, 0), in-1)), int32(min(max(s+1, 0), in-1))
		t.w[2*d], t.w[2*d+1] = 1-f, f
	}
	return t
}

// cvCubicCoeffs is OpenCV's interpolateCubic (A = -0.75, float32).
func cvCubicCoeffs(x float32) [4]float32 {
	const a = -0.75
	var c [4]float32
	c[0] = ((a*(x+1)-5*a)*(x+1)+8*a)*(x+1) - 4*a
	c[1] = ((a+2)*x-(a+3))*x*x + 1
	c[2] = ((a+2)*(1-x)-(a+3))*(1-x)*(1-x) + 1
	c[3] = 1 - c[0] - c[1] - c[2]
	return c
}

func cvCubicTaps(in, out int, scale float64) taps {
	t := taps{n: 4, idx: make([]int32, 4*out), w: make([]float32, 4*out)}
	for d := 0; d < out; d++ {
		f := float32((float64(d)+0.5)*scale - 0.5)
		fl := float32(math.Floor(float64(f)))
		s := int(fl)
		c := cvCubicCoeffs(f - fl)
		for k := 0; k < 4; k++ {
			t.idx[4*d+k] = int32(min(max(s-1+k, 0), in-1))
			t.w[4*d+k] = c[k]
		}
	}
	return t
}

// cvAreaTaps computes OpenCV's computeResizeAreaTab for one shrinking axis:
// output cell d covers [d·scale, (d+1)·scale); every source pixel gets the
// fraction of it inside the cell divided by the cell width (partial edge
// pixels only when the overlap exceeds 1e-3).
func cvAreaTaps(in, out int, scale float64) taps {
	type tap struct {
		i int
		w float32
	}
	cells := make([][]tap, out)
	n := 0
	for d := 0; d < out; d++ {
		f1 := float64(d) * scale
		f2 := f1 + scale
		cell := min(scale, float64(in)-f1)
		s1 := int(math.Ceil(f1))
		s2 := min(int(math.Floor(f2)), in-1)
		s1 = min(s1, s2)
		var c []tap
		if float64(s1)-f1 > 1e-3 {
			c = append(c, tap{s1 - 1, float32((float64(s1) - f1) / cell)})
		}
		for s := s1; s < s2; s++ {
			c = append(c, tap{s, float32(1 / cell)})
		}
		if f2-float64(s2) > 1e-3 {
			c = append(c, tap{s2, float32(min(f2-float64(s2), 1, cell) / cell)})
		}
		cells[d] = c
		n = max(n, len(c))
	}
	// Pad every cell to n taps with zero weights on its first pixel.
	t := taps{n: n, idx: make([]int32, n*out), w: make([]float32, n*out)}
	for d, c := range cells {
		for k := 0; k < n; k++ {
			if k < len(c) {
				t.idx[n*d+k], t.w[n*d+k] = int32(c[k].i), c[k].w
			} else {
				t.idx[n*d+k] = int32(c[0].i)
			}
		}
	}
	return t
}

// cvAreaFast is OpenCV's resizeAreaFast for integer factors fx, fy that
// divide the input (OpenCV takes this path only when in/out is an integer,
// so the blocks tile the image): the block pixels in row-major order are
// summed in groups of four, as OpenCV's scalar loop does, and the sum is
// multiplied by 1/(fx·fy) in float32.
func cvAreaFast(img *raster.Image, h, w, fx, fy int) *raster.Image {
	out := raster.New(img.C, h, w)
	area := fx * fy
	scale := float32(1) / float32(area)
	ofs := make([]int, area)
	for k := range ofs {
		ofs[k] = (k/fx)*img.W + k%fx
	}
	parallel.For(img.C*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, oy := r/h, r%h
			plane := img.Plane(c)
			dst := out.Pix[r*w : (r+1)*w]
			for ox := range dst {
				s := plane[oy*fy*img.W+ox*fx:]
				var sum float32
				k := 0
				for ; k+4 <= area; k += 4 {
					sum += s[ofs[k]] + s[ofs[k+1]] + s[ofs[k+2]] + s[ofs[k+3]]
				}
				for ; k < area; k++ {
					sum += s[ofs[k]]
				}
				dst[ox] = sum * scale
			}
		}
	})
	return out
}
