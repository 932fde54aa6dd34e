package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/degradiff/degradiff/raster"
)

// rgbAt returns the three plane values of m at (x, y).
func rgbAt(m *raster.Image, x, y int) [3]float32 {
	return [3]float32{m.At(0, y, x), m.At(1, y, x), m.At(2, y, x)}
}

func v8(v uint8) float32   { return float32(v) / 255 }
func v16(v uint16) float32 { return float32(v) / 65535 }

// TestDecodeFormats decodes each supported layout and checks every pixel
// against the stored samples of the source: 8-bit as v/255, 16-bit as
// v/65535, gray on all planes, alpha ignored.
func TestDecodeFormats(t *testing.T) {
	const w, h = 13, 7
	src := testImage(w, h) // random NRGBA, random alpha
	opaque := image.NewRGBA(src.Rect)
	copy(opaque.Pix, src.Pix)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	gray := image.NewGray(src.Rect)
	gray16 := image.NewGray16(src.Rect)
	nrgba64 := image.NewNRGBA64(src.Rect)
	rgba64 := image.NewRGBA64(src.Rect)
	for i := range w * h {
		gray.Pix[i] = src.Pix[4*i]
		gray16.Pix[2*i], gray16.Pix[2*i+1] = src.Pix[4*i], src.Pix[4*i+1]
		for k := range 4 {
			nrgba64.Pix[8*i+2*k] = src.Pix[4*i+k]
			nrgba64.Pix[8*i+2*k+1] = src.Pix[4*i+(k+1)%4]
			rgba64.Pix[8*i+2*k] = src.Pix[4*i+k]
			rgba64.Pix[8*i+2*k+1] = src.Pix[4*i+(k+1)%4]
		}
		rgba64.Pix[8*i+6], rgba64.Pix[8*i+7] = 0xff, 0xff
	}
	pal := color.Palette{
		color.NRGBA{200, 10, 10, 0}, color.RGBA{0, 255, 0, 255},
		color.NRGBA{50, 100, 150, 128}, color.RGBA{7, 8, 9, 255},
	}
	paletted := image.NewPaletted(src.Rect, pal)
	for i := range paletted.Pix {
		paletted.Pix[i] = src.Pix[i] % 4
	}
	palOpaque := image.NewPaletted(src.Rect, color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{250, 128, 0, 255}})
	for i := range palOpaque.Pix {
		palOpaque.Pix[i] = src.Pix[i] % 2
	}

	// Crafted PNG layouts Go's encoder never writes.
	var ga8, ga16, g4, g8 [][]byte
	for y := range h {
		r8, r16, r4, rg := []byte{}, []byte{}, make([]byte, (w+1)/2), []byte{}
		for x := range w {
			p := src.Pix[src.PixOffset(x, y):]
			r8 = append(r8, p[0], p[3])
			r16 = append(r16, p[0], p[1], p[2], p[3])
			r4[x/2] |= (p[0] >> 4) << (4 * (1 - x%2))
			rg = append(rg, p[0])
		}
		ga8, ga16, g4, g8 = append(ga8, r8), append(ga16, r16), append(g4, r4), append(g8, rg)
	}
	trns := pngChunk("tRNS", []byte{0, src.Pix[0]}) // gray value of pixel 0 is transparent

	stored8 := func(m []uint8, stride int) func(x, y int) [3]float32 {
		return func(x, y int) [3]float32 {
			p := m[y*stride+4*x:]
			return [3]float32{v8(p[0]), v8(p[1]), v8(p[2])}
		}
	}
	stored16 := func(m []uint8, stride int) func(x, y int) [3]float32 {
		return func(x, y int) [3]float32 {
			p := m[y*stride+8*x:]
			return [3]float32{v16(uint16(p[0])<<8 | uint16(p[1])), v16(uint16(p[2])<<8 | uint16(p[3])), v16(uint16(p[4])<<8 | uint16(p[5]))}
		}
	}
	grayOf := func(f func(x, y int) float32) func(x, y int) [3]float32 {
		return func(x, y int) [3]float32 { v := f(x, y); return [3]float32{v, v, v} }
	}
	fromPalette := func(p *image.Paletted, want []color.NRGBA) func(x, y int) [3]float32 {
		return func(x, y int) [3]float32 {
			c := want[p.Pix[y*p.Stride+x]]
			return [3]float32{v8(c.R), v8(c.G), v8(c.B)}
		}
	}
	palStored := []color.NRGBA{{200, 10, 10, 0}, {0, 255, 0, 255}, {50, 100, 150, 128}, {7, 8, 9, 255}}

	tests := []struct {
		name string
		data []byte
		info Info
		want func(x, y int) [3]float32
	}{
		{"png rgb8", encodePNG(t, opaque), Info{Format: "png", BitDepth: 8}, stored8(opaque.Pix, opaque.Stride)},
		{"png rgba8", encodePNG(t, src), Info{Format: "png", BitDepth: 8, HasAlpha: true}, stored8(src.Pix, src.Stride)},
		{"png rgb16", encodePNG(t, rgba64), Info{Format: "png", BitDepth: 16}, stored16(rgba64.Pix, rgba64.Stride)},
		{"png rgba16", encodePNG(t, nrgba64), Info{Format: "png", BitDepth: 16, HasAlpha: true}, stored16(nrgba64.Pix, nrgba64.Stride)},
		{"png gray8", encodePNG(t, gray), Info{Format: "png", BitDepth: 8, Gray: true},
			grayOf(func(x, y int) float32 { return v8(gray.GrayAt(x, y).Y) })},
		{"png gray16", encodePNG(t, gray16), Info{Format: "png", BitDepth: 16, Gray: true},
			grayOf(func(x, y int) float32 { return v16(gray16.Gray16At(x, y).Y) })},
		{"png gray+alpha8", craftPNG(w, h, 8, 4, ga8), Info{Format: "png", BitDepth: 8, HasAlpha: true, Gray: true},
			grayOf(func(x, y int) float32 { return v8(src.NRGBAAt(x, y).R) })},
		{"png gray+alpha16", craftPNG(w, h, 16, 4, ga16), Info{Format: "png", BitDepth: 16, HasAlpha: true, Gray: true},
			grayOf(func(x, y int) float32 { c := src.NRGBAAt(x, y); return v16(uint16(c.R)<<8 | uint16(c.G)) })},
		{"png gray4", craftPNG(w, h, 4, 0, g4), Info{Format: "png", BitDepth: 8, Gray: true},
			grayOf(func(x, y int) float32 { return v8(src.NRGBAAt(x, y).R >> 4 * 17) })},
		{"png gray8 tRNS", craftPNG(w, h, 8, 0, g8, trns), Info{Format: "png", BitDepth: 8, HasAlpha: true, Gray: true},
			grayOf(func(x, y int) float32 { return v8(src.NRGBAAt(x, y).R) })},
		{"png palette tRNS", encodePNG(t, paletted), Info{Format: "png", BitDepth: 8, HasAlpha: true}, fromPalette(paletted, palStored)},
		{"bmp rgb", encodeBMP(t, opaque), Info{Format: "bmp", BitDepth: 8}, stored8(opaque.Pix, opaque.Stride)},
		{"bmp rgba", encodeBMP(t, src), Info{Format: "bmp", BitDepth: 8, HasAlpha: true}, stored8(src.Pix, src.Stride)},
		{"bmp palette", encodeBMP(t, palOpaque), Info{Format: "bmp", BitDepth: 8},
			fromPalette(palOpaque, []color.NRGBA{{1, 2, 3, 255}, {250, 128, 0, 255}})},
		{"tiff rgb deflate", encodeTIFF(t, opaque, tiff.Deflate), Info{Format: "tiff", BitDepth: 8}, stored8(opaque.Pix, opaque.Stride)},
		{"tiff rgba", encodeTIFF(t, src, tiff.Uncompressed), Info{Format: "tiff", BitDepth: 8, HasAlpha: true}, stored8(src.Pix, src.Stride)},
		{"tiff rgba16", encodeTIFF(t, nrgba64, tiff.Uncompressed), Info{Format: "tiff", BitDepth: 16, HasAlpha: true}, stored16(nrgba64.Pix, nrgba64.Stride)},
		{"tiff gray16", encodeTIFF(t, gray16, tiff.Deflate), Info{Format: "tiff", BitDepth: 16, Gray: true},
			grayOf(func(x, y int) float32 { return v16(gray16.Gray16At(x, y).Y) })},
		{"tiff palette", encodeTIFF(t, palOpaque, tiff.Uncompressed), Info{Format: "tiff", BitDepth: 8},
			fromPalette(palOpaque, []color.NRGBA{{1, 2, 3, 255}, {250, 128, 0, 255}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, info := decodeBytes(t, tc.data)
			want := tc.info
			want.Width, want.Height, want.Orientation = w, h, 1
			if info != want {
				t.Errorf("info %+v, want %+v", info, want)
			}
			if m.C != 3 || m.W != w || m.H != h {
				t.Fatalf("raster %dx%dx%d, want 3x%dx%d", m.C, m.H, m.W, h, w)
			}
			bad := 0
			for y := range h {
				for x := range w {
					if got, exp := rgbAt(m, x, y), tc.want(x, y); got != exp && bad < 3 {
						bad++
						t.Errorf("(%d,%d) = %v, want %v", x, y, got, exp)
					}
				}
			}
		})
	}
}

