package imageio

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// fuzzMaxPixels keeps fuzzed headers from asking for large images.
const fuzzMaxPixels = 1 << 16

// sentinels are the reasons a decode may fail with.
var sentinels = []error{ErrEmpty, ErrUnknownFormat, ErrTruncated, ErrTooLarge, ErrZeroSize, ErrCorrupt, ErrUnsupported}

// FuzzDecode feeds arbitrary bytes to Decode. Besides not crashing, every
// failure must be a *FileError wrapping one of the sentinels, and every
// success a 3-plane raster of the size Info reports with values in [0, 1],
// agreeing with DecodeInfo.
func FuzzDecode(f *testing.F) {
	opt := Options{MaxPixels: fuzzMaxPixels}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, info, err := Decode(bytes.NewReader(data), "fuzz", opt)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, not *FileError", err, err)
			}
			if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if m.C != 3 || m.W != info.Width || m.H != info.Height || m.W*m.H > fuzzMaxPixels {
			t.Fatalf("raster %dx%dx%d, info %+v", m.C, m.H, m.W, info)
		}
		for i, v := range m.Pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("sample %d = %v", i, v)
			}
		}
		hdr, err := DecodeInfo(bytes.NewReader(data), "fuzz", opt)
		if err != nil || hdr.Format != info.Format || hdr.Width != info.Width || hdr.Height != info.Height ||
			hdr.BitDepth != info.BitDepth || hdr.Gray != info.Gray || hdr.Orientation != info.Orientation {
			t.Fatalf("DecodeInfo %+v, %v; Decode %+v", hdr, err, info)
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode from fuzzSeeds")

// fuzzSeeds returns the seed corpus: a tiny image in each layout this
// package can produce (Go's encoders, crafted PNGs, and the libwebp and
// libjpeg files of testdata/libref), a truncated copy of each, and the bad
// inputs of the error tests.
func fuzzSeeds(t testing.TB) map[string][]byte {
	small := testImage(6, 5)
	opaque := image.NewRGBA(small.Rect)
	copy(opaque.Pix, small.Pix)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	gray16 := image.NewGray16(small.Rect)
	copy(gray16.Pix, small.Pix)
	rgba64 := image.NewNRGBA64(small.Rect)
	copy(rgba64.Pix, append(small.Pix, small.Pix...))
	pal := image.NewPaletted(small.Rect, color.Palette{color.NRGBA{200, 10, 10, 0}, color.RGBA{0, 255, 0, 255}, color.RGBA{1, 2, 3, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = small.Pix[i] % 3
	}
	gray := image.NewGray(small.Rect)
	copy(gray.Pix, small.Pix)
	var ga [][]byte
	for y := range 5 {
		ga = append(ga, small.Pix[y*small.Stride:y*small.Stride+12])
	}
	jpg := encodeJPEG(t, opaque, 75)

	seeds := map[string][]byte{
		"png-rgb8":        encodePNG(t, opaque),
		"png-rgba8":       encodePNG(t, small),
		"png-rgba16":      encodePNG(t, rgba64),
		"png-gray16":      encodePNG(t, gray16),
		"png-palette":     encodePNG(t, pal),
		"png-gray-alpha":  craftPNG(6, 5, 8, 4, ga),
		"jpeg-colour":     jpg,
		"jpeg-gray":       encodeJPEG(t, gray, 75),
		"jpeg-exif6":      withEXIF(jpg, 6, true),
		"bmp-rgb":         encodeBMP(t, opaque),
		"bmp-rgba":        encodeBMP(t, small),
		"bmp-palette":     encodeBMP(t, pal),
		"tiff-rgba":       encodeTIFF(t, small, tiff.Uncompressed),
		"tiff-gray16-zip": encodeTIFF(t, gray16, tiff.Deflate),
		"tiff-palette":    encodeTIFF(t, pal, tiff.Uncompressed),
	}
	for _, name := range []string{"webp_odd.webp", "webp_alpha.webp", "webp_lossless.webp", "jpegcmyk.jpg", "jpegycck.jpg", "jpeg420narrow.jpg"} {
		data, err := os.ReadFile(filepath.Join(libref, name))
		if err != nil {
			t.Fatal(err)
		}
		seeds[strings.ReplaceAll(strings.TrimSuffix(name, filepath.Ext(name)), "_", "-")] = data
	}
	whole := slices.Collect(maps.Keys(seeds))
	for _, name := range whole {
		seeds[name+"-cut"] = seeds[name][:len(seeds[name])/2]
	}
	huge := make([]byte, 13)
	copy(huge, []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 2}) // 20000x20000 RGB
	seeds["png-huge-header"] = append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", huge)...)
	seeds["text"] = []byte("not an image\n")
	seeds["empty"] = []byte{}
	return seeds
}

// TestFuzzCorpus checks that testdata/fuzz/FuzzDecode holds exactly the
// seeds fuzzSeeds makes, or rewrites it with -update-corpus. Files are
// compared by what they decode to, so that a change in Go's encoders does
// not fail the test as long as the seeds still cover the same cases.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	seeds := fuzzSeeds(t)
	if *updateCorpus {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test -run TestFuzzCorpus -update-corpus)", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		want, ok := seeds[e.Name()]
		if !ok {
			t.Errorf("stale seed %s (run go test -run TestFuzzCorpus -update-corpus)", e.Name())
			continue
		}
		got := readCorpusFile(t, filepath.Join(dir, e.Name()))
		if g, w := outcome(got), outcome(want); g != w {
			t.Errorf("seed %s decodes to %s, fuzzSeeds' to %s", e.Name(), g, w)
		}
	}
	for name := range seeds {
		if !slices.Contains(names, name) {
			t.Errorf("seed %s missing (run go test -run TestFuzzCorpus -update-corpus)", name)
		}
	}
	if len(seeds) < 40 {
		t.Errorf("only %d seeds", len(seeds))
	}
}

// readCorpusFile parses a "go test fuzz v1" file holding one []byte.
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a one-[]byte corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// outcome summarises what data decodes to: its Info, or the sentinel it
// fails with.
func outcome(data []byte) string {
	_, info, err := Decode(bytes.NewReader(data), "seed", Options{MaxPixels: fuzzMaxPixels})
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return "error: " + s.Error()
		}
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%+v", info)
}
