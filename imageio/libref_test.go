package imageio

import (
	"bufio"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/webp"

	"github.com/degradiff/degradiff/raster"
)

// The files in testdata/libref are small synthetic JPEG and WebP images and
// what libjpeg-turbo 2.1.5 and libwebp 1.2.4, the decoders behind
// cv2.imread, make of them (see testdata/libref/gen.c).

// readPNM reads a binary PGM (P5) or PPM (P6) file with maxval 255.
func readPNM(t *testing.T, path string) (w, h, c int, pix []uint8) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var magic string
	var maxval int
	if _, err := fmt.Fscan(br, &magic, &w, &h, &maxval); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := br.ReadByte(); err != nil { // the single whitespace after maxval
		t.Fatal(err)
	}
	switch magic {
	case "P5":
		c = 1
	case "P6":
		c = 3
	default:
		t.Fatalf("%s: not a binary PNM", path)
	}
	pix = make([]uint8, w*h*c)
	if _, err := io.ReadFull(br, pix); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return w, h, c, pix
}

// diffStats compares m with interleaved 8-bit reference samples (c = 1
// means a gray reference for all three planes) and returns the largest
// difference in levels and how many samples differ.
func diffStats(t *testing.T, m *raster.Image, ref []uint8, c int) (maxDiff, differ int) {
	t.Helper()
	n := m.H * m.W
	if len(ref) != n*c {
		t.Fatalf("reference holds %d samples, image %dx%d", len(ref), m.W, m.H)
	}
	for k := 0; k < 3; k++ {
		for i := 0; i < n; i++ {
			want := ref[i*c+min(k, c-1)]
			got := int(quantize(m.Pix[k*n+i], 255))
			d := max(got-int(want), int(want)-got)
			if d > 0 {
				differ++
				maxDiff = max(maxDiff, d)
			}
		}
	}
	return maxDiff, differ
}

var libref = filepath.Join("testdata", "libref")

// refYCbCr builds an image.YCbCr from the component planes libjpeg or
// libwebp decoded.
func refYCbCr(t *testing.T, base string, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	w, h, _, y := readPNM(t, filepath.Join(libref, base+".y.pgm"))
	cw, _, _, cb := readPNM(t, filepath.Join(libref, base+".cb.pgm"))
	_, _, _, cr := readPNM(t, filepath.Join(libref, base+".cr.pgm"))
	return &image.YCbCr{Y: y, Cb: cb, Cr: cr, YStride: w, CStride: cw,
		SubsampleRatio: ratio, Rect: image.Rect(0, 0, w, h)}
}

var jpegRefCases = []struct {
	base  string
	ratio image.YCbCrSubsampleRatio
	// maxFull is the largest difference allowed when Go's decoder does
	// the whole decode: its inverse DCT is not libjpeg's ISLOW.
	maxFull int
}{
	{"jpeg444", image.YCbCrSubsampleRatio444, 3},
	{"jpeg422", image.YCbCrSubsampleRatio422, 3},
	{"jpeg420", image.YCbCrSubsampleRatio420, 3},
	{"jpeg420even", image.YCbCrSubsampleRatio420, 3},
	{"jpeg440", image.YCbCrSubsampleRatio440, 3},
	{"jpeg411", image.YCbCrSubsampleRatio411, 3},
	{"jpeg420narrow", image.YCbCrSubsampleRatio420, 3},
}

// TestJPEGColourMatchesLibjpeg feeds libjpeg's own decoded components to
// the YCbCr conversion: upsampling and colour conversion must then match
// libjpeg-turbo's RGB output exactly.
func TestJPEGColourMatchesLibjpeg(t *testing.T) {
	for _, tc := range jpegRefCases {
		t.Run(tc.base, func(t *testing.T) {
			m := FromImage(refYCbCr(t, tc.base, tc.ratio))
			_, _, c, ref := readPNM(t, filepath.Join(libref, tc.base+".libjpeg.ppm"))
			if maxDiff, differ := diffStats(t, m, ref, c); differ != 0 {
				t.Errorf("%d samples differ from libjpeg, by up to %d levels", differ, maxDiff)
			}
		})
	}
}

