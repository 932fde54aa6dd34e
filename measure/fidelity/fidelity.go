// Package fidelity computes the full-reference image quality metrics PSNR
// and SSIM exactly as BasicSR's calculate_psnr and calculate_ssim
// (basicsr/metrics/psnr_ssim.py), so that figures are comparable with
// published super-resolution results.
//
// BasicSR evaluates 8-bit images: its tensor2img clamps the network output
// to [0, 1], multiplies by 255 and rounds half to even before the metrics
// see it. PSNR and SSIM do the same to their raster.Image arguments first,
// so a float image and the PNG written from it give the same figures.
// Then, like BasicSR:
//
//   - CropBorder pixels are removed from each edge (usually the scale
//     factor: the border of an upscaled image depends on padding choices);
//   - with TestY, the planes are replaced by the luma of MATLAB's rgb2ycbcr
//     (ITU-R BT.601, studio range): Y = 16 + 65.481 R + 128.553 G +
//     24.966 B for R, G, B in [0, 1] (Y in 16..235), computed with the
//     float32 roundings of BasicSR's to_y_channel; otherwise all planes
//     are used;
//   - PSNR is 10 log10(255² / MSE) over all remaining values (all planes
//     together), +Inf for identical images;
//   - SSIM follows Wang et al. (2004): means, variances and covariance
//     under an 11x11 Gaussian window with sigma 1.5 (cv2.getGaussianKernel),
//     evaluated only where the window fits inside the image (the 'valid'
//     region BasicSR keeps after cv2.filter2D), C1 = (0.01·255)² and
//     C2 = (0.03·255)²; the SSIM map is averaged per plane and the planes
//     are averaged.
//
// All arithmetic after the 8-bit rounding is float64. OpenCV computes the
// 11x11 filtering through the DFT and this package by direct separable
// sums, so results can differ from BasicSR's in the last digits (rounding
// only; the tests check SSIM against a direct evaluation of the definition
// to 1e-10).
package fidelity

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Options selects BasicSR's evaluation conventions.
type Options struct {
	// CropBorder is the number of pixels removed from each edge before
	// comparing (BasicSR's crop_border; usually the scale factor).
	CropBorder int `json:"crop_border" yaml:"crop_border"`
	// TestY compares the Y channel of YCbCr (BasicSR's test_y_channel)
	// instead of the colour planes. Images with other than 3 planes are
	// compared plane by plane, as BasicSR does.
	TestY bool `json:"test_y_channel" yaml:"test_y_channel"`
}

// PSNR returns the peak signal-to-noise ratio of a against b in dB, on the
// 0-255 scale after 8-bit rounding: +Inf when they are equal. It panics if
// the images differ in size or the border crop leaves nothing.
func PSNR(a, b *raster.Image, opt Options) float64 {
	pa, pb := prepare("PSNR", a, b, opt)
	// Per-plane sums added in plane order: the result does not depend on
	// the number of workers.
	sums := make([]float64, len(pa))
	parallel.For(len(pa), 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			x, y := pa[c], pb[c][:len(pa[c])]
			s := 0.0
			for i, v := range x {
				d := v - y[i]
				s += d * d
			}
			sums[c] = s
		}
	})
	total, n := 0.0, 0
	for c, s := range sums {
		total += s
		n += len(pa[c])
	}
	mse := total / float64(n)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// SSIM returns the structural similarity of a and b (1 for identical
// images), averaged over planes. It returns NaN when an image, after the
// border crop, is smaller than the 11x11 window, as BasicSR's mean of an
// empty map does. It panics if the images differ in size or the border
// crop leaves nothing.
func SSIM(a, b *raster.Image, opt Options) float64 {
	pa, pb := prepare("SSIM", a, b, opt)
	h, w := outSize(a, opt)
	if h < ssimWin || w < ssimWin {
		return math.NaN()
	}
	s := 0.0
	for c := range pa {
		s += ssimPlane(pa[c], pb[c], h, w)
	}
	return s / float64(len(pa))
}

// outSize returns the height and width left after the border crop.
func outSize(m *raster.Image, opt Options) (h, w int) {
	return m.H - 2*opt.CropBorder, m.W - 2*opt.CropBorder
}

