package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
// folder, then rename), sorted by name as the reference writer does.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	ts := append([]Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	off := 0
	for i := range ts {
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
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	w.Write(lenBuf[:])
	w.Write(hdr)
	var b [4]byte
	for _, t := range ts {
		for _, v := range t.Data {
			switch t.DType {
			case F32:
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
				w.Write(b[:4])
			case F16:
				binary.LittleEndian.PutUint16(b[:], F32ToF16(v))
				w.Write(b[:2])
			case BF16:
				binary.LittleEndian.PutUint16(b[:], F32ToBF16(v))
				w.Write(b[:2])
			}
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}