// TestAlphaDropRule checks the documented rule on one fully transparent and
// one half transparent pixel in every format that stores alpha: the stored
// colour comes back, not premultiplied and not composited.
func TestAlphaDropRule(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.SetNRGBA(0, 0, color.NRGBA{200, 10, 10, 0})
	m.SetNRGBA(1, 0, color.NRGBA{50, 100, 150, 128})
	m16 := image.NewNRGBA64(m.Rect)
	m16.SetNRGBA64(0, 0, color.NRGBA64{51400, 2570, 2570, 0})
	m16.SetNRGBA64(1, 0, color.NRGBA64{12850, 25700, 38550, 32896})
	want := [2][3]float32{{v8(200), v8(10), v8(10)}, {v8(50), v8(100), v8(150)}}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"png8", encodePNG(t, m)},
		{"png16", encodePNG(t, m16)},
		{"bmp32", encodeBMP(t, m)},
		{"tiff", encodeTIFF(t, m, tiff.Uncompressed)},
		{"tiff16", encodeTIFF(t, m16, tiff.Uncompressed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, info := decodeBytes(t, tc.data)
			if !info.HasAlpha {
				t.Errorf("HasAlpha false")
			}
			for x := range 2 {
				if got := rgbAt(r, x, 0); got != want[x] {
					t.Errorf("pixel %d = %v, want %v", x, got, want[x])
				}
			}
		})
	}
}