// prepare checks the arguments and returns the planes that are compared,
// in float64 on the 0-255 scale: rounded to 8 bits, cropped, and converted
// to Y if asked.
func prepare(op string, a, b *raster.Image, opt Options) (pa, pb [][]float64) {
	if !raster.SameSize(a, b) {
		panic(fmt.Sprintf("fidelity.%s: image sizes differ: %dx%dx%d and %dx%dx%d", op, a.C, a.H, a.W, b.C, b.H, b.W))
	}
	h, w := outSize(a, opt)
	if opt.CropBorder < 0 || h <= 0 || w <= 0 {
		panic(fmt.Sprintf("fidelity.%s: crop border %d does not fit a %dx%d image", op, opt.CropBorder, a.W, a.H))
	}
	return planes(a, opt), planes(b, opt)
}

func planes(m *raster.Image, opt Options) [][]float64 {
	h, w := outSize(m, opt)
	b := opt.CropBorder
	u8 := make([][]uint8, m.C)
	for c := range u8 {
		u8[c] = make([]uint8, h*w)
		src := m.Plane(c)
		dst := u8[c]
		parallel.For(h, max(1, (1<<14)/w), func(lo, hi int) {
			for y := lo; y < hi; y++ {
				row := src[(y+b)*m.W+b : (y+b)*m.W+b+w]
				out := dst[y*w : y*w+w]
				for x, v := range row {
					out[x] = Quantize(v)
				}
			}
		})
	}
	if opt.TestY && m.C == 3 {
		return [][]float64{lumaBT601(u8[0], u8[1], u8[2])}
	}
	out := make([][]float64, len(u8))
	for c, p := range u8 {
		out[c] = make([]float64, len(p))
		if opt.TestY {
			// to_y_channel leaves a single plane as float32(v/255)*255.
			for i, v := range p {
				out[c][i] = float64(yTable[v])
			}
			continue
		}
		for i, v := range p {
			out[c][i] = float64(v)
		}
	}
	return out
}

// Quantize returns v as BasicSR's tensor2img stores it: clamped to [0, 1],
// multiplied by 255 in float32 and rounded half to even (NaN gives 0).
func Quantize(v float32) uint8 { return raster.To8(v) }

// unitTable[v] is float32(v)/255 in float32: BasicSR's to_y_channel input
// (uint8 -> float32 -> /255).
var unitTable = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// yTable[v] is unitTable[v]*255 in float32: what to_y_channel returns for
// an image that is not 3-plane.
var yTable = func() (t [256]float32) {
	for v := range t {
		t[v] = unitTable[v] * 255
	}
	return t
}()

// lumaBT601 returns the Y plane of MATLAB's rgb2ycbcr with the roundings
// of BasicSR's to_y_channel (bgr2ycbcr on a float32 image in [0, 1]): the
// dot product and offset in float64, the division by 255 rounded to
// float32, then the float32 product by 255.
func lumaBT601(r, g, b []uint8) []float64 {
	out := make([]float64, len(r))
	g, b = g[:len(r)], b[:len(r)]
	parallel.For(len(r), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			// Sum in the order of BasicSR's BGR dot product.
			y := float64(unitTable[b[i]])*24.966 + float64(unitTable[g[i]])*128.553
			y += float64(unitTable[r[i]]) * 65.481
			y += 16
			y32 := float32(y / 255)
			out[i] = float64(y32 * 255)
		}
	})
	return out
}

// SSIM constants (Wang et al. 2004, as BasicSR on the 0-255 scale).
const (
	ssimWin   = 11
	ssimSigma = 1.5
	ssimC1    = (0.01 * 255) * (0.01 * 255)
	ssimC2    = (0.03 * 255) * (0.03 * 255)
	ssimBand  = 32 // output rows per work item
)

