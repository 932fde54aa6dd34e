package imageio

import (
	"encoding/binary"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/raster"
)

// jpegOrientation returns the EXIF orientation (1 to 8) from the JPEG
// segments before the frame header in b, or 1 when there is none or it is
// malformed.
func jpegOrientation(b []byte) int {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd7: // no length
			i += 2
			continue
		case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc,
			marker == 0xda: // frame or scan header: EXIF comes before these
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return exifOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF block.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 1
	}
	n := int64(bo.Uint16(t[off:]))
	for k := int64(0); k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		// Type 3 is SHORT; its value sits in the first two bytes of the
		// value field.
		if bo.Uint16(t[e+2:]) != 3 || bo.Uint32(t[e+4:]) < 1 {
			return 1
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// orient applies EXIF orientation o to m the way OpenCV's
// ApplyExifOrientation does, returning m itself for o == 1.
func orient(m *raster.Image, o int) *raster.Image {
	if o <= 1 || o > 8 {
		return m
	}
	h, w := m.H, m.W
	oh, ow := h, w
	if o >= 5 {
		oh, ow = w, h
	}
	out := raster.New(m.C, oh, ow)
	// Output row y reads the source at base, base+step, base+2*step, ...
	var line func(y int) (base, step int)
	switch o {
	case 2: // mirror left-right
		line = func(y int) (int, int) { return y*w + w - 1, -1 }
	case 3: // rotate 180
		line = func(y int) (int, int) { return (h-1-y)*w + w - 1, -1 }
	case 4: // mirror top-bottom
		line = func(y int) (int, int) { return (h - 1 - y) * w, 1 }
	case 5: // transpose
		line = func(y int) (int, int) { return y, w }
	case 6: // rotate 90 clockwise
		line = func(y int) (int, int) { return (h-1)*w + y, -w }
	case 7: // transverse
		line = func(y int) (int, int) { return (h-1)*w + w - 1 - y, -w }
	case 8: // rotate 90 counter-clockwise
		line = func(y int) (int, int) { return w - 1 - y, w }
	}
	n := h * w
	parallel.For(oh, max(1, (1<<15)/ow), func(y0, y1 int) {
		for c := 0; c < m.C; c++ {
			in, dst := m.Pix[c*n:(c+1)*n], out.Pix[c*n:(c+1)*n]
			for y := y0; y < y1; y++ {
				row := dst[y*ow : (y+1)*ow]
				i, step := line(y)
				for x := range row {
					row[x] = in[i]
					i += step
				}
			}
		}
	})
	return out
}
