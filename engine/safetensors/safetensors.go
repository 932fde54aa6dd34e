// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping tensor names to dtype,
// shape and byte offsets, then the raw little-endian data.
//
// Open reads only the header and validates it as the reference library
// does: known dtypes, sizes that match the shapes, and tensors that tile the
// data exactly, with no overlap, hole or trailing byte. Tensor data is read
// on demand with ReadAt, so a large file is never held in memory twice.
// Every error names the file and, where it applies, the tensor.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"

	"github.com/degradiff/degradiff/engine/tensor"
)

// DType is a tensor element type as spelled in the header.
type DType string

// The element types of the format. Float32 converts all of them except the
// 8-bit floats, whose files can still be opened. Only F32, F16 and BF16 are
// written.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

// Size returns the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case U8, I8, Bool, F8E4M3, F8E5M2:
		return 1
	}
	return 0
}

// maxHeader bounds the JSON header so a corrupt length cannot exhaust memory.
const maxHeader = 100 << 20

// Info describes one tensor in a file.
type Info struct {
	DType   DType  `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// File is an open safetensors file.
type File struct {
	path     string
	f        io.ReaderAt
	closer   io.Closer // nil for NewReader files
	dataBase int64
	infos    map[string]Info
	meta     map[string]string
}

// Open reads and validates the header of the file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("safetensors: %w: %w", ErrNotFound, err)
		}
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := readHeader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func readHeader(path string, f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("safetensors: %s: is a directory", path)
	}
	sf, err := parseHeader(path, f, st.Size())
	if err != nil {
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// NewReader reads the header of a safetensors file held by r (size bytes),
// for example one embedded in the binary. name is used in error messages.
func NewReader(name string, r io.ReaderAt, size int64) (*File, error) {
	return parseHeader(name, r, size)
}

func parseHeader(path string, ra io.ReaderAt, size int64) (*File, error) {
	f := io.NewSectionReader(ra, 0, size)
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %s: truncated: cannot read the 8-byte header length (file has %d bytes): %w", path, size, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeader {
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit (not a safetensors file?)", path, hlen, maxHeader)
	}
	if int64(hlen) > size-8 {
		return nil, fmt.Errorf("safetensors: %s: truncated header: header length %d but only %d bytes follow", path, hlen, size-8)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("safetensors: %s: truncated header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: %s: bad JSON header: %w", path, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("safetensors: %s: bad JSON header: not an object", path)
	}
	sf := &File{path: path, f: ra, dataBase: 8 + int64(hlen), infos: map[string]Info{}}
	dataLen := size - sf.dataBase
	type span struct {
		name   string
		lo, hi int64
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.meta); err != nil {
				return nil, fmt.Errorf("safetensors: %s: bad __metadata__ (want string values): %w", path, err)
			}
			continue
		}
		// Decode the offsets into a slice: encoding/json would silently
		// drop extra elements of a fixed-size array.
		var e struct {
			DType   DType `json:"dtype"`
			Shape   []int `json:"shape"`
			Offsets []int `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: bad header entry: %w", path, name, err)
		}
		if len(e.Offsets) != 2 {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: data_offsets %v, want [begin, end]", path, name, e.Offsets)
		}
		in := Info{DType: e.DType, Shape: e.Shape, Offsets: [2]int{e.Offsets[0], e.Offsets[1]}}
		if in.DType.Size() == 0 {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: unknown dtype %q", path, name, in.DType)
		}
		if in.Shape == nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: no shape", path, name)
		}
		// Count bytes in int64 with an overflow check: a lying shape must
		// not wrap around to match the offsets.
		nbytes := int64(in.DType.Size())
		for _, d := range in.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: %s: tensor %q: negative dimension in shape %v", path, name, in.Shape)
			}
			if d != 0 && nbytes > math.MaxInt64/int64(d) {
				return nil, fmt.Errorf("safetensors: %s: tensor %q: shape %v is too large", path, name, in.Shape)
			}
			nbytes *= int64(d)
		}
		lo, hi := int64(in.Offsets[0]), int64(in.Offsets[1])
		if lo < 0 || hi < lo || hi > dataLen {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: offsets [%d, %d] outside the %d data bytes (truncated file or lying header)", path, name, lo, hi, dataLen)
		}
		if hi-lo != nbytes {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %d bytes for shape %v of %s (want %d)", path, name, hi-lo, in.Shape, in.DType, nbytes)
		}
		sf.infos[name] = in
		spans = append(spans, span{name, lo, hi})
	}
	// The format requires the tensors to tile the data exactly, without
	// overlaps, holes or trailing bytes.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].lo != spans[j].lo {
			return spans[i].lo < spans[j].lo
		}
		return spans[i].hi < spans[j].hi
	})
	end := int64(0)
	for i, sp := range spans {
		switch {
		case sp.lo < end:
			return nil, fmt.Errorf("safetensors: %s: tensors %q and %q overlap", path, spans[i-1].name, sp.name)
		case sp.lo > end:
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %d unused data bytes before offset %d", path, sp.name, sp.lo-end, sp.lo)
		}
		end = sp.hi
	}
	if end != dataLen {
		return nil, fmt.Errorf("safetensors: %s: %d data bytes after the last tensor (header covers %d of %d)", path, dataLen-end, end, dataLen)
	}
	return sf, nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.infos))
	for n := range f.infos {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Metadata returns the header's __metadata__ map (may be nil).
func (f *File) Metadata() map[string]string { return f.meta }

// Info returns the description of a tensor and whether it exists.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	return in, ok
}

