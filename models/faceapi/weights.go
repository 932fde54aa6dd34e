package faceapi

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Manifest files of the three networks, as the npm package names them. Each
// manifest names its binary shard(s) (face_recognition_model.bin etc.),
// which must lie in the same folder.
const (
	DetectorManifest    = "tiny_face_detector_model-weights_manifest.json"
	LandmarkManifest    = "face_landmark_68_model-weights_manifest.json"
	RecognitionManifest = "face_recognition_model-weights_manifest.json"
)

// Tensor is one dequantised weight tensor in TensorFlow.js layout: row-major,
// the last dimension fastest (convolution filters are [kh, kw, in, out]).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Weights is the set of tensors of one manifest, by name.
type Weights struct {
	// Source is the manifest path (or the name given to DecodeWeights); errors
	// mention it.
	Source  string
	Names   []string // manifest order
	Tensors map[string]*Tensor
}

// manifestGroup is one weight group of a tfjs weights manifest.
type manifestGroup struct {
	Paths   []string         `json:"paths"`
	Weights []manifestWeight `json:"weights"`
}

type manifestWeight struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	DType        string `json:"dtype"`
	Quantization *struct {
		DType string  `json:"dtype"`
		Scale float64 `json:"scale"`
		Min   float64 `json:"min"`
	} `json:"quantization"`
}

// ReadWeights reads a TensorFlow.js weights manifest
// (<model>-weights_manifest.json) and the binary shards it names, which are
// looked up in the manifest's folder. Quantised tensors (uint8 or uint16,
// value = min + scale*q) are dequantised to float32 exactly as
// tf.io.decodeWeights does. Errors name the file at fault.
func ReadWeights(manifestPath string) (*Weights, error) {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("faceapi: reading weights manifest: %w", err)
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("faceapi: %s: not a tfjs weights manifest: %w", manifestPath, err)
	}
	dir := filepath.Dir(manifestPath)
	w := &Weights{Source: manifestPath, Tensors: map[string]*Tensor{}}
	for gi, g := range groups {
		if len(g.Paths) == 0 {
			return nil, fmt.Errorf("faceapi: %s: weight group %d names no shard", manifestPath, gi)
		}
		// The group's shards are one byte stream split into files.
		var data []byte
		var shardNames []string
		for _, p := range g.Paths {
			if filepath.IsAbs(p) || strings.Contains(filepath.ToSlash(p), "..") {
				return nil, fmt.Errorf("faceapi: %s: shard path %q outside the manifest's folder", manifestPath, p)
			}
			sp := filepath.Join(dir, filepath.FromSlash(p))
			b, err := os.ReadFile(sp)
			if err != nil {
				return nil, fmt.Errorf("faceapi: weights shard of %s: %w", manifestPath, err)
			}
			data = append(data, b...)
			shardNames = append(shardNames, sp)
		}
		src := strings.Join(shardNames, "+")
		if err := w.decodeGroup(g.Weights, data, src); err != nil {
			return nil, err
		}
	}
	if len(w.Names) == 0 {
		return nil, fmt.Errorf("faceapi: %s: the manifest lists no weights", manifestPath)
	}
	return w, nil
}

// DecodeWeights decodes a manifest and the concatenated bytes of all its
// shards (in manifest order), for weights that do not come from files;
// name is used in errors.
func DecodeWeights(name string, manifest []byte, shards []byte) (*Weights, error) {
	var groups []manifestGroup
	if err := json.Unmarshal(manifest, &groups); err != nil {
		return nil, fmt.Errorf("faceapi: %s: not a tfjs weights manifest: %w", name, err)
	}
	var specs []manifestWeight
	for _, g := range groups {
		specs = append(specs, g.Weights...)
	}
	w := &Weights{Source: name, Tensors: map[string]*Tensor{}}
	if err := w.decodeGroup(specs, shards, name); err != nil {
		return nil, err
	}
	return w, nil
}

