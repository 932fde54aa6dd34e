package imageio

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// DefaultJPEGQuality is the quality Save uses when SaveOptions.JPEGQuality
// is zero; it is cv2.imwrite's default.
const DefaultJPEGQuality = 95

// SaveOptions controls encoding.
type SaveOptions struct {
	// Bits16 writes 16 bits per sample. Only PNG supports it.
	Bits16 bool
	// JPEGQuality is the JPEG quality, 1 to 100; zero means
	// DefaultJPEGQuality.
	JPEGQuality int
}

// quantize maps v to an integer in [0, scale] like BasicSR's tensor2img:
// clamp to [0, 1], multiply in float32, round half to even (numpy's round).
// NaN maps to 0.
func quantize(v, scale float32) uint32 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return uint32(scale)
	}
	return uint32(math.RoundToEven(float64(v * scale)))
}

// ToImage converts m to an image for encoding: an opaque *image.RGBA (bits
// 8) or *image.RGBA64 (bits 16) for 3 planes, *image.Gray or *image.Gray16
// for 1 plane. Values are clamped to [0, 1] and rounded half to even at the
// 255 or 65535 scale. It panics if bits is not 8 or 16 or m has another
// number of planes.
func ToImage(m *raster.Image, bits int) image.Image {
	if bits != 8 && bits != 16 {
		panic(fmt.Sprintf("imageio.ToImage: bits %d, want 8 or 16", bits))
	}
	if m.C != 1 && m.C != 3 {
		panic(fmt.Sprintf("imageio.ToImage: %d planes, want 1 or 3", m.C))
	}
	w, h := m.W, m.H
	rect := image.Rect(0, 0, w, h)
	n := w * h
	switch {
	case m.C == 1 && bits == 8:
		img := image.NewGray(rect)
		src := m.Pix[:n]
		parallel.For(n, 1<<16, func(lo, hi int) {
			for i, v := range src[lo:hi] {
				img.Pix[lo+i] = uint8(quantize(v, 255))
			}
		})
		return img
	case m.C == 1:
		img := image.NewGray16(rect)
		src := m.Pix[:n]
		parallel.For(n, 1<<16, func(lo, hi int) {
			dst := img.Pix[2*lo : 2*hi]
			for i, v := range src[lo:hi] {
				q := quantize(v, 65535)
				dst[2*i], dst[2*i+1] = uint8(q>>8), uint8(q)
			}
		})
		return img
	case bits == 8:
		img := image.NewRGBA(rect)
		R, G, B := m.Pix[:n], m.Pix[n:2*n], m.Pix[2*n:3*n]
		parallel.For(n, 1<<16, func(lo, hi int) {
			dst := img.Pix[4*lo : 4*hi]
			for i := range hi - lo {
				d := dst[4*i : 4*i+4 : 4*i+4]
				d[0] = uint8(quantize(R[lo+i], 255))
				d[1] = uint8(quantize(G[lo+i], 255))
				d[2] = uint8(quantize(B[lo+i], 255))
				d[3] = 0xff
			}
		})
		return img
	default:
		img := image.NewRGBA64(rect)
		R, G, B := m.Pix[:n], m.Pix[n:2*n], m.Pix[2*n:3*n]
		parallel.For(n, 1<<16, func(lo, hi int) {
			dst := img.Pix[8*lo : 8*hi]
			for i := range hi - lo {
				d := dst[8*i : 8*i+8 : 8*i+8]
				r, g, b := quantize(R[lo+i], 65535), quantize(G[lo+i], 65535), quantize(B[lo+i], 65535)
				d[0], d[1] = uint8(r>>8), uint8(r)
				d[2], d[3] = uint8(g>>8), uint8(g)
				d[4], d[5] = uint8(b>>8), uint8(b)
				d[6], d[7] = 0xff, 0xff
			}
		})
		return img
	}
}

// ToUint8 returns m as interleaved 8-bit samples, height x width x planes
// (HWC, the layout of BasicSR's tensor2img output but in RGB order),
// quantised like ToImage.
func ToUint8(m *raster.Image) []uint8 {
	c, n := m.C, m.H*m.W
	out := make([]uint8, c*n)
	parallel.For(n, 1<<16, func(lo, hi int) {
		for k := range c {
			src := m.Pix[k*n : (k+1)*n]
			for i := lo; i < hi; i++ {
				out[i*c+k] = uint8(quantize(src[i], 255))
			}
		}
	})
	return out
}

// formatForPath returns the output format for the extension of path.
func formatForPath(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".jpg", ".jpeg":
		return "jpeg", nil
	}
	return "", fmt.Errorf("%w output format %q: use .png, .jpg or .jpeg", ErrUnsupported, filepath.Ext(path))
}

// Encode writes m to w as format "png" or "jpeg" (also "jpg").
func Encode(w io.Writer, m *raster.Image, format string, opt SaveOptions) error {
	img, err := prepare(m, format, opt)
	if err != nil {
		return err
	}
	return encode(w, img, format, opt)
}

// prepare validates the options for format and converts m.
func prepare(m *raster.Image, format string, opt SaveOptions) (image.Image, error) {
	switch format {
	case "png":
	case "jpeg", "jpg":
		if opt.Bits16 {
			return nil, fmt.Errorf("%w: JPEG holds 8 bits per sample; save as .png for 16 bits", ErrUnsupported)
		}
		if opt.JPEGQuality < 0 || opt.JPEGQuality > 100 {
			return nil, fmt.Errorf("JPEG quality %d outside 1..100", opt.JPEGQuality)
		}
	default:
		return nil, fmt.Errorf("%w output format %q: use png or jpeg", ErrUnsupported, format)
	}
	bits := 8
	if opt.Bits16 {
		bits = 16
	}
	return ToImage(m, bits), nil
}

func encode(w io.Writer, img image.Image, format string, opt SaveOptions) error {
	if format == "png" {
		// Fast deflate, as cv2.imwrite's default PNG compression (level 1):
		// training data is written once and read many times, and the
		// files are only about 10% larger than at the default level.
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		return enc.Encode(w, img)
	}
	q := opt.JPEGQuality
	if q == 0 {
		q = DefaultJPEGQuality
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: q})
}

// Save writes m to path as PNG or JPEG by its extension (.png, .jpg,
// .jpeg, any case), creating the parent folders. The file appears
// atomically: the data goes to a hidden temporary file in the same folder
// (".name.tmp-*", which Find skips), is synced, and is renamed to path, so
// no partial file ever has the final name. New files get mode 0644.
func Save(path string, m *raster.Image, opt SaveOptions) (err error) {
	fail := func(e error) error { return &FileError{Op: "save", Path: path, Err: osReason(e)} }
	format, err := formatForPath(path)
	if err != nil {
		return fail(err)
	}
	img, err := prepare(m, format, opt)
	if err != nil {
		return fail(err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return fail(errors.Unwrap(err))
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := encode(bw, img, format, opt); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Commit(); err != nil {
		return fail(errors.Unwrap(err))
	}
	return nil
}