// TestSixteenBitPrecision checks that 16-bit samples that no 8-bit level
// can represent survive.
func TestSixteenBitPrecision(t *testing.T) {
	g := image.NewGray16(image.Rect(0, 0, 4, 1))
	vals := []uint16{1, 0x1234, 0x8001, 0xfffe}
	for x, v := range vals {
		g.SetGray16(x, 0, color.Gray16{v})
	}
	m, info := decodeBytes(t, encodePNG(t, g))
	if info.BitDepth != 16 {
		t.Errorf("BitDepth %d, want 16", info.BitDepth)
	}
	for x, v := range vals {
		got := m.At(0, 0, x)
		if got != float32(v)/65535 {
			t.Errorf("sample %d = %v, want %v", x, got, float32(v)/65535)
		}
		if q := quantize(got, 255); float32(q)/255 == got {
			t.Errorf("sample %d = %v collapsed to an 8-bit level", x, got)
		}
	}
}

// TestJPEGDecode checks colour and gray JPEG against their sources (lossy,
// so within a few levels: Go's encoder halves the chroma resolution) and
// the gray flag.
func TestJPEGDecode(t *testing.T) {
	src := smoothImage(40, 24)
	gray := image.NewGray(src.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = src.Pix[4*i+1]
	}
	for _, tc := range []struct {
		name string
		img  image.Image
		gray bool
	}{{"colour", src, false}, {"gray", gray, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m, info := decodeBytes(t, encodeJPEG(t, tc.img, 100))
			if info.Format != "jpeg" || info.Gray != tc.gray || info.HasAlpha || info.BitDepth != 8 {
				t.Errorf("info %+v", info)
			}
			ref := FromImage(tc.img)
			var maxErr float64
			for i, v := range m.Pix {
				maxErr = max(maxErr, float64(v-ref.Pix[i]), float64(ref.Pix[i]-v))
			}
			if maxErr > 6.0/255 {
				t.Errorf("max error %.1f levels, want <= 6", maxErr*255)
			}
			if tc.gray {
				n := m.H * m.W
				if !slicesEqual(m.Pix[:n], m.Pix[n:2*n]) || !slicesEqual(m.Pix[:n], m.Pix[2*n:]) {
					t.Errorf("gray JPEG planes differ")
				}
			}
		})
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEXIFOrientation checks each orientation against the rotation or
// mirror it names, applied to the same JPEG without EXIF.
func TestEXIFOrientation(t *testing.T) {
	const w, h = 9, 5
	plain := encodeJPEG(t, testImage(w, h), 90)
	base, _ := decodeBytes(t, plain)
	// Where output pixel (x, y) comes from in the stored image.
	from := map[int]func(x, y int) (int, int){
		1: func(x, y int) (int, int) { return x, y },
		2: func(x, y int) (int, int) { return w - 1 - x, y },         // mirrored left-right
		3: func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }, // upside down
		4: func(x, y int) (int, int) { return x, h - 1 - y },         // mirrored top-bottom
		5: func(x, y int) (int, int) { return y, x },                 // transposed
		6: func(x, y int) (int, int) { return y, h - 1 - x },         // needs 90° clockwise
		7: func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }, // transverse
		8: func(x, y int) (int, int) { return w - 1 - y, x },         // needs 90° anticlockwise
	}
	for o := 1; o <= 8; o++ {
		for _, big := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d big-endian=%v", o, big), func(t *testing.T) {
				data := withEXIF(plain, uint16(o), big)
				m, info := decodeBytes(t, data)
				ow, oh := w, h
				if o >= 5 {
					ow, oh = h, w
				}
				if info.Orientation != o || info.Width != ow || info.Height != oh {
					t.Errorf("info %+v, want orientation %d, %dx%d", info, o, ow, oh)
				}
				hdr, err := DecodeInfo(bytes.NewReader(data), "x", Options{})
				if err != nil || hdr.Width != ow || hdr.Height != oh || hdr.Orientation != o {
					t.Errorf("DecodeInfo %+v, %v", hdr, err)
				}
				if m.W != ow || m.H != oh {
					t.Fatalf("raster %dx%d, want %dx%d", m.W, m.H, ow, oh)
				}
				for y := range oh {
					for x := range ow {
						sx, sy := from[o](x, y)
						if got, want := rgbAt(m, x, y), rgbAt(base, sx, sy); got != want {
							t.Fatalf("(%d,%d) = %v, want stored (%d,%d) = %v", x, y, got, sx, sy, want)
						}
					}
				}
			})
		}
	}
	// Malformed EXIF is ignored.
	for _, bad := range [][]byte{
		withEXIF(plain, 9, false),
		withEXIF(plain, 0, true),
		append(append([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x0a}, "Exif\x00\x00MM"...), plain[2:]...),
	} {
		if _, info := decodeBytes(t, bad); info.Orientation != 1 || info.Width != w {
			t.Errorf("malformed EXIF gave %+v", info)
		}
	}
}