// decodeGroup decodes the tensors of specs stored back to back in data.
func (w *Weights) decodeGroup(specs []manifestWeight, data []byte, src string) error {
	off := 0
	for _, s := range specs {
		n := 1
		for _, d := range s.Shape {
			if d < 0 {
				return fmt.Errorf("faceapi: %s: tensor %q has negative shape %v", w.Source, s.Name, s.Shape)
			}
			n *= d
		}
		if s.DType != "float32" {
			return fmt.Errorf("faceapi: %s: tensor %q has dtype %q; only float32 weights are supported", w.Source, s.Name, s.DType)
		}
		if _, dup := w.Tensors[s.Name]; dup {
			return fmt.Errorf("faceapi: %s: tensor %q listed twice", w.Source, s.Name)
		}
		t := &Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...), Data: make([]float32, n)}
		size := 4
		if q := s.Quantization; q != nil {
			switch q.DType {
			case "uint8":
				size = 1
			case "uint16":
				size = 2
			default:
				return fmt.Errorf("faceapi: %s: tensor %q: quantization dtype %q not supported (uint8, uint16)", w.Source, s.Name, q.DType)
			}
		}
		if off+n*size > len(data) {
			return fmt.Errorf("faceapi: %s: shard too short: tensor %q needs bytes %d..%d, the shard has %d", src, s.Name, off, off+n*size, len(data))
		}
		b := data[off : off+n*size]
		switch size {
		case 4:
			for i := range t.Data {
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case 1:
			dequantize(t.Data, s.Quantization.Scale, s.Quantization.Min, func(i int) uint32 { return uint32(b[i]) })
		case 2:
			dequantize(t.Data, s.Quantization.Scale, s.Quantization.Min, func(i int) uint32 { return uint32(binary.LittleEndian.Uint16(b[2*i:])) })
		}
		off += n * size
		w.Names = append(w.Names, s.Name)
		w.Tensors[s.Name] = t
	}
	if off != len(data) {
		return fmt.Errorf("faceapi: %s: %d bytes, but the manifest %s accounts for %d", src, len(data), w.Source, off)
	}
	return nil
}

// dequantize sets dst[i] = float32(min + scale*q(i)), computed in float64 and
// rounded once, as tf.io.decodeWeights does. The explicit float64
// conversion of the product keeps the compiler from fusing it into an FMA.
func dequantize(dst []float32, scale, min float64, q func(int) uint32) {
	for i := range dst {
		dst[i] = float32(float64(float64(q(i))*scale) + min)
	}
}

// get returns the tensor name with the given shape.
func (w *Weights) get(name string, shape ...int) (*Tensor, error) {
	t, ok := w.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("faceapi: %s: no tensor %q", w.Source, name)
	}
	if !sameShape(t.Shape, shape) {
		return nil, fmt.Errorf("faceapi: %s: tensor %q has shape %v, want %v", w.Source, name, t.Shape, shape)
	}
	return t, nil
}

func sameShape(a, b []int) bool {
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

// loader collects the first error of a sequence of get calls, so that
// network constructors read as a list of tensors.
type loader struct {
	w    *Weights
	err  error
	used map[string]bool
}

func newLoader(w *Weights) *loader { return &loader{w: w, used: map[string]bool{}} }

// f returns the data of tensor name with the given shape, or nil after an
// error.
func (l *loader) f(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	t, err := l.w.get(name, shape...)
	if err != nil {
		l.err = err
		return nil
	}
	l.used[name] = true
	return t.Data
}

// done returns the first error, or an error naming tensors that the
// network did not use (a manifest of some other network).
func (l *loader) done() error {
	if l.err != nil {
		return l.err
	}
	var extra []string
	for _, n := range l.w.Names {
		if !l.used[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("faceapi: %s: unexpected tensors %s (weights of another network?)", l.w.Source, strings.Join(extra, ", "))
	}
	return nil
}
