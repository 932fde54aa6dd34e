package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"math"
	"sort"
)

// Tensor is a named float32 tensor to write, stored as DType (F32, F16 or
// BF16; empty means F32).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	DType DType
}

// Write writes tensors to path atomically (a temporary file in the same
// folder, then rename), sorted by name as the reference writer does. Names
// must be distinct and not "__metadata__".
func Write(path string, tensors []Tensor, meta map[string]string) error {
	ts := append([]Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	for i := 1; i < len(ts); i++ {
		if ts[i].Name == ts[i-1].Name {
			return fmt.Errorf("safetensors: writing %s: tensor name %q repeated", path, ts[i].Name)
		}
	}
	off := 0
	for i := range ts {
		if ts[i].Name == "__metadata__" {
			return fmt.Errorf("safetensors: writing %s: %q is reserved and cannot name a tensor", path, ts[i].Name)
		}
		if ts[i].DType == "" {
			ts[i].DType = F32
		}
		switch ts[i].DType {
		case F32, F16, BF16:
		default:
			return fmt.Errorf("safetensors: writing %s: tensor %q: cannot write dtype %q", path, ts[i].Name, ts[i].DType)
		}
		n := 1
		for _, d := range ts[i].Shape {
			n *= d
		}
		if n != len(ts[i].Data) {
			return fmt.Errorf("safetensors: writing %s: tensor %q: %d values for shape %v", path, ts[i].Name, len(ts[i].Data), ts[i].Shape)
		}
		size := n * ts[i].DType.Size()
		shape := ts[i].Shape
		if shape == nil {
			shape = []int{}
		}
		header[ts[i].Name] = Info{DType: ts[i].DType, Shape: shape, Offsets: [2]int{off, off + size}}
		off += size
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	tmp, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer tmp.Abort()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	w.Write(lenBuf[:])
	w.Write(hdr)
	// Encode a block of values at a time rather than one Write per value.
	const block = 1 << 14
	buf := make([]byte, 4*block)
	for _, t := range ts {
		for lo := 0; lo < len(t.Data); lo += block {
			vals := t.Data[lo:min(lo+block, len(t.Data))]
			var n int
			switch t.DType {
			case F32:
				for i, v := range vals {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
				n = 4 * len(vals)
			case F16:
				for i, v := range vals {
					binary.LittleEndian.PutUint16(buf[2*i:], F32ToF16(v))
				}
				n = 2 * len(vals)
			case BF16:
				for i, v := range vals {
					binary.LittleEndian.PutUint16(buf[2*i:], F32ToBF16(v))
				}
				n = 2 * len(vals)
			}
			w.Write(buf[:n]) // a write error sticks and is reported by Flush
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := tmp.Commit(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
