package imageio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/degradiff/degradiff/raster"
)

// DefaultMaxPixels is the pixel limit used when Options.MaxPixels is zero.
const DefaultMaxPixels = 100_000_000

// Options controls decoding.
type Options struct {
	// MaxPixels is the largest width*height accepted. Larger images are
	// refused from their header, before any pixel memory is allocated. Zero
	// means DefaultMaxPixels; a negative value means no limit.
	MaxPixels int64
}

func (o Options) limit() int64 {
	switch {
	case o.MaxPixels == 0:
		return DefaultMaxPixels
	case o.MaxPixels < 0:
		return math.MaxInt64
	}
	return o.MaxPixels
}

// Info describes an image file.
type Info struct {
	Format        string // "png", "jpeg", "webp", "bmp" or "tiff"
	Width, Height int    // of the loaded image, after EXIF orientation
	BitDepth      int    // 16 for files decoded with 16 bits per sample, else 8
	// HasAlpha reports an alpha channel or transparency, which loading drops.
	// ReadInfo and DecodeInfo see only the header and miss transparency that
	// a PNG declares after it (a tRNS chunk on a gray or RGB image).
	HasAlpha bool
	// Gray reports a file that stores gray levels only: a gray colour type,
	// or a palette of grays.
	Gray bool
	// Orientation is the EXIF orientation (1 to 8) that loading applied;
	// 1 means none. It is read from JPEG files only, where cv2.imread
	// applies it too.
	Orientation int
}

// Load reads the image file at path into a 3-plane RGB raster (see the
// package documentation for the conversion rules). Errors are *FileError.
func Load(path string, opt Options) (*raster.Image, Info, error) {
	f, err := openFile(path, "load")
	if err != nil {
		return nil, Info{}, err
	}
	defer f.Close()
	m, info, err := decode(f, opt, true)
	if err != nil {
		return nil, info, &FileError{Op: "load", Path: path, Err: err}
	}
	return m, info, nil
}

// ReadInfo reads only the header of the image file at path. It applies the
// same checks as Load (format, size limit) without decoding pixels; an image
// over the limit returns its Info together with an error.
func ReadInfo(path string, opt Options) (Info, error) {
	f, err := openFile(path, "read info")
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	_, info, err := decode(f, opt, false)
	if err != nil {
		return info, &FileError{Op: "read info", Path: path, Err: err}
	}
	return info, nil
}

// Decode reads an image from r, like Load. The name identifies the input in
// errors (a file name, or something like "stdin").
func Decode(r io.Reader, name string, opt Options) (*raster.Image, Info, error) {
	m, info, err := decode(r, opt, true)
	if err != nil {
		return nil, info, &FileError{Op: "decode", Path: name, Err: err}
	}
	return m, info, nil
}

// DecodeInfo reads only the header of an image from r, like ReadInfo.
func DecodeInfo(r io.Reader, name string, opt Options) (Info, error) {
	_, info, err := decode(r, opt, false)
	if err != nil {
		return info, &FileError{Op: "decode", Path: name, Err: err}
	}
	return info, nil
}

var errIsDir = errors.New("is a folder, not an image file")

func openFile(path, op string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Op: op, Path: path, Err: osReason(err)}
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &FileError{Op: op, Path: path, Err: errIsDir}
	}
	return f, nil
}

// osReason strips the *fs.PathError around an OS error, whose path the
// FileError already names.
func osReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readRecorder remembers the first read error other than io.EOF, so that a
// failing disk is reported as such and not as corrupt data, and passes the
// bytes to a structure walker if there is one.
type readRecorder struct {
	r      io.Reader
	err    error
	walker structureWalker
}

func (rr *readRecorder) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	if rr.walker != nil && n > 0 {
		rr.walker.Write(p[:n])
	}
	return n, err
}

// maxDrain bounds how much of a corrupt input is read to find out whether it
// was truncated.
const maxDrain = 64 << 20

// headSize is how many bytes sniffing and the PNG checks look at.
const headSize = 32

