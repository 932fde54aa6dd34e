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

// Constants of the transforms. BasicSR multiplies by a float32 tensor of
// cosine products, T[x,y,u,v] = cos((2x+1)uπ/16)·cos((2y+1)vπ/16) rounded to
// float32, and by float32 scale factors; here the 2-D transforms run as two
// 1-D passes in float64 with the exact cosines, and the scale factors are
// the float32 ones. The cosine products then differ from the reference's
// by their float32 rounding (at most 6e-8 relative): on 8-bit blocks the
// DCT moves by at most 1.2e-5 (TestSeparableDCT), so a quantised
// coefficient (a step of at least 1 for quality <= 95) moves by less than
// a tenth of the fixtures' closest approach to a .5 boundary (1.5e-4), and
// pixels agree with the reference to about 2e-7.
var (
	// dctCos[x*8+u] = cos((2x+1)uπ/16).
	dctCos [64]float64
	// fwdScale[u*8+v] = float32(alpha[u]·alpha[v]/4), BasicSR's DCT scale.
	fwdScale [64]float64
	// invScale[u*8+v] = float32(alpha[u]·alpha[v]), BasicSR's IDCT alpha.
	invScale [64]float64

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
		for u := 0; u < 8; u++ {
			dctCos[x*8+u] = math.Cos(float64((2*x+1)*u) * math.Pi / 16)
		}
	}
	for u := 0; u < 8; u++ {
		for v := 0; v < 8; v++ {
			fwdScale[u*8+v] = f32(alpha[u] * alpha[v] * 0.25)
			invScale[u*8+v] = f32(alpha[u] * alpha[v])
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

// checkArgs panics unless img has 3 planes and quality is in (0, 100).
func checkArgs(op string, img *raster.Image, quality float64) {
	if img.C != 3 {
		panic(fmt.Sprintf("jpeg.%s: image has %d planes, want 3", op, img.C))
	}
	if !(quality > 0 && quality < 100) {
		panic(fmt.Sprintf("jpeg.%s: quality %g outside (0, 100)", op, quality))
	}
}

// quantTables returns the luma and chroma quantisation steps for factor f,
// each the float32 product table * factor as in the reference.
func quantTables(f float32) (luma, chroma *[64]float64) {
	lt, ct := Tables()
	luma, chroma = new([64]float64), new([64]float64)
	for i := range luma {
		luma[i] = float64(lt[i] * f)
		chroma[i] = float64(ct[i] * f)
	}
	return luma, chroma
}

// Compress converts img (3 planes, RGB in [0, 1]) to quantised DCT
// coefficients at the given quality in (0, 100), as DiffJPEG's compression
// half: scale to 0-255, RGB to YCbCr, zero padding to a multiple of 16, 2x2
// average pooling of the chroma planes, 8x8 block DCT and quantisation by
// the transposed tables times Factor(quality).
func Compress(img *raster.Image, quality float64) *Coefficients {
	checkArgs("Compress", img, quality)
	f := Factor(quality)
	lq, cq := quantTables(f)
	ph, pw := padded(img.H), padded(img.W)
	rows, cols := ph/16, pw/16
	c := &Coefficients{
		H: img.H, W: img.W, Factor: f,
		Y:  make([][64]int32, rows*cols*4),
		Cb: make([][64]int32, rows*cols),
		Cr: make([][64]int32, rows*cols),
	}
	bw := 2 * cols // luma blocks per row
	parallel.For(rows, 1, func(lo, hi int) {
		var m mcu
		for my := lo; my < hi; my++ {
			for mx := 0; mx < cols; mx++ {
				m.load(img, my, mx)
				for k := range m.y {
					forward(&m.y[k], lq, &c.Y[(2*my+k/2)*bw+2*mx+k%2])
				}
				forward(&m.cb, cq, &c.Cb[my*cols+mx])
				forward(&m.cr, cq, &c.Cr[my*cols+mx])
			}
		}
	})
	return c
}

// Decompress reconstructs the image from its coefficients as DiffJPEG's
// decompression half: dequantisation, inverse DCT, nearest-neighbour chroma
// upsampling, YCbCr to RGB, cropping of the padding and clamping to
// [0, 255], divided by 255. The result is not quantised to 8 bits.
func (c *Coefficients) Decompress() *raster.Image {
	ph, pw := padded(c.H), padded(c.W)
	rows, cols := ph/16, pw/16
	if len(c.Y) != 4*rows*cols || len(c.Cb) != rows*cols || len(c.Cr) != rows*cols {
		panic(fmt.Sprintf("jpeg.Decompress: %d/%d/%d blocks do not fit a %dx%d image",
			len(c.Y), len(c.Cb), len(c.Cr), c.H, c.W))
	}
	lq, cq := quantTables(c.Factor)
	out := raster.New(3, c.H, c.W)
	bw := 2 * cols
	parallel.For(rows, 1, func(lo, hi int) {
		var m mcu
		for my := lo; my < hi; my++ {
			for mx := 0; mx < cols; mx++ {
				for k := range m.y {
					inverse(&c.Y[(2*my+k/2)*bw+2*mx+k%2], lq, &m.y[k])
				}
				inverse(&c.Cb[my*cols+mx], cq, &m.cb)
				inverse(&c.Cr[my*cols+mx], cq, &m.cr)
				m.store(out, my, mx)
			}
		}
	})
	return out
}

// DiffJPEG returns BasicSR's DiffJPEG(differentiable=False) of img at the
// given quality in (0, 100): Compress followed by Decompress, computed one
// 16x16 macroblock at a time without storing the coefficients. img must
// have 3 planes (RGB in [0, 1]).
func DiffJPEG(img *raster.Image, quality float64) *raster.Image {
	checkArgs("DiffJPEG", img, quality)
	lq, cq := quantTables(Factor(quality))
	ph, pw := padded(img.H), padded(img.W)
	rows, cols := ph/16, pw/16
	out := raster.New(3, img.H, img.W)
	parallel.For(rows, 1, func(lo, hi int) {
		var m mcu
		var q [64]int32
		for my := lo; my < hi; my++ {
			for mx := 0; mx < cols; mx++ {
				m.load(img, my, mx)
				for k := range m.y {
					forward(&m.y[k], lq, &q)
					inverse(&q, lq, &m.y[k])
				}
				forward(&m.cb, cq, &q)
				inverse(&q, cq, &m.cb)
				forward(&m.cr, cq, &q)
				inverse(&q, cq, &m.cr)
				m.store(out, my, mx)
			}
		}
	})
	return out
}

// mcu is one 16x16 macroblock: its four luma blocks (top left, top right,
// bottom left, bottom right) and its two 2x2-pooled chroma blocks. After
// load they hold level-shifted values (minus 128); store reads pixel values
// on the 0-255 scale.
type mcu struct {
	y      [4][64]float64
	cb, cr [64]float64
}

// load fills m from macroblock (my, mx) of img, zero padded beyond its
// bottom and right edges, with BasicSR's arithmetic: the float32 products
// image * 255, the YCbCr rows in float64, chroma summed over each 2x2 cell
// (rows, then columns) and divided by 4.
func (m *mcu) load(img *raster.Image, my, mx int) {
	// The macroblock's R, G, B values on the 0-255 scale, zero in the
	// padding.
	var rgb [3][16][16]float64
	h, w := img.H, img.W
	n := h * w
	y0, x0 := 16*my, 16*mx
	cols := min(16, w-x0)
	for ly := 0; ly < 16 && y0+ly < h; ly++ {
		i := (y0+ly)*w + x0
		for c := range rgb {
			src := img.Pix[c*n+i : c*n+i+cols]
			dst := &rgb[c][ly]
			for lx, v := range src {
				dst[lx] = float64(v * 255)
			}
		}
	}
	y0r, y0g, y0b := toYCC[0][0], toYCC[0][1], toYCC[0][2]
	b0r, b0g, b0b := toYCC[1][0], toYCC[1][1], toYCC[1][2]
	c0r, c0g, c0b := toYCC[2][0], toYCC[2][1], toYCC[2][2]
	for cy := 0; cy < 8; cy++ {
		// Rows 2cy and 2cy+1 are rows 2(cy%4) and 2(cy%4)+1 of luma
		// blocks 2(cy/4) (left) and 2(cy/4)+1 (right).
		r0, r1 := &rgb[0][2*cy], &rgb[0][2*cy+1]
		g0, g1 := &rgb[1][2*cy], &rgb[1][2*cy+1]
		b0, b1 := &rgb[2][2*cy], &rgb[2][2*cy+1]
		top := (cy & 3) * 16
		for cx := 0; cx < 8; cx++ {
			blk := (*[16]float64)(m.y[(cy/4)*2+cx/4][top : top+16])
			lx, bx := 2*cx, 2*(cx&3)
			// The four pixels of the cell in the reference's order.
			rv, gv, bv := r0[lx], g0[lx], b0[lx]
			blk[bx] = y0r*rv + y0g*gv + y0b*bv - 128
			sb := b0r*rv + b0g*gv + b0b*bv + 128
			sr := c0r*rv + c0g*gv + c0b*bv + 128
			rv, gv, bv = r0[lx+1], g0[lx+1], b0[lx+1]
			blk[bx+1] = y0r*rv + y0g*gv + y0b*bv - 128
			sb += b0r*rv + b0g*gv + b0b*bv + 128
			sr += c0r*rv + c0g*gv + c0b*bv + 128
			rv, gv, bv = r1[lx], g1[lx], b1[lx]
			blk[8+bx] = y0r*rv + y0g*gv + y0b*bv - 128
			sb += b0r*rv + b0g*gv + b0b*bv + 128
			sr += c0r*rv + c0g*gv + c0b*bv + 128
			rv, gv, bv = r1[lx+1], g1[lx+1], b1[lx+1]
			blk[8+bx+1] = y0r*rv + y0g*gv + y0b*bv - 128
			sb += b0r*rv + b0g*gv + b0b*bv + 128
			sr += c0r*rv + c0g*gv + c0b*bv + 128
			m.cb[cy*8+cx] = sb/4 - 128
			m.cr[cy*8+cx] = sr/4 - 128
		}
	}
}

// store writes the pixels of macroblock (my, mx) that lie inside out:
// chroma repeated over each 2x2 cell, YCbCr to RGB, clamped and scaled to
// [0, 1].
func (m *mcu) store(out *raster.Image, my, mx int) {
	h, w := out.H, out.W
	n := h * w
	y0, x0 := 16*my, 16*mx
	cols := min(16, w-x0)
	kr, kgb, kgr, kb := toRGB[0][2], toRGB[1][1], toRGB[1][2], toRGB[2][1]
	for ly := 0; ly < 16 && y0+ly < h; ly++ {
		i := (y0+ly)*w + x0
		rr := out.Pix[i : i+cols]
		gg := out.Pix[n+i : n+i+cols]
		bb := out.Pix[2*n+i : 2*n+i+cols]
		lrow := (*[8]float64)(m.y[(ly/8)*2][(ly%8)*8:])
		rrow := (*[8]float64)(m.y[(ly/8)*2+1][(ly%8)*8:])
		cbrow := (*[8]float64)(m.cb[(ly/2)*8:])
		crrow := (*[8]float64)(m.cr[(ly/2)*8:])
		for lx := range rr {
			var l float64
			if lx < 8 {
				l = lrow[lx]
			} else {
				l = rrow[lx-8]
			}
			cb, cr := cbrow[lx/2]-128, crrow[lx/2]-128
			rr[lx] = to01(l + kr*cr)
			gg[lx] = to01(l + kgb*cb + kgr*cr)
			bb[lx] = to01(l + kb*cb)
		}
	}
}

// to01 clamps a 0-255 value to [0, 255] and scales it to [0, 1], like
// torch.clamp (NaN stays NaN, -0 becomes 0).
func to01(v float64) float32 {
	if v <= 0 {
		v = 0
	} else if v > 255 {
		v = 255
	}
	return float32(v) / 255
}

// forward sets q to the quantised DCT coefficients of the level-shifted
// block blk: the scaled DCT divided by the steps of table, rounded half to
// even. It overwrites blk.
func forward(blk, table *[64]float64, q *[64]int32) {
	var tmp [64]float64
	// Along each row (horizontal frequency v), then along each column
	// (vertical frequency u).
	for y := 0; y < 8; y++ {
		dctRow((*[8]float64)(tmp[y*8:y*8+8]), (*[8]float64)(blk[y*8:y*8+8]))
	}
	dctCols(blk, &tmp)
	for uv, v := range blk {
		q[uv] = int32(math.RoundToEven(fwdScale[uv] * v / table[uv]))
	}
}

// inverse sets pix to the pixel values (0-255 scale) of the quantised
// coefficients q: dequantised by table, scaled by BasicSR's alpha, inverse
// transformed, times 0.25, plus 128.
func inverse(q *[64]int32, table, pix *[64]float64) {
	var coef, tmp [64]float64
	// Most rows of a quantised block are zero, and so are their inverse
	// transforms.
	var rows uint
	for uv, v := range q {
		if v != 0 {
			coef[uv] = float64(v) * table[uv] * invScale[uv]
			rows |= 1 << (uv / 8)
		}
	}
	for u := 0; u < 8; u++ {
		if rows&(1<<u) != 0 {
			idctRow((*[8]float64)(tmp[u*8:u*8+8]), (*[8]float64)(coef[u*8:u*8+8]))
		}
	}
	idctCols(pix, &tmp)
	for i, v := range pix {
		pix[i] = 0.25*v + 128
	}
}

// The 1-D transforms use cos((2(7-x)+1)kπ/16) = (-1)^k cos((2x+1)kπ/16):
// even frequencies come from sums of mirrored samples, odd ones from their
// differences, 32 multiply-adds instead of 64 per transform.

// dctRow sets out[k] = Σ_x in[x]·cos((2x+1)kπ/16).
func dctRow(out, in *[8]float64) {
	e0, o0 := in[0]+in[7], in[0]-in[7]
	e1, o1 := in[1]+in[6], in[1]-in[6]
	e2, o2 := in[2]+in[5], in[2]-in[5]
	e3, o3 := in[3]+in[4], in[3]-in[4]
	c := &dctCos
	for k := 0; k < 8; k += 2 {
		out[k] = e0*c[k] + e1*c[8+k] + e2*c[16+k] + e3*c[24+k]
		out[k+1] = o0*c[k+1] + o1*c[9+k] + o2*c[17+k] + o3*c[25+k]
	}
}

// dctCols applies dctRow down each column of in, into out.
func dctCols(out, in *[64]float64) {
	c := &dctCos
	for v := 0; v < 8; v++ {
		e0, o0 := in[v]+in[56+v], in[v]-in[56+v]
		e1, o1 := in[8+v]+in[48+v], in[8+v]-in[48+v]
		e2, o2 := in[16+v]+in[40+v], in[16+v]-in[40+v]
		e3, o3 := in[24+v]+in[32+v], in[24+v]-in[32+v]
		for k := 0; k < 8; k += 2 {
			out[k*8+v] = e0*c[k] + e1*c[8+k] + e2*c[16+k] + e3*c[24+k]
			out[k*8+8+v] = o0*c[k+1] + o1*c[9+k] + o2*c[17+k] + o3*c[25+k]
		}
	}
}

// idctRow sets out[x] = Σ_k in[k]·cos((2x+1)kπ/16).
func idctRow(out, in *[8]float64) {
	c := &dctCos
	for x := 0; x < 4; x++ {
		ev := in[0]*c[x*8] + in[2]*c[x*8+2] + in[4]*c[x*8+4] + in[6]*c[x*8+6]
		od := in[1]*c[x*8+1] + in[3]*c[x*8+3] + in[5]*c[x*8+5] + in[7]*c[x*8+7]
		out[x], out[7-x] = ev+od, ev-od
	}
}

// idctCols applies idctRow down each column of in, into out.
func idctCols(out, in *[64]float64) {
	c := &dctCos
	for j := 0; j < 8; j++ {
		for x := 0; x < 4; x++ {
			ev := in[j]*c[x*8] + in[16+j]*c[x*8+2] + in[32+j]*c[x*8+4] + in[48+j]*c[x*8+6]
			od := in[8+j]*c[x*8+1] + in[24+j]*c[x*8+3] + in[40+j]*c[x*8+5] + in[56+j]*c[x*8+7]
			out[x*8+j], out[(7-x)*8+j] = ev+od, ev-od
		}
	}
}