// TestJPEGDecodeNearLibjpeg decodes the files completely: only Go's
// inverse DCT differs from libjpeg now, and the result must be closer to
// libjpeg than Go's own conversion (replicated chroma) is.
func TestJPEGDecodeNearLibjpeg(t *testing.T) {
	for _, tc := range jpegRefCases {
		t.Run(tc.base, func(t *testing.T) {
			path := filepath.Join(libref, tc.base+".jpg")
			m, _, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, c, ref := readPNM(t, filepath.Join(libref, tc.base+".libjpeg.ppm"))
			maxDiff, differ := diffStats(t, m, ref, c)
			goMax, goDiffer := diffStats(t, goStandard(t, path), ref, c)
			t.Logf("vs libjpeg: max %d levels, %d of %d samples differ (Go's own conversion: max %d, %d differ)",
				maxDiff, differ, len(ref), goMax, goDiffer)
			if maxDiff > tc.maxFull {
				t.Errorf("max difference %d levels, want <= %d", maxDiff, tc.maxFull)
			}
			if differ >= goDiffer {
				t.Errorf("%d samples differ, not fewer than with Go's conversion (%d)", differ, goDiffer)
			}
		})
	}
}

// goStandard decodes with image/jpeg and converts each pixel with Go's
// colour model, as image.Image.At does.
func goStandard(t *testing.T, path string) *raster.Image {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	rgba := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return FromImage(rgba)
}

// TestJPEGGrayAndCMYKNearLibjpeg checks gray, Adobe CMYK and YCCK files
// against libjpeg's decode (and OpenCV's CMYK conversion).
func TestJPEGGrayAndCMYKNearLibjpeg(t *testing.T) {
	for _, tc := range []struct {
		base, ref string
		maxDiff   int
	}{
		{"jpeggray", "jpeggray.libjpeg.pgm", 1},
		{"jpegcmyk", "jpegcmyk.cv2.ppm", 1},
		// image/jpeg converts YCCK's YCbCr itself, replicating chroma,
		// before this package sees it: colour edges differ by up to 63
		// levels here (measured), the rest by a few.
		{"jpegycck", "jpegycck.cv2.ppm", 63},
	} {
		t.Run(tc.base, func(t *testing.T) {
			m, info, err := Load(filepath.Join(libref, tc.base+".jpg"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, c, ref := readPNM(t, filepath.Join(libref, tc.ref))
			maxDiff, differ := diffStats(t, m, ref, c)
			t.Logf("%+v: max %d levels, %d of %d samples differ", info, maxDiff, differ, len(ref))
			if maxDiff > tc.maxDiff {
				t.Errorf("max difference %d levels, want <= %d", maxDiff, tc.maxDiff)
			}
		})
	}
}

// TestWebPMatchesLibwebp checks that lossy WebP decodes bit-exactly like
// libwebp: the VP8 planes from golang.org/x/image/webp, then the
// limited-range conversion with fancy upsampling.
func TestWebPMatchesLibwebp(t *testing.T) {
	for _, tc := range []struct {
		base         string
		lossy, alpha bool
	}{
		{"webp_odd", true, false},
		{"webp_even", true, false},
		{"webp_alpha", true, true},
		{"webp_lossless", false, true},
		{"webp_lossless_opaque", false, false},
	} {
		t.Run(tc.base, func(t *testing.T) {
			path := filepath.Join(libref, tc.base+".webp")
			if tc.lossy {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				img, err := webp.Decode(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				var got *image.YCbCr
				switch m := img.(type) {
				case *image.YCbCr:
					got = m
				case *image.NYCbCrA:
					got = &m.YCbCr
				default:
					t.Fatalf("decoded %T, want YCbCr", img)
				}
				want := refYCbCr(t, tc.base, image.YCbCrSubsampleRatio420)
				if !samePlanes(got, want) {
					t.Fatalf("x/image/webp planes differ from libwebp's")
				}
			}
			m, info, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != "webp" || info.HasAlpha != tc.alpha || info.Gray || info.BitDepth != 8 {
				t.Errorf("info %+v, want HasAlpha %v", info, tc.alpha)
			}
			hdr, err := ReadInfo(path, Options{})
			if err != nil || hdr != info {
				t.Errorf("ReadInfo %+v, %v; Load %+v", hdr, err, info)
			}
			_, _, c, ref := readPNM(t, filepath.Join(libref, tc.base+".libwebp.ppm"))
			if maxDiff, differ := diffStats(t, m, ref, c); differ != 0 {
				t.Errorf("%+v: %d samples differ from libwebp, by up to %d levels", info, differ, maxDiff)
			}
		})
	}
}

func samePlanes(a, b *image.YCbCr) bool {
	if a.Rect.Size() != b.Rect.Size() {
		return false
	}
	w, h := b.Rect.Dx(), b.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if a.Y[a.YOffset(a.Rect.Min.X+x, a.Rect.Min.Y+y)] != b.Y[y*b.YStride+x] {
				return false
			}
		}
	}
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			ai := a.COffset(a.Rect.Min.X+2*x, a.Rect.Min.Y+2*y)
			if a.Cb[ai] != b.Cb[y*b.CStride+x] || a.Cr[ai] != b.Cr[y*b.CStride+x] {
				return false
			}
		}
	}
	return true
}
