package jpeg

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// Standard JPEG quantisation tables (ITU T.81 Annex K), row-major: row =
// vertical frequency.
var (
	lumaTable = [64]float32{
		16, 11, 10, 16, 24, 40, 51, 61,
		12, 12, 14, 19, 26, 58, 60, 55,
		14, 13, 16, 24, 40, 57, 69, 56,
		14, 17, 22, 29, 51, 87, 80, 62,
		18, 22, 37, 56, 68, 109, 103, 77,
		24, 35, 55, 64, 81, 104, 113, 92,
		49, 64, 78, 87, 103, 121, 120, 101,
		72, 92, 95, 98, 112, 100, 103, 99,
	}
	chromaTable = [64]float32{
		17, 18, 24, 47, 99, 99, 99, 99,
		18, 21, 26, 66, 99, 99, 99, 99,
		24, 26, 56, 99, 99, 99, 99, 99,
		47, 66, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
	}
)

// Tables returns the luminance and chrominance tables as DiffJPEG applies
// them, indexed [u*8+v] like the coefficients: the transposes of the
// standard tables (BasicSR builds them with np.array(...).T).
func Tables() (luma, chroma [64]float32) {
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			luma[u*8+v] = lumaTable[v*8+u]
			chroma[u*8+v] = chromaTable[v*8+u]
		}
	}
	return luma, chroma
}

// Factor returns the table scale of DiffJPEG for quality q: 50/q below 50,
// (200-2q)/100 otherwise, evaluated in float32 as BasicSR does when the
// quality is a float32 tensor (the path the Real-ESRGAN pipeline uses; with
// a Python number the factor is computed in float64 and may differ by one
// float32 ulp).
func Factor(quality float64) float32 {
	q := float32(quality)
	var f float32
	if q < 50 {
		f = 5000 / q
	} else {
		f = 200 - q*2
	}
	return f / 100
}

// Constants of the transforms, rounded to float32 as in BasicSR's modules,
// then widened: the arithmetic is done in float64, which reproduces the
// float32 reference to about 1e-6 and its integer coefficients exactly
// unless a value lies within float32 rounding of a .5 boundary.
var (
	// fdct[xy*64+uv] = scale[uv] * cos((2x+1)uπ/16) cos((2y+1)vπ/16).
	fdct [64 * 64]float64
	// idct[xy*64+uv] = 0.25 * alpha[xy] * cos((2u+1)xπ/16) cos((2v+1)yπ/16),
	// with xy the frequency and uv the pixel.
	idct [64 * 64]float64

	// RGB -> YCbCr rows (Y, Cb, Cr) and YCbCr -> RGB rows (R, G, B).
	toYCC = [3][3]float64{
		{f32(0.299), f32(0.587), f32(0.114)},
		{f32(-0.168736), f32(-0.331264), f32(0.5)},
		{f32(0.5), f32(-0.418688), f32(-0.081312)},
	}
	toRGB = [3][3]float64{
		{1, 0, f32(1.402)},
		{1, f32(-0.344136), f32(-0.714136)},
		{1, f32(1.772), 0},
	}
)

func f32(v float64) float64 { return float64(float32(v)) }

func init() {
	alpha := [8]float64{1 / math.Sqrt(2), 1, 1, 1, 1, 1, 1, 1}
	for x := 0; x < 8; x++ {
		for y := 0; y < 8; y++ {
			for u := 0; u < 8; u++ {
				for v := 0; v < 8; v++ {
					fwd := f32(math.Cos(float64((2*x+1)*u)*math.Pi/16) * math.Cos(float64((2*y+1)*v)*math.Pi/16))
					inv := f32(math.Cos(float64((2*u+1)*x)*math.Pi/16) * math.Cos(float64((2*v+1)*y)*math.Pi/16))
					scale := f32(alpha[u] * alpha[v] * 0.25)
					fdct[(x*8+y)*64+u*8+v] = scale * fwd
					idct[(x*8+y)*64+u*8+v] = 0.25 * f32(alpha[x]*alpha[y]) * inv
				}
			}
		}
	}
}