// TestErrors checks that each kind of bad input gives its sentinel error
// and a message naming the file and the reason.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	okPNG := encodePNG(t, testImage(64, 48))
	okJPEG := encodeJPEG(t, smoothImage(64, 48), 90)
	ihdr := func(w, h uint32) []byte {
		b := make([]byte, 13)
		b[0], b[1], b[2], b[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
		b[4], b[5], b[6], b[7] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
		b[8], b[9] = 8, 2
		return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", b)...)
	}
	webpData, err := os.ReadFile(filepath.Join(libref, "webp_odd.webp"))
	if err != nil {
		t.Fatal(err)
	}
	// A complete PNG whose image data is damaged: the CRC no longer matches.
	corruptPNG := append([]byte(nil), okPNG...)
	corruptPNG[len(corruptPNG)-30] ^= 0xff
	// A complete JPEG without its scan: SOI, tables and frame, then EOI.
	sos := bytes.Index(okJPEG, []byte{0xff, 0xda})
	noScan := append(append([]byte(nil), okJPEG[:sos]...), 0xff, 0xd9)
	// 12-bit precision in the frame header.
	sof := bytes.Index(okJPEG, []byte{0xff, 0xc0})
	jpeg12 := append([]byte(nil), okJPEG...)
	jpeg12[sof+4] = 12
	zeroJPEG := append([]byte(nil), okJPEG...)
	zeroJPEG[sof+5], zeroJPEG[sof+6] = 0, 0 // height 0
	zeroBMP := encodeBMP(t, testImage(3, 2))
	zeroBMP[18], zeroBMP[19], zeroBMP[20], zeroBMP[21] = 0, 0, 0, 0

	tests := []struct {
		name string
		data []byte
		opt  Options
		want error
		msg  []string // substrings of the message besides the path
	}{
		{"empty.png", nil, Options{}, ErrEmpty, []string{"empty file"}},
		{"notes.jpg", []byte("these are not pixels\n"), Options{}, ErrUnknownFormat,
			[]string{"not a recognised image (PNG, JPEG, WebP, BMP, TIFF)"}},
		{"sig.png", []byte("\x89PN"), Options{}, ErrTruncated, []string{"truncated: unexpected end of data"}},
		{"half.png", okPNG[:len(okPNG)/2], Options{}, ErrTruncated, []string{"truncated: unexpected end of data"}},
		{"noiend.png", okPNG[:len(okPNG)-12], Options{}, ErrTruncated, nil},
		{"half.jpg", okJPEG[:len(okJPEG)/2], Options{}, ErrTruncated, nil},
		{"head.jpg", okJPEG[:100], Options{}, ErrTruncated, nil},
		{"noeoi.jpg", okJPEG[:len(okJPEG)-2], Options{}, ErrTruncated, nil},
		{"half.bmp", encodeBMP(t, testImage(20, 20))[:700], Options{}, ErrTruncated, nil},
		{"half.tif", encodeTIFF(t, testImage(20, 20), tiff.Deflate)[:300], Options{}, ErrTruncated, nil},
		{"half.webp", webpData[:len(webpData)/2], Options{}, ErrTruncated, nil},
		{"huge.png", ihdr(20000, 20000), Options{}, ErrTooLarge,
			[]string{"image too large", "20000x20000", "400000000 pixels", "limit of 100000000", "--max-pixels"}},
		{"limit.png", okPNG, Options{MaxPixels: 64*48 - 1}, ErrTooLarge, []string{"64x48", "limit of 3071"}},
		{"zero.png", ihdr(0, 10), Options{}, ErrZeroSize, []string{"zero width or height"}},
		{"zero.jpg", zeroJPEG, Options{}, ErrZeroSize, nil},
		{"zero.bmp", zeroBMP, Options{}, ErrZeroSize, nil},
		{"crc.png", corruptPNG, Options{}, ErrCorrupt, []string{"corrupt image data (PNG)", "checksum"}},
		{"noscan.jpg", noScan, Options{}, ErrCorrupt, []string{"corrupt image data (JPEG)"}},
		{"twelve.jpg", jpeg12, Options{}, ErrUnsupported, []string{"unsupported JPEG variant", "precision"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, tc.name, tc.data)
			_, _, err := Load(path, tc.opt)
			checkFileError(t, err, "load", path, tc.want, tc.msg)
			// The header check alone already refuses what it can see.
			if tc.want == ErrTooLarge || tc.want == ErrZeroSize || tc.want == ErrUnknownFormat || tc.want == ErrEmpty {
				_, err := ReadInfo(path, tc.opt)
				checkFileError(t, err, "read info", path, tc.want, tc.msg)
			}
		})
	}

	t.Run("limit raised", func(t *testing.T) {
		for _, limit := range []int64{64 * 48, -1} {
			if _, _, err := Decode(bytes.NewReader(okPNG), "ok", Options{MaxPixels: limit}); err != nil {
				t.Errorf("MaxPixels %d: %v", limit, err)
			}
		}
	})
	t.Run("too large info", func(t *testing.T) {
		info, err := DecodeInfo(bytes.NewReader(ihdr(20000, 20000)), "huge", Options{})
		if !errors.Is(err, ErrTooLarge) || info.Width != 20000 || info.Height != 20000 {
			t.Errorf("got %+v, %v", info, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "missing.png")
		_, _, err := Load(path, Options{})
		checkFileError(t, err, "load", path, fs.ErrNotExist, []string{"no such file"})
	})
	t.Run("folder", func(t *testing.T) {
		_, _, err := Load(dir, Options{})
		checkFileError(t, err, "load", dir, nil, []string{"is a folder"})
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("device error")
		r := io.MultiReader(bytes.NewReader(okPNG[:100]), errReader{boom})
		_, _, err := Decode(r, "stream", Options{})
		checkFileError(t, err, "decode", "stream", boom, []string{"device error"})
	})
	t.Run("permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which may read any file: cannot test permission errors")
		}
		path := writeFile(t, dir, "secret.png", okPNG)
		if err := os.Chmod(path, 0); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(path, Options{})
		checkFileError(t, err, "load", path, fs.ErrPermission, []string{"permission denied"})
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// checkFileError checks that err is a *FileError for op and path that wraps
// want (if not nil) and whose message holds the path and each of msg.
func checkFileError(t *testing.T, err error, op, path string, want error, msg []string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want *FileError", err, err)
	}
	if fe.Op != op || fe.Path != path {
		t.Errorf("FileError op %q path %q, want %q %q", fe.Op, fe.Path, op, path)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %q does not wrap %q", err, want)
	}
	text := err.Error()
	if !strings.HasPrefix(text, op+" "+path+": ") {
		t.Errorf("message %q does not start with %q", text, op+" "+path+": ")
	}
	for _, s := range msg {
		if !strings.Contains(text, s) {
			t.Errorf("message %q lacks %q", text, s)
		}
	}
}

