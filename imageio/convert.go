package imageio

import (
	"fmt"
	"image"
	"image/color"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// lut8 maps an 8-bit sample to float32(v)/255, the float32 division numpy
// does for img.astype(np.float32) / 255.
var lut8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// to16 maps a 16-bit sample to float32(v)/65535.
func to16(hi, lo uint8) float32 { return float32(uint16(hi)<<8|uint16(lo)) / 65535 }

// rowGrain is the number of rows per parallel chunk for images w wide: about
// 64K pixels, enough to amortise scheduling.
func rowGrain(w int) int { return max(1, (1<<16)/max(w, 1)) }

// FromImage converts img to a 3-plane RGB raster in [0, 1] by the rules in
// the package documentation: alpha is dropped keeping the stored colour
// samples, gray gives three equal planes, 16-bit samples keep their
// precision, *image.YCbCr is converted as libjpeg-turbo does for JPEG and
// *image.CMYK as OpenCV does. It panics if img is empty.
func FromImage(img image.Image) *raster.Image {
	b := img.Bounds()
	if b.Empty() {
		panic(fmt.Sprintf("imageio.FromImage: empty image %v", b))
	}
	out := raster.New(3, b.Dy(), b.Dx())
	switch m := img.(type) {
	case *image.RGBA:
		from8x4(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.NRGBA:
		from8x4(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.RGBA64:
		from16x4(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.NRGBA64:
		from16x4(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.Gray:
		fromGray8(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.Gray16:
		fromGray16(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.Paletted:
		fromPaletted(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, m.Palette)
	case *image.CMYK:
		fromCMYK(out, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride)
	case *image.YCbCr:
		fromYCbCr(out, m, jpegStyle)
	case *image.NYCbCrA:
		fromYCbCr(out, &m.YCbCr, jpegStyle)
	default:
		fromGeneric(out, img)
	}
	return out
}

// convert is FromImage with the format-specific rules: lossy WebP stores
// limited-range YCbCr, which Go's image.YCbCr cannot express.
func convert(format string, img image.Image) *raster.Image {
	if format == "webp" {
		var m *image.YCbCr
		switch t := img.(type) {
		case *image.YCbCr:
			m = t
		case *image.NYCbCrA:
			m = &t.YCbCr
		}
		if m != nil {
			b := m.Rect
			out := raster.New(3, b.Dy(), b.Dx())
			fromYCbCr(out, m, webpStyle)
			return out
		}
	}
	return FromImage(img)
}

// planes returns the three planes of out.
func planes(out *raster.Image) (r, g, b []float32) {
	n := out.H * out.W
	return out.Pix[:n], out.Pix[n : 2*n], out.Pix[2*n : 3*n]
}

// from8x4 converts interleaved 4-byte pixels (RGBA or NRGBA), ignoring the
// fourth byte. pix starts at the first pixel.
func from8x4(out *raster.Image, pix []uint8, stride int) {
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+4*w]
			r, g, b := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x := range r {
				s := src[4*x : 4*x+3 : 4*x+3]
				r[x], g[x], b[x] = lut8[s[0]], lut8[s[1]], lut8[s[2]]
			}
		}
	})
}

// from16x4 converts interleaved big-endian 16-bit RGBA or NRGBA pixels.
func from16x4(out *raster.Image, pix []uint8, stride int) {
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+8*w]
			r, g, b := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x := range r {
				s := src[8*x : 8*x+6 : 8*x+6]
				r[x], g[x], b[x] = to16(s[0], s[1]), to16(s[2], s[3]), to16(s[4], s[5])
			}
		}
	})
}

func fromGray8(out *raster.Image, pix []uint8, stride int) {
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+w]
			r := R[y*w : (y+1)*w]
			for x, v := range src {
				r[x] = lut8[v]
			}
			copy(G[y*w:(y+1)*w], r)
			copy(B[y*w:(y+1)*w], r)
		}
	})
}

func fromGray16(out *raster.Image, pix []uint8, stride int) {
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+2*w]
			r := R[y*w : (y+1)*w]
			for x := range r {
				r[x] = to16(src[2*x], src[2*x+1])
			}
			copy(G[y*w:(y+1)*w], r)
			copy(B[y*w:(y+1)*w], r)
		}
	})
}

// fromPaletted looks each index up in a table of the palette's stored
// colours. Indices past the end of the palette give black.
func fromPaletted(out *raster.Image, pix []uint8, stride int, p color.Palette) {
	var tab [256][3]float32
	for i, c := range p {
		if i == len(tab) {
			break
		}
		tab[i] = storedRGB(c)
	}
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+w]
			r, g, b := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x, v := range src {
				t := &tab[v]
				r[x], g[x], b[x] = t[0], t[1], t[2]
			}
		}
	})
}

// storedRGB returns the colour samples of c as stored, without alpha: the
// 8-bit types exactly, anything else through NRGBA64 (un-premultiplied).
func storedRGB(c color.Color) [3]float32 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]float32{lut8[c.R], lut8[c.G], lut8[c.B]}
	case color.RGBA:
		return [3]float32{lut8[c.R], lut8[c.G], lut8[c.B]}
	case color.Gray:
		return [3]float32{lut8[c.Y], lut8[c.Y], lut8[c.Y]}
	case color.RGBA64:
		return [3]float32{float32(c.R) / 65535, float32(c.G) / 65535, float32(c.B) / 65535}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]float32{float32(n.R) / 65535, float32(n.G) / 65535, float32(n.B) / 65535}
}

// fromCMYK converts ink values (Go's image.CMYK, 0 = no ink; its JPEG
// decoder has already undone the Adobe inversion) with OpenCV's
// icvCvt_CMYK2BGR_8u_C4C3R, written there for the inverted samples libjpeg
// returns: R = k' - (((255-c')*k') >> 8) with c' = 255-C, k' = 255-K.
func fromCMYK(out *raster.Image, pix []uint8, stride int) {
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := pix[y*stride : y*stride+4*w]
			r, g, b := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x := range r {
				s := src[4*x : 4*x+4 : 4*x+4]
				k := 255 - int(s[3])
				r[x] = lut8[k-(int(s[0])*k>>8)]
				g[x] = lut8[k-(int(s[1])*k>>8)]
				b[x] = lut8[k-(int(s[2])*k>>8)]
			}
		}
	})
}

// fromGeneric handles any other image type through NRGBA64, which keeps
// 16-bit precision and un-premultiplies.
func fromGeneric(out *raster.Image, img image.Image) {
	b := img.Bounds()
	w := out.W
	R, G, B := planes(out)
	parallel.For(out.H, rowGrain(w), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			r, g, bl := R[y*w:(y+1)*w], G[y*w:(y+1)*w], B[y*w:(y+1)*w]
			for x := range r {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				r[x] = float32(c.R) / 65535
				g[x] = float32(c.G) / 65535
				bl[x] = float32(c.B) / 65535
			}
		}
	})
}