// Bytes returns the raw little-endian bytes of a tensor.
func (f *File) Bytes(name string) ([]byte, Info, error) {
	in, ok := f.infos[name]
	if !ok {
		return nil, in, fmt.Errorf("safetensors: %s: no tensor %q", f.path, name)
	}
	buf := make([]byte, in.Offsets[1]-in.Offsets[0])
	if _, err := f.f.ReadAt(buf, f.dataBase+int64(in.Offsets[0])); err != nil {
		return nil, in, fmt.Errorf("safetensors: %s: reading tensor %q: %w", f.path, name, err)
	}
	return buf, in, nil
}

// Float32 returns a tensor converted to float32 (from any dtype but the
// 8-bit floats; 64-bit integers beyond 2^24 are rounded) with its shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	buf, in, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, len(buf)/in.DType.Size())
	le := binary.LittleEndian
	switch in.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(buf[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(le.Uint16(buf[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToF32(le.Uint16(buf[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(buf[8*i:])))
		}
	case I64:
		for i := range out {
			out[i] = float32(int64(le.Uint64(buf[8*i:])))
		}
	case U64:
		for i := range out {
			out[i] = float32(le.Uint64(buf[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = float32(int32(le.Uint32(buf[4*i:])))
		}
	case U32:
		for i := range out {
			out[i] = float32(le.Uint32(buf[4*i:]))
		}
	case I16:
		for i := range out {
			out[i] = float32(int16(le.Uint16(buf[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = float32(le.Uint16(buf[2*i:]))
		}
	case I8:
		for i, b := range buf {
			out[i] = float32(int8(b))
		}
	case U8, Bool:
		for i, b := range buf {
			out[i] = float32(b)
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: cannot convert %s to float32", f.path, name, in.DType)
	}
	return out, in.Shape, nil
}

// integer reports whether d is an integer type (including BOOL).
func (d DType) integer() bool {
	switch d {
	case I64, I32, I16, I8, U64, U32, U16, U8, Bool:
		return true
	}
	return false
}

// Float64 returns a tensor converted to float64 with its shape. Integers
// other than U64 convert exactly.
func (f *File) Float64(name string) ([]float64, []int, error) {
	in, ok := f.infos[name]
	if ok && in.DType == F64 {
		buf, _, err := f.Bytes(name)
		if err != nil {
			return nil, nil, err
		}
		out := make([]float64, len(buf)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		}
		return out, in.Shape, nil
	}
	if ok && in.DType != U64 && in.DType.integer() {
		v, s, err := f.Int64(name)
		if err != nil {
			return nil, nil, err
		}
		out := make([]float64, len(v))
		for i := range v {
			out[i] = float64(v[i])
		}
		return out, s, nil
	}
	v, s, err := f.Float32(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float64, len(v))
	for i := range v {
		out[i] = float64(v[i])
	}
	return out, s, nil
}

// Int64 returns an integer tensor (I64, I32, I16, I8, U32, U16, U8 or BOOL)
// as int64 values with its shape.
func (f *File) Int64(name string) ([]int64, []int, error) {
	buf, in, err := f.Bytes(name)
	if err != nil {
		return nil, nil, err
	}
	var out []int64
	switch in.DType {
	case I64:
		out = make([]int64, len(buf)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	case I32:
		out = make([]int64, len(buf)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	case I16:
		out = make([]int64, len(buf)/2)
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(buf[2*i:])))
		}
	case U32:
		out = make([]int64, len(buf)/4)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case U16:
		out = make([]int64, len(buf)/2)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case I8:
		out = make([]int64, len(buf))
		for i := range out {
			out[i] = int64(int8(buf[i]))
		}
	case U8, Bool:
		out = make([]int64, len(buf))
		for i := range out {
			out[i] = int64(buf[i])
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q is %s, not an integer type", f.path, name, in.DType)
	}
	return out, in.Shape, nil
}

// ReadAll reads every tensor of the file at path, converted to float32.
func ReadAll(path string) (map[string]*tensor.Tensor, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]*tensor.Tensor, len(f.infos))
	for name := range f.infos {
		data, shape, err := f.Float32(name)
		if err != nil {
			return nil, err
		}
		out[name] = tensor.FromData(data, shape...)
	}
	return out, nil
}

// ErrNotFound is returned (wrapped, together with fs.ErrNotExist) by Open
// for a missing file.
var ErrNotFound = errors.New("not found")

// F16ToF32 converts an IEEE 754 half-precision value to float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 converts a float32 to half precision, rounding to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if b&0x7fffffff > 0x7f800000 { // NaN
		return sign | 0x7e00
	}
	if exp >= 0x1f {
		return sign | 0x7c00 // overflow to infinity
	}
	if exp <= 0 {
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(r)
}

// BF16ToF32 converts a bfloat16 value to float32 (exactly).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts a float32 to bfloat16, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