// TestDecodeSniffsContent loads files whose names lie about, or do not
// give, their format.
func TestDecodeSniffsContent(t *testing.T) {
	dir := t.TempDir()
	png := encodePNG(t, testImage(5, 4))
	jpg := encodeJPEG(t, smoothImage(5, 4), 90)
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"photo.jpeg", "png", png},
		{"scan.png", "jpeg", jpg},
		{"IMG_0001", "jpeg", jpg},
		{"noext", "png", png},
	} {
		_, info, err := Load(writeFile(t, dir, tc.name, tc.data), Options{})
		if err != nil || info.Format != tc.format {
			t.Errorf("%s: format %q, %v; want %q", tc.name, info.Format, err, tc.format)
		}
	}
}

// TestFromImageGeneric checks the fallback for image types without a fast
// path against their colour model.
func TestFromImageGeneric(t *testing.T) {
	m := image.NewNYCbCrA(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio444)
	for i := range m.Y {
		m.Y[i], m.Cb[i], m.Cr[i], m.A[i] = uint8(30*i), uint8(200-20*i), uint8(90+10*i), uint8(40*i)
	}
	al := image.NewAlpha16(image.Rect(0, 0, 3, 1))
	al.SetAlpha16(1, 0, color.Alpha16{0x8000})
	al.SetAlpha16(2, 0, color.Alpha16{0xffff})
	r := FromImage(al)
	// Alpha16 un-premultiplies to white wherever alpha is not zero.
	for x, want := range []float32{0, 1, 1} {
		if got := rgbAt(r, x, 0); got != [3]float32{want, want, want} {
			t.Errorf("Alpha16 pixel %d = %v", x, got)
		}
	}
	// A 4:4:4 NYCbCrA is its YCbCr part converted with libjpeg's tables.
	got := FromImage(m)
	for i := range m.Y {
		x, y := i%4, i/4
		yi := int32(m.Y[i])
		want := [3]float32{
			lut8[clamp255(yi+jpegCrR[m.Cr[i]])],
			lut8[clamp255(yi+(jpegCbG[m.Cb[i]]+jpegCrG[m.Cr[i]])>>16)],
			lut8[clamp255(yi+jpegCbB[m.Cb[i]])],
		}
		if g := rgbAt(got, x, y); g != want {
			t.Errorf("NYCbCrA pixel %d = %v, want %v", i, g, want)
		}
	}
}

