package imageio

import (
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/bits"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// Sentinel errors, wrapped by the *FileError values this package returns.
var (
	// ErrEmpty reports a file of zero bytes.
	ErrEmpty = errors.New("empty file")
	// ErrUnknownFormat reports content that is not one of the supported formats.
	ErrUnknownFormat = errors.New("not a recognised image (PNG, JPEG, WebP, BMP, TIFF)")
	// ErrTruncated reports a file that ends before its image data does.
	ErrTruncated = errors.New("truncated: unexpected end of data")
	// ErrTooLarge reports an image with more pixels than Options.MaxPixels.
	ErrTooLarge = errors.New("image too large")
	// ErrZeroSize reports an image whose header gives a zero width or height.
	ErrZeroSize = errors.New("image has zero width or height")
	// ErrCorrupt reports invalid data inside a recognised format.
	ErrCorrupt = errors.New("corrupt image data")
	// ErrUnsupported reports a valid variant of a format that the decoders
	// cannot read (for example 12-bit JPEG), or an output format Save cannot
	// write.
	ErrUnsupported = errors.New("unsupported")
)

// A FileError records a failed operation on a file or folder. Its message
// names the file and the reason, for example
//
//	load photos/a.png: truncated: unexpected end of data
type FileError struct {
	Op   string // "load", "read info", "decode", "save" or "scan"
	Path string // the file or folder
	Err  error  // the reason: a sentinel of this package, or an os error
}

// Error formats the problem for people.
func (e *FileError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *FileError) Unwrap() error { return e.Err }

// formatNames gives the display name of each format for messages.
var formatNames = map[string]string{
	"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "bmp": "BMP", "tiff": "TIFF",
}

// classify turns a decoder error into one wrapping a sentinel. Decoders
// report the end of input as io.ErrUnexpectedEOF or io.EOF; everything else
// is either an unsupported variant or corrupt data.
func classify(format string, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrTruncated
	case errors.Is(err, tiff.FormatError("zero-size image")):
		return ErrZeroSize
	case isUnsupported(err):
		return fmt.Errorf("%w %s variant: %w", ErrUnsupported, formatNames[format], err)
	default:
		return fmt.Errorf("%w (%s): %w", ErrCorrupt, formatNames[format], err)
	}
}

func isUnsupported(err error) bool {
	var pu png.UnsupportedError
	var ju jpeg.UnsupportedError
	var tu tiff.UnsupportedError
	return errors.As(err, &pu) || errors.As(err, &ju) || errors.As(err, &tu) ||
		errors.Is(err, bmp.ErrUnsupported)
}

// tooLarge describes an image over the pixel limit.
func tooLarge(w, h int, limit int64) error {
	n, ok := pixelCount(w, h)
	count := fmt.Sprint(n)
	if !ok {
		count = "more than 2^63"
	}
	return fmt.Errorf("%w: %dx%d is %s pixels, over the limit of %d (raise it with --max-pixels)",
		ErrTooLarge, w, h, count, limit)
}

// pixelCount returns w*h and whether it fits in an int64.
func pixelCount(w, h int) (int64, bool) {
	hi, lo := bits.Mul64(uint64(w), uint64(h))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}
