package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// pngChunk returns one PNG chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// craftPNG writes a PNG of any colour type and bit depth, which Go's encoder
// cannot all produce: rows are the unfiltered scanlines, extra are chunks
// placed between IHDR and IDAT (PLTE, tRNS).
func craftPNG(w, h int, depth, colorType byte, rows [][]byte, extra ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colorType
	b.Write(pngChunk("IHDR", ihdr))
	for _, c := range extra {
		b.Write(c)
	}
	if rows != nil {
		var raw bytes.Buffer
		for _, r := range rows {
			raw.WriteByte(0) // filter type None
			raw.Write(r)
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(raw.Bytes())
		zw.Close()
		b.Write(pngChunk("IDAT", z.Bytes()))
	}
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// testImage returns a deterministic NRGBA image with varied colours and
// alpha.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	s := rng.New(1, "imageio-test", "nrgba")
	for i := range m.Pix {
		m.Pix[i] = uint8(s.Intn(256))
	}
	return m
}

// smoothImage returns an opaque image with gentle gradients, which JPEG
// keeps well.
func smoothImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := m.PixOffset(x, y)
			m.Pix[i] = uint8(40 + 160*x/w)
			m.Pix[i+1] = uint8(40 + 160*y/h)
			m.Pix[i+2] = uint8(200 - 100*(x+y)/(w+h))
			m.Pix[i+3] = 255
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeBMP(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeTIFF(t testing.TB, m image.Image, c tiff.CompressionType) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, &tiff.Options{Compression: c}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withEXIF inserts an APP1 EXIF segment holding orientation o after the SOI
// marker of a JPEG file.
func withEXIF(jpg []byte, o uint16, bigEndian bool) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	tiffHdr := []byte("II*\x00\x08\x00\x00\x00")
	if bigEndian {
		bo, tiffHdr = binary.BigEndian, []byte("MM\x00*\x00\x00\x00\x08")
	}
	var t bytes.Buffer
	t.Write(tiffHdr)
	binary.Write(&t, bo, uint16(2)) // two IFD0 entries
	// An unrelated tag first (ImageDescription offset, ignored), then
	// Orientation, SHORT, count 1.
	binary.Write(&t, bo, []uint16{0x010e, 2})
	binary.Write(&t, bo, []uint32{1, 0})
	binary.Write(&t, bo, []uint16{0x0112, 3})
	binary.Write(&t, bo, uint32(1))
	binary.Write(&t, bo, []uint16{o, 0})
	binary.Write(&t, bo, uint32(0)) // no next IFD
	seg := append([]byte("Exif\x00\x00"), t.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xff, 0xe1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(jpg[2:])
	return out.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeBytes(t testing.TB, data []byte) (*raster.Image, Info) {
	t.Helper()
	m, info, err := Decode(bytes.NewReader(data), "test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, info
}