// TestFromImageSubImage converts a sub-image at an odd offset, which
// exercises the nearest-chroma fallback and the Rect.Min handling of the
// fast paths.
func TestFromImageSubImage(t *testing.T) {
	src := testImage(10, 8)
	sub := src.SubImage(image.Rect(3, 1, 9, 6)).(*image.NRGBA)
	m := FromImage(sub)
	for y := range 5 {
		for x := range 6 {
			c := src.NRGBAAt(3+x, 1+y)
			if got := rgbAt(m, x, y); got != [3]float32{v8(c.R), v8(c.G), v8(c.B)} {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, got, c)
			}
		}
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 10, 8), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 3)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(100+i), uint8(160-i)
	}
	ysub := ycc.SubImage(image.Rect(3, 1, 9, 6)).(*image.YCbCr)
	m = FromImage(ysub)
	for y := range 5 {
		for x := range 6 {
			px, py := 3+x, 1+y
			yi := int32(ycc.Y[ycc.YOffset(px, py)])
			ci := ycc.COffset(px, py)
			want := lut8[clamp255(yi+jpegCrR[ycc.Cr[ci]])]
			if got := m.At(0, y, x); got != want {
				t.Fatalf("(%d,%d) red = %v, want %v", x, y, got, want)
			}
		}
	}
}
