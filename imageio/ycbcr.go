package imageio

import (
	"image"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// yccStyle selects how YCbCr samples become RGB.
type yccStyle int

const (
	// jpegStyle is libjpeg-turbo's default decoding: full-range JFIF
	// YCbCr, "fancy" triangle-filter chroma upsampling (jdsample.c) and the
	// integer tables of jdcolor.c.
	jpegStyle yccStyle = iota
	// webpStyle is libwebp's: limited-range BT.601, the fancy upsampler of
	// dsp/upsampling.c with the row pairing of dec/io_dec.c, and the
	// 14-bit fixed point of dsp/yuv.h.
	webpStyle
)

// libjpeg-turbo's YCbCr to RGB tables (build_ycc_rgb_table): 16-bit fixed
// point, with the rounding half folded into jpegCbG.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG = func() (crR, cbB, crG, cbG [256]int32) {
	fix := func(f float64) int32 { return int32(f*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbB[i] = (fix(1.77200)*x + 1<<15) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + 1<<15
	}
	return
}()

func clamp255(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// libwebp's VP8YUVToR/G/B.
func webpMultHi(v, c int) int { return (v * c) >> 8 }

func webpClip8(v int) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func webpRGB(y, u, v uint8) (r, g, b uint8) {
	yy := webpMultHi(int(y), 19077)
	r = webpClip8(yy + webpMultHi(int(v), 26149) - 14234)
	g = webpClip8(yy - webpMultHi(int(u), 6419) - webpMultHi(int(v), 13320) + 8708)
	b = webpClip8(yy + webpMultHi(int(u), 33050) - 17685)
	return
}

// subsampling returns the horizontal and vertical chroma subsampling factors.
func subsampling(r image.YCbCrSubsampleRatio) (hs, vs int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// fromYCbCr converts m into out (3 planes of m's size) in the given style.
func fromYCbCr(out *raster.Image, m *image.YCbCr, style yccStyle) {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	hs, vs := subsampling(m.SubsampleRatio)
	// The filters assume the chroma grid starts with the rectangle; a
	// sub-image cut inside a chroma cell, or WebP with a ratio other than
	// 4:2:0 (which VP8 never produces), is sampled nearest instead.
	if b.Min.X%hs != 0 || b.Min.Y%vs != 0 || style == webpStyle && (hs != 2 || vs != 2) {
		fromYCbCrNearest(out, m, style)
		return
	}
	yp := m.Y[m.YOffset(b.Min.X, b.Min.Y):]
	cbp := m.Cb[m.COffset(b.Min.X, b.Min.Y):]
	crp := m.Cr[m.COffset(b.Min.X, b.Min.Y):]
	ys, cs := m.YStride, m.CStride
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	R, G, B := planes(out)
	parallel.For(h, rowGrain(w), func(y0, y1 int) {
		cbRow := make([]uint8, cw*hs)
		crRow := make([]uint8, cw*hs)
		colsum := make([]int32, cw)
		for y := y0; y < y1; y++ {
			yrow := yp[y*ys : y*ys+w]
			r, g, bl := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			if style == webpStyle {
				webpChroma(cbRow, cbp, cs, ch, w, y)
				webpChroma(crRow, crp, cs, ch, w, y)
				cb, cr := cbRow[:w], crRow[:w]
				for x, yy := range yrow {
					rr, gg, bb := webpRGB(yy, cb[x], cr[x])
					r[x], g[x], bl[x] = lut8[rr], lut8[gg], lut8[bb]
				}
				continue
			}
			jpegChroma(cbRow, cbp, cs, cw, ch, hs, vs, y, colsum)
			jpegChroma(crRow, crp, cs, cw, ch, hs, vs, y, colsum)
			cb, cr := cbRow[:w], crRow[:w]
			for x, yy := range yrow {
				yi := int32(yy)
				cbx, crx := cb[x], cr[x]
				r[x] = lut8[clamp255(yi+jpegCrR[crx])]
				g[x] = lut8[clamp255(yi+(jpegCbG[cbx]+jpegCrG[crx])>>16)]
				bl[x] = lut8[clamp255(yi+jpegCbB[cbx])]
			}
		}
	})
}

// jpegChroma writes the chroma of output row y, upsampled from plane p
// (cw x ch samples, stride cs), to dst[:cw*hs], choosing the method as
// libjpeg-turbo's jinit_upsampler does with do_fancy_upsampling on.
func jpegChroma(dst, p []uint8, cs, cw, ch, hs, vs, y int, colsum []int32) {
	row := func(i int) []uint8 {
		i = min(max(i, 0), ch-1) // context rows replicate the edges
		return p[i*cs : i*cs+cw]
	}
	// far is the next-nearest chroma row: above for the upper output row
	// of a pair, below for the lower.
	near := y / vs
	far := near + 1
	if y%2 == 0 {
		far = near - 1
	}
	switch {
	case hs == 1 && vs == 1:
		copy(dst, row(y))
	case hs == 2 && vs == 1 && cw > 2:
		h2v1Fancy(dst, row(y))
	case hs == 2 && vs == 2 && cw > 2:
		rn, rf := row(near), row(far)
		sums := colsum[:cw]
		for i := range sums {
			sums[i] = 3*int32(rn[i]) + int32(rf[i])
		}
		h2v2Fancy(dst, sums)
	case hs == 1 && vs == 2:
		rn, rf := row(near), row(far)
		bias := 1 + y%2
		for i := range rn {
			dst[i] = uint8((3*int(rn[i]) + int(rf[i]) + bias) >> 2)
		}
	default:
		// Plain replication: libjpeg's h2v1/h2v2 box upsamplers for
		// chroma at most two samples wide, and int_upsample for 4:1:1.
		src := row(near)
		for x := range dst {
			dst[x] = src[x/hs]
		}
	}
}

// h2v1Fancy is libjpeg-turbo's h2v1_fancy_upsample: each output sample is
// 3/4 of the nearer input plus 1/4 of the further one. len(in) > 2.
func h2v1Fancy(dst, in []uint8) {
	n := len(in)
	dst = dst[:2*n]
	dst[0] = in[0]
	dst[1] = uint8((3*int(in[0]) + int(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := 3 * int(in[i])
		dst[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
		dst[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
	}
	dst[2*n-2] = uint8((3*int(in[n-1]) + int(in[n-2]) + 1) >> 2)
	dst[2*n-1] = in[n-1]
}

// h2v2Fancy is the horizontal pass of libjpeg-turbo's h2v2_fancy_upsample
// over column sums 3*nearer + further row. len(cs) > 2.
func h2v2Fancy(dst []uint8, cs []int32) {
	n := len(cs)
	dst = dst[:2*n]
	dst[0] = uint8((4*cs[0] + 8) >> 4)
	dst[1] = uint8((3*cs[0] + cs[1] + 7) >> 4)
	for i := 1; i < n-1; i++ {
		v := 3 * cs[i]
		dst[2*i] = uint8((v + cs[i-1] + 8) >> 4)
		dst[2*i+1] = uint8((v + cs[i+1] + 7) >> 4)
	}
	dst[2*n-2] = uint8((3*cs[n-1] + cs[n-2] + 8) >> 4)
	dst[2*n-1] = uint8((4*cs[n-1] + 7) >> 4)
}

// webpChroma writes the chroma of output row y, upsampled from a 4:2:0
// plane p (ch rows, stride cs) to dst[:w], as libwebp's EmitFancyRGB
// does: row 0 alone, then pairs (2k-1, 2k) between chroma rows k-1 and k,
// and for an even height the last row alone.
func webpChroma(dst, p []uint8, cs, ch, w, y int) {
	cw := (w + 1) / 2
	row := func(i int) []uint8 { return p[i*cs : i*cs+cw] }
	switch {
	case y == 0:
		webpUpsampleLine(dst, row(0), row(0), w, true)
	case y%2 == 1:
		k := (y + 1) / 2
		webpUpsampleLine(dst, row(k-1), row(min(k, ch-1)), w, true)
	default:
		k := y / 2
		webpUpsampleLine(dst, row(k-1), row(k), w, false)
	}
}

// webpUpsampleLine is one channel of libwebp's UpsampleRgbLinePair: the
// row nearer to top (upper=true) or to cur of the pair, weights 9/16,
// 3/16, 3/16, 1/16 with libwebp's two-step rounding.
func webpUpsampleLine(dst, top, cur []uint8, w int, upper bool) {
	dst = dst[:w]
	tl, l := int(top[0]), int(cur[0])
	if upper {
		dst[0] = uint8((3*tl + l + 2) >> 2)
	} else {
		dst[0] = uint8((3*l + tl + 2) >> 2)
	}
	for x := 1; x <= (w-1)>>1; x++ {
		t, c := int(top[x]), int(cur[x])
		avg := tl + t + l + c + 8
		d12 := (avg + 2*(t+l)) >> 3
		d03 := (avg + 2*(tl+c)) >> 3
		if upper {
			dst[2*x-1] = uint8((d12 + tl) >> 1)
			dst[2*x] = uint8((d03 + t) >> 1)
		} else {
			dst[2*x-1] = uint8((d03 + l) >> 1)
			dst[2*x] = uint8((d12 + c) >> 1)
		}
		tl, l = t, c
	}
	if w%2 == 0 {
		if upper {
			dst[w-1] = uint8((3*tl + l + 2) >> 2)
		} else {
			dst[w-1] = uint8((3*l + tl + 2) >> 2)
		}
	}
}

// fromYCbCrNearest samples the chroma of each pixel's own cell.
func fromYCbCrNearest(out *raster.Image, m *image.YCbCr, style yccStyle) {
	b := m.Rect
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			r, g, bl := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x := range r {
				px, py := b.Min.X+x, b.Min.Y+y
				yy := m.Y[m.YOffset(px, py)]
				ci := m.COffset(px, py)
				cb, cr := m.Cb[ci], m.Cr[ci]
				var rr, gg, bb uint8
				if style == webpStyle {
					rr, gg, bb = webpRGB(yy, cb, cr)
				} else {
					yi := int32(yy)
					rr = clamp255(yi + jpegCrR[cr])
					gg = clamp255(yi + (jpegCbG[cb]+jpegCrG[cr])>>16)
					bb = clamp255(yi + jpegCbB[cb])
				}
				r[x], g[x], bl[x] = lut8[rr], lut8[gg], lut8[bb]
			}
		}
	})
}
