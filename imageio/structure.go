package imageio

import (
	"bytes"
	"encoding/binary"
)

// A structureWalker follows the container structure of a file as its bytes
// stream past, to tell a truncated file from a corrupt one when a decoder
// only says "invalid format". Go's PNG and JPEG decoders report running out
// of data inside compressed image data that way.
type structureWalker interface {
	Write(p []byte) (int, error)
	// complete reports whether the end marker of the file went past.
	complete() bool
}

func newWalker(format string) structureWalker {
	switch format {
	case "png":
		return &pngWalker{skip: 8}
	case "jpeg":
		return &jpegWalker{skip: 2}
	}
	return nil
}

// pngWalker skips from chunk header to chunk header and notes the end of
// IEND.
type pngWalker struct {
	skip int64  // bytes left of the signature or of the chunk's data and CRC
	hdr  []byte // a partly seen chunk header
	iend bool   // skipping IEND's CRC
	done bool
}

func (w *pngWalker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		if w.skip > 0 {
			k := min(int64(len(p)), w.skip)
			w.skip -= k
			p = p[k:]
			w.done = w.skip == 0 && w.iend
			continue
		}
		k := min(8-len(w.hdr), len(p))
		w.hdr = append(w.hdr, p[:k]...)
		p = p[k:]
		if len(w.hdr) == 8 {
			w.skip = int64(binary.BigEndian.Uint32(w.hdr)) + 4
			w.iend = string(w.hdr[4:]) == "IEND"
			w.hdr = w.hdr[:0]
		}
	}
	return n, nil
}

func (w *pngWalker) complete() bool { return w.done }

// jpegWalker skips marker segments by their lengths and scans entropy-coded
// data for the next marker, until EOI. Thumbnails inside APP1 are skipped
// with their segment, so their EOI does not count.
type jpegWalker struct {
	skip     int    // bytes left of SOI or of a segment
	state    int    // jpegMarker, jpegLength or jpegEntropy
	ff       bool   // the last byte seen was 0xff
	lenBuf   []byte // a partly seen segment length
	afterSOS bool   // entropy-coded data follows the segment being skipped
	done     bool
}

const (
	jpegMarker = iota
	jpegLength
	jpegEntropy
)

func (w *jpegWalker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !w.done {
		if w.skip > 0 {
			k := min(len(p), w.skip)
			w.skip -= k
			p = p[k:]
			if w.skip == 0 && w.afterSOS {
				w.state, w.afterSOS = jpegEntropy, false
			}
			continue
		}
		switch w.state {
		case jpegLength:
			k := min(2-len(w.lenBuf), len(p))
			w.lenBuf = append(w.lenBuf, p[:k]...)
			p = p[k:]
			if len(w.lenBuf) == 2 {
				w.skip = max(int(binary.BigEndian.Uint16(w.lenBuf))-2, 0)
				w.lenBuf = w.lenBuf[:0]
				w.state = jpegMarker
				if w.skip == 0 && w.afterSOS {
					w.state, w.afterSOS = jpegEntropy, false
				}
			}
		case jpegEntropy:
			if !w.ff {
				i := bytes.IndexByte(p, 0xff)
				if i < 0 {
					return n, nil
				}
				p, w.ff = p[i+1:], true
				continue
			}
			b := p[0]
			p = p[1:]
			switch {
			case b == 0xff: // fill byte: still after 0xff
			case b == 0x00 || b >= 0xd0 && b <= 0xd7: // stuffed byte or restart marker
				w.ff = false
			default:
				w.ff = false
				w.marker(b)
			}
		default: // jpegMarker: expecting 0xff then a marker code
			b := p[0]
			p = p[1:]
			switch {
			case !w.ff:
				w.ff = b == 0xff
			case b == 0xff:
			default:
				w.ff = false
				w.marker(b)
			}
		}
	}
	return n, nil
}

// marker handles marker code b.
func (w *jpegWalker) marker(b byte) {
	switch {
	case b == 0xd9:
		w.done = true
	case b == 0x01 || b >= 0xd0 && b <= 0xd8: // no length
		w.state = jpegMarker
	default:
		w.state = jpegLength
		w.afterSOS = b == 0xda
	}
}

func (w *jpegWalker) complete() bool { return w.done }