// Coefficients holds the quantised DCT coefficients of an image as DiffJPEG
// computes them (BasicSR compress_jpeg).
type Coefficients struct {
	// H and W are the size of the input image; the planes were zero padded
	// (in RGB) to multiples of 16 at the bottom and right.
	H, W int
	// Factor scales the quantisation tables (see Factor).
	Factor float32
	// Y holds the luma blocks of the padded image, Cb and Cr the blocks of
	// the 2x2-averaged chroma planes, each in raster order of blocks. Entry
	// u*8+v of a block is the coefficient of vertical frequency u and
	// horizontal frequency v divided by its table entry and rounded half to
	// even.
	Y, Cb, Cr [][64]int32
}

func padded(n int) int { return (n + 15) &^ 15 }

// Compress converts img (3 planes, RGB in [0, 1]) to quantised DCT
// coefficients at the given quality in (0, 100), as DiffJPEG's compression
// half: scale to 0-255, RGB to YCbCr, zero padding to a multiple of 16, 2x2
// average pooling of the chroma planes, 8x8 block DCT and quantisation by
// the transposed tables times Factor(quality).
func Compress(img *raster.Image, quality float64) *Coefficients {
	if img.C != 3 {
		panic(fmt.Sprintf("jpeg.Compress: image has %d planes, want 3", img.C))
	}
	if !(quality > 0 && quality < 100) {
		panic(fmt.Sprintf("jpeg.Compress: quality %g outside (0, 100)", quality))
	}
	h, w := img.H, img.W
	ph, pw := padded(h), padded(w)
	ch, cw := ph/2, pw/2

	// Luma at full size; chroma pooled over 2x2 cells.
	yp := make([]float64, ph*pw)
	cb := make([]float64, ch*cw)
	cr := make([]float64, ch*cw)
	n := h * w
	pixel := func(y, x int) (float64, float64, float64) {
		if y >= h || x >= w {
			return 0, 0, 0
		}
		i := y*w + x
		// image * 255 is a float32 product in the reference.
		return float64(img.Pix[i] * 255), float64(img.Pix[n+i] * 255), float64(img.Pix[2*n+i] * 255)
	}
	parallel.For(ch, 8, func(lo, hi int) {
		for cy := lo; cy < hi; cy++ {
			for cx := 0; cx < cw; cx++ {
				var sb, sr float64
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						y, x := 2*cy+dy, 2*cx+dx
						r, g, b := pixel(y, x)
						yp[y*pw+x] = toYCC[0][0]*r + toYCC[0][1]*g + toYCC[0][2]*b
						sb += toYCC[1][0]*r + toYCC[1][1]*g + toYCC[1][2]*b + 128
						sr += toYCC[2][0]*r + toYCC[2][1]*g + toYCC[2][2]*b + 128
					}
				}
				cb[cy*cw+cx] = sb / 4
				cr[cy*cw+cx] = sr / 4
			}
		}
	})

	f := Factor(quality)
	lt, ct := Tables()
	var lq, cq [64]float64
	for i := range lq {
		lq[i] = float64(lt[i] * f) // float32 product, as table * factor
		cq[i] = float64(ct[i] * f)
	}
	return &Coefficients{
		H: h, W: w, Factor: f,
		Y:  forwardPlane(yp, ph, pw, &lq),
		Cb: forwardPlane(cb, ch, cw, &cq),
		Cr: forwardPlane(cr, ch, cw, &cq),
	}
}