func decode(r io.Reader, opt Options, pixels bool) (*raster.Image, Info, error) {
	rr := &readRecorder{r: r}
	br := bufio.NewReaderSize(rr, 64<<10)
	head, _ := br.Peek(headSize)
	if rr.err != nil {
		return nil, Info{}, osReason(rr.err)
	}
	if len(head) == 0 {
		return nil, Info{}, ErrEmpty
	}
	format := sniff(head)
	if format == "" {
		if len(head) < headSize && magicPrefix(head) {
			return nil, Info{}, ErrTruncated
		}
		return nil, Info{}, ErrUnknownFormat
	}
	info := Info{Format: format}
	if zeroSizeHeader(format, head) {
		return nil, info, ErrZeroSize
	}
	if rr.walker = newWalker(format); rr.walker != nil {
		// Nothing is consumed yet, so the buffer holds every byte read.
		buffered, _ := br.Peek(br.Buffered())
		rr.walker.Write(buffered)
	}
	fail := func(err error) error {
		if rr.err != nil {
			return osReason(rr.err)
		}
		err = classify(format, err)
		if errors.Is(err, ErrCorrupt) && rr.walker != nil {
			// A file that ends before its end marker was cut short, even
			// if the decoder only noticed broken compressed data.
			io.CopyN(io.Discard, br, maxDrain)
			if rr.err != nil {
				return osReason(rr.err)
			}
			if !rr.walker.complete() {
				return ErrTruncated
			}
		}
		return err
	}

	// The header bytes that DecodeConfig consumes are kept and replayed to
	// the full decoder, so any reader works, seekable or not.
	var hdr bytes.Buffer
	cfg, err := decodeConfig(format, io.TeeReader(br, &hdr))
	if err != nil {
		return nil, info, fail(err)
	}
	info = makeInfo(format, cfg, hdr.Bytes())
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, info, ErrZeroSize
	}
	if n, ok := pixelCount(cfg.Width, cfg.Height); !ok || n > opt.limit() {
		return nil, info, tooLarge(cfg.Width, cfg.Height, opt.limit())
	}
	if !pixels {
		return nil, info, nil
	}

	img, err := decodeImage(format, io.MultiReader(&hdr, br))
	if err != nil {
		return nil, info, fail(err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, info, fmt.Errorf("%w (%s): header says %dx%d but the data holds %dx%d",
			ErrCorrupt, formatNames[format], cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	if format != "webp" { // WebP headers are exact, its decoded types are not
		info.HasAlpha = hasAlpha(img)
	}
	m := convert(format, img)
	return orient(m, info.Orientation), info, nil
}

// zeroSizeHeader reports a zero width or height in a PNG or BMP header,
// which Go's decoders would call corrupt or unsupported.
func zeroSizeHeader(format string, head []byte) bool {
	switch format {
	case "png":
		if len(head) >= 24 && string(head[12:16]) == "IHDR" {
			return binary.BigEndian.Uint32(head[16:]) == 0 || binary.BigEndian.Uint32(head[20:]) == 0
		}
	case "bmp":
		// BITMAPINFOHEADER and later: int32 width and height at 18 and 22.
		if len(head) >= 26 && binary.LittleEndian.Uint32(head[14:]) >= 40 {
			return binary.LittleEndian.Uint32(head[18:]) == 0 || binary.LittleEndian.Uint32(head[22:]) == 0
		}
	}
	return false
}

// decodeConfig and decodeImage call the decoder for format. A decoder that
// panics on malformed input fails this one file instead of the whole run.
func decodeConfig(format string, r io.Reader) (cfg image.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	switch format {
	case "png":
		return png.DecodeConfig(r)
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "webp":
		return webp.DecodeConfig(r)
	case "bmp":
		return bmp.DecodeConfig(r)
	case "tiff":
		return tiff.DecodeConfig(r)
	}
	panic("imageio: decodeConfig: unknown format " + format)
}

func decodeImage(format string, r io.Reader) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	switch format {
	case "png":
		return png.Decode(r)
	case "jpeg":
		return jpeg.Decode(r)
	case "webp":
		return webp.Decode(r)
	case "bmp":
		return bmp.Decode(r)
	case "tiff":
		return tiff.Decode(r)
	}
	panic("imageio: decodeImage: unknown format " + format)
}

// magic lists the signatures of the supported formats; '?' matches any byte.
var magic = []struct{ format, sig string }{
	{"png", "\x89PNG\r\n\x1a\n"},
	{"jpeg", "\xff\xd8\xff"},
	{"webp", "RIFF????WEBPVP8"},
	{"bmp", "BM????\x00\x00\x00\x00"},
	{"tiff", "II*\x00"},
	{"tiff", "MM\x00*"},
}

// sniff returns the format whose signature starts b, or "".
func sniff(b []byte) string {
	for _, m := range magic {
		if len(b) >= len(m.sig) && match(b, m.sig) {
			return m.format
		}
	}
	return ""
}

// magicPrefix reports whether b is a proper prefix of some signature: a file
// cut short inside its signature.
func magicPrefix(b []byte) bool {
	for _, m := range magic {
		if len(b) < len(m.sig) && match(b, m.sig[:len(b)]) {
			return true
		}
	}
	return false
}

func match(b []byte, sig string) bool {
	for i := 0; i < len(sig); i++ {
		if sig[i] != '?' && b[i] != sig[i] {
			return false
		}
	}
	return true
}

// Sniff reports the format ("png", "jpeg", "webp", "bmp", "tiff") that the
// first bytes of a file announce, or "" if none. Sixteen bytes suffice.
func Sniff(head []byte) string { return sniff(head) }

func makeInfo(format string, cfg image.Config, hdr []byte) Info {
	info := Info{Format: format, Width: cfg.Width, Height: cfg.Height, BitDepth: 8, Orientation: 1}
	// A palette is a slice and must not reach the == comparisons below.
	if p, ok := cfg.ColorModel.(color.Palette); ok {
		info.HasAlpha = paletteHasAlpha(p)
		info.Gray = paletteIsGray(p)
	} else {
		switch cfg.ColorModel {
		case color.GrayModel:
			info.Gray = true
		case color.Gray16Model:
			info.Gray, info.BitDepth = true, 16
		case color.RGBA64Model:
			info.BitDepth = 16
		case color.NRGBA64Model:
			info.HasAlpha, info.BitDepth = true, 16
		case color.NRGBAModel, color.NYCbCrAModel:
			info.HasAlpha = true
		}
	}
	switch format {
	case "png":
		// The IHDR colour type tells gray+alpha (4) from RGBA, which Go
		// decodes to the same NRGBA model.
		if len(hdr) > 25 && (hdr[25] == 0 || hdr[25] == 4) {
			info.Gray = true
		}
	case "jpeg":
		info.Orientation = jpegOrientation(hdr)
	case "webp":
		// A simple lossless file announces alpha in its header; Go's
		// decoder gives NRGBA whether or not it is used.
		if len(hdr) >= 25 && string(hdr[12:16]) == "VP8L" {
			info.HasAlpha = binary.LittleEndian.Uint32(hdr[21:])>>28&1 == 1
		}
	}
	if info.Orientation >= 5 {
		info.Width, info.Height = info.Height, info.Width
	}
	return info
}

func paletteHasAlpha(p color.Palette) bool {
	for _, c := range p {
		if _, _, _, a := c.RGBA(); a != 0xffff {
			return true
		}
	}
	return false
}

func paletteIsGray(p color.Palette) bool {
	for _, c := range p {
		n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
		if n.R != n.G || n.G != n.B {
			return false
		}
	}
	return len(p) > 0
}

// hasAlpha reports whether a decoded image carries alpha. Go's decoders use
// the NRGBA types only for images with an alpha channel or transparency.
func hasAlpha(img image.Image) bool {
	switch m := img.(type) {
	case *image.NRGBA, *image.NRGBA64, *image.NYCbCrA, *image.Alpha, *image.Alpha16:
		return true
	case *image.Paletted:
		return paletteHasAlpha(m.Palette)
	case interface{ Opaque() bool }:
		return !m.Opaque()
	}
	return false
}