// gaussWindow is cv2.getGaussianKernel(11, 1.5): exp(-x²/(2σ²)) for
// x = -5..5, normalised to sum 1, in float64.
var gaussWindow = func() (k [ssimWin]float64) {
	sum := 0.0
	for i := range k {
		x := float64(i) - (ssimWin-1)/2.0
		k[i] = math.Exp(-x * x / (2 * ssimSigma * ssimSigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}()

// ssimPlane returns the mean of the SSIM map of one h x w plane pair over
// the valid region. Bands of output rows are filtered independently
// (horizontal pass into a band buffer, then vertical pass); their sums are
// added in band order, so the result does not depend on the worker count.
func ssimPlane(x, y []float64, h, w int) float64 {
	ho, wo := h-ssimWin+1, w-ssimWin+1
	bands := (ho + ssimBand - 1) / ssimBand
	sums := make([]float64, bands)
	parallel.For(bands, 1, func(lo, hi int) {
		// Five horizontally filtered signals: x, y, x², y², xy.
		buf := make([]float64, 5*(ssimBand+ssimWin-1)*wo)
		acc := make([]float64, 5*wo)
		for band := lo; band < hi; band++ {
			y0 := band * ssimBand
			rows := min(ssimBand, ho-y0) + ssimWin - 1
			for r := 0; r < rows; r++ {
				ssimRowPass(buf, r, rows, wo, x[(y0+r)*w:(y0+r+1)*w], y[(y0+r)*w:(y0+r+1)*w])
			}
			sums[band] = ssimColPass(buf, acc, rows, wo)
		}
	})
	total := 0.0
	for _, s := range sums {
		total += s
	}
	return total / float64(ho*wo)
}

// ssimRowPass filters row r of the band horizontally; buf holds five planes
// of rows x wo values.
func ssimRowPass(buf []float64, r, rows, wo int, xr, yr []float64) {
	n := rows * wo
	mx := buf[0*n+r*wo : 0*n+(r+1)*wo]
	my := buf[1*n+r*wo : 1*n+(r+1)*wo]
	mxx := buf[2*n+r*wo : 2*n+(r+1)*wo]
	myy := buf[3*n+r*wo : 3*n+(r+1)*wo]
	mxy := buf[4*n+r*wo : 4*n+(r+1)*wo]
	k := &gaussWindow
	for i := range mx {
		xs := xr[i : i+ssimWin]
		ys := yr[i : i+ssimWin]
		var a, b, aa, bb, ab float64
		for j, kj := range k {
			u, v := xs[j], ys[j]
			a += kj * u
			b += kj * v
			aa += kj * (u * u)
			bb += kj * (v * v)
			ab += kj * (u * v)
		}
		mx[i], my[i], mxx[i], myy[i], mxy[i] = a, b, aa, bb, ab
	}
}

// ssimColPass filters the band vertically and returns the sum of the SSIM
// map over its rows-10 output rows. acc holds five rows of wo values.
func ssimColPass(buf, acc []float64, rows, wo int) float64 {
	n := rows * wo
	k := &gaussWindow
	a, b := acc[0*wo:1*wo], acc[1*wo:2*wo]
	aa, bb, ab := acc[2*wo:3*wo], acc[3*wo:4*wo], acc[4*wo:5*wo]
	total := 0.0
	for oy := 0; oy+ssimWin <= rows; oy++ {
		clear(acc)
		for j, kj := range k {
			o := (oy + j) * wo
			ssimAxpy(a, buf[o:o+wo], kj)
			ssimAxpy(b, buf[n+o:n+o+wo], kj)
			ssimAxpy(aa, buf[2*n+o:2*n+o+wo], kj)
			ssimAxpy(bb, buf[3*n+o:3*n+o+wo], kj)
			ssimAxpy(ab, buf[4*n+o:4*n+o+wo], kj)
		}
		for i := range a {
			total += ssimIndex(a[i], b[i], aa[i], bb[i], ab[i])
		}
	}
	return total
}

// ssimAxpy adds k*x into y.
func ssimAxpy(y, x []float64, k float64) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += k * v
	}
}

// ssimIndex is BasicSR's SSIM map value from the filtered moments.
func ssimIndex(mx, my, mxx, myy, mxy float64) float64 {
	mx2, my2, mxmy := mx*mx, my*my, mx*my
	sx := mxx - mx2
	sy := myy - my2
	sxy := mxy - mxmy
	return ((2*mxmy + ssimC1) * (2*sxy + ssimC2)) / ((mx2 + my2 + ssimC1) * (sx + sy + ssimC2))
}