// forwardPlane splits a plane into 8x8 blocks and returns their quantised
// DCT coefficients.
func forwardPlane(p []float64, h, w int, table *[64]float64) [][64]int32 {
	bw := w / 8
	out := make([][64]int32, (h/8)*bw)
	parallel.For(len(out), 16, func(lo, hi int) {
		var blk [64]float64
		var acc [64]float64
		for b := lo; b < hi; b++ {
			by, bx := b/bw, b%bw
			for y := 0; y < 8; y++ {
				row := p[(by*8+y)*w+bx*8 : (by*8+y)*w+bx*8+8]
				for x, v := range row {
					blk[y*8+x] = v - 128
				}
			}
			acc = [64]float64{}
			// Four input values per pass: fewer loads and stores of acc.
			for xy := 0; xy < 64; xy += 4 {
				v0, v1, v2, v3 := blk[xy], blk[xy+1], blk[xy+2], blk[xy+3]
				m0 := (*[64]float64)(fdct[xy*64:])
				m1 := (*[64]float64)(fdct[xy*64+64:])
				m2 := (*[64]float64)(fdct[xy*64+128:])
				m3 := (*[64]float64)(fdct[xy*64+192:])
				for uv := range acc {
					acc[uv] += v0*m0[uv] + v1*m1[uv] + v2*m2[uv] + v3*m3[uv]
				}
			}
			q := &out[b]
			for uv, v := range acc {
				q[uv] = int32(math.RoundToEven(v / table[uv]))
			}
		}
	})
	return out
}

// inversePlane dequantises and inverse-transforms blocks into a plane of
// h x w values on the 0-255 scale.
func inversePlane(blocks [][64]int32, h, w int, table *[64]float64) []float64 {
	p := make([]float64, h*w)
	bw := w / 8
	parallel.For(len(blocks), 16, func(lo, hi int) {
		var acc [64]float64
		for b := lo; b < hi; b++ {
			acc = [64]float64{}
			for xy, q := range blocks[b] {
				if q == 0 { // most coefficients after quantisation
					continue
				}
				v := float64(q) * table[xy]
				m := (*[64]float64)(idct[xy*64 : xy*64+64])
				for uv := range acc {
					acc[uv] += v * m[uv]
				}
			}
			by, bx := b/bw, b%bw
			for y := 0; y < 8; y++ {
				row := p[(by*8+y)*w+bx*8 : (by*8+y)*w+bx*8+8]
				for x := range row {
					row[x] = acc[y*8+x] + 128
				}
			}
		}
	})
	return p
}

// Decompress reconstructs the image from its coefficients as DiffJPEG's
// decompression half: dequantisation, inverse DCT, nearest-neighbour chroma
// upsampling, YCbCr to RGB, cropping of the padding and clamping to
// [0, 255], divided by 255. The result is not quantised to 8 bits.
func (c *Coefficients) Decompress() *raster.Image {
	ph, pw := padded(c.H), padded(c.W)
	ch, cw := ph/2, pw/2
	if len(c.Y) != ph*pw/64 || len(c.Cb) != ch*cw/64 || len(c.Cr) != ch*cw/64 {
		panic(fmt.Sprintf("jpeg.Decompress: %d/%d/%d blocks do not fit a %dx%d image",
			len(c.Y), len(c.Cb), len(c.Cr), c.H, c.W))
	}
	lt, ct := Tables()
	var lq, cq [64]float64
	for i := range lq {
		lq[i] = float64(lt[i] * c.Factor)
		cq[i] = float64(ct[i] * c.Factor)
	}
	yp := inversePlane(c.Y, ph, pw, &lq)
	cb := inversePlane(c.Cb, ch, cw, &cq)
	cr := inversePlane(c.Cr, ch, cw, &cq)

	h, w := c.H, c.W
	out := raster.New(3, h, w)
	n := h * w
	parallel.For(h, 16, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			for x := 0; x < w; x++ {
				l := yp[y*pw+x]
				b := cb[(y/2)*cw+x/2] - 128
				r := cr[(y/2)*cw+x/2] - 128
				i := y*w + x
				out.Pix[i] = to01(l + toRGB[0][2]*r)
				out.Pix[n+i] = to01(l + toRGB[1][1]*b + toRGB[1][2]*r)
				out.Pix[2*n+i] = to01(l + toRGB[2][1]*b)
			}
		}
	})
	return out
}

// to01 clamps a 0-255 value to [0, 255] and scales it to [0, 1].
func to01(v float64) float32 {
	return float32(min(max(v, 0), 255)) / 255
}

// DiffJPEG returns BasicSR's DiffJPEG(differentiable=False) of img at the
// given quality in (0, 100): Compress followed by Decompress. img must have
// 3 planes (RGB in [0, 1]).
func DiffJPEG(img *raster.Image, quality float64) *raster.Image {
	return Compress(img, quality).Decompress()
}
