package nn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
)

// Count returns the number of scalars in params.
func Count(params []*ag.Var) int {
	n := 0
	for _, p := range params {
		n += p.Value.Numel()
	}
	return n
}

// StateDict returns the parameter values keyed by name. The tensors are
// the parameters' own (not copies), as in PyTorch. It panics if two
// parameters share a name, which is a bug in the model's construction.
func StateDict(params []*ag.Var) map[string]*tensor.Tensor {
	sd := make(map[string]*tensor.Tensor, len(params))
	for _, p := range params {
		if _, dup := sd[p.Name]; dup {
			panic(fmt.Sprintf("nn.StateDict: two parameters named %q", p.Name))
		}
		sd[p.Name] = p.Value
	}
	return sd
}

// Mismatch is a state-dict entry whose shape differs from its parameter's.
type Mismatch struct {
	Name string
	Want []int // the parameter's shape
	Got  []int // the entry's shape
}

// StateDictError lists everything that keeps a state dict from fitting a
// set of parameters.
type StateDictError struct {
	Missing    []string   // parameters with no entry
	Unexpected []string   // entries with no parameter
	Mismatched []Mismatch // entries of the wrong shape
	Repeated   []string   // names given to more than one parameter or entry
}

// Error formats the problem for people.
func (e *StateDictError) Error() string {
	var b strings.Builder
	b.WriteString("state dict does not fit the model")
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; %d missing keys: %s", len(e.Missing), strings.Join(e.Missing, ", "))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "; %d unexpected keys: %s", len(e.Unexpected), strings.Join(e.Unexpected, ", "))
	}
	if len(e.Mismatched) > 0 {
		fmt.Fprintf(&b, "; %d shape mismatches:", len(e.Mismatched))
		for i, m := range e.Mismatched {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %s (model %v, state dict %v)", m.Name, m.Want, m.Got)
		}
	}
	if len(e.Repeated) > 0 {
		fmt.Fprintf(&b, "; %d repeated names: %s", len(e.Repeated), strings.Join(e.Repeated, ", "))
	}
	return b.String()
}

// match checks entries (name -> shape) against params and returns the
// problems, or nil.
func match(params []*ag.Var, shapes map[string][]int, repeated []string) *StateDictError {
	e := &StateDictError{Repeated: repeated}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if seen[p.Name] {
			e.Repeated = append(e.Repeated, p.Name)
			continue
		}
		seen[p.Name] = true
		s, ok := shapes[p.Name]
		switch {
		case !ok:
			e.Missing = append(e.Missing, p.Name)
		case !tensor.SameShape(s, p.Value.Shape):
			e.Mismatched = append(e.Mismatched, Mismatch{p.Name, p.Value.Shape, s})
		}
	}
	for name := range shapes {
		if !seen[name] {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched)+len(e.Repeated) == 0 {
		return nil
	}
	sort.Strings(e.Missing)
	sort.Strings(e.Unexpected)
	sort.Strings(e.Repeated)
	sort.Slice(e.Mismatched, func(i, j int) bool { return e.Mismatched[i].Name < e.Mismatched[j].Name })
	return e
}

// LoadStateDict copies the values of sd into params, matched by name. It
// changes nothing and returns a *StateDictError if any parameter lacks an
// entry, any entry lacks a parameter or any shape differs.
func LoadStateDict(params []*ag.Var, sd map[string]*tensor.Tensor) error {
	shapes := make(map[string][]int, len(sd))
	for name, t := range sd {
		shapes[name] = t.Shape
	}
	if err := match(params, shapes, nil); err != nil {
		return fmt.Errorf("nn: LoadStateDict: %w", err)
	}
	for _, p := range params {
		copy(p.Value.Data, sd[p.Name].Data)
	}
	return nil
}

// Save writes params to a safetensors file at path, converted to dtype
// (F32, F16 or BF16), with the given metadata (may be nil). The file is
// replaced atomically.
func Save(path string, params []*ag.Var, dtype safetensors.DType, meta map[string]string) error {
	ts := make([]safetensors.Tensor, len(params))
	for i, p := range params {
		if p.Name == "" {
			return fmt.Errorf("nn: saving %s: parameter %d (shape %v) has no name", path, i, p.Value.Shape)
		}
		ts[i] = safetensors.Tensor{Name: p.Name, Shape: p.Value.Shape, Data: p.Value.Data, DType: dtype}
	}
	if err := safetensors.Write(path, ts, meta); err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	return nil
}

// Load reads the parameters from the safetensors file at path, converting
// any float dtype to float32. rename, if not nil, maps each name in the
// file to a parameter name (for checkpoints with older key names); an
// empty result skips that tensor. The file must then supply every
// parameter exactly once with its shape, and nothing else: otherwise Load
// changes nothing and returns an error wrapping a *StateDictError. Only an
// I/O error while reading the data, after these checks, can leave the
// parameters partly loaded.
func Load(path string, params []*ag.Var, rename func(string) string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("nn: loading: %w", err)
	}
	defer f.Close()
	shapes := map[string][]int{}
	source := map[string]string{} // parameter name -> name in the file
	var repeated []string
	for _, name := range f.Names() {
		key := name
		if rename != nil {
			if key = rename(name); key == "" {
				continue
			}
		}
		if prev, dup := source[key]; dup {
			repeated = append(repeated, fmt.Sprintf("%s (from %s and %s)", key, prev, name))
			continue
		}
		info, _ := f.Info(name)
		shapes[key] = info.Shape
		source[key] = name
	}
	if err := match(params, shapes, repeated); err != nil {
		return fmt.Errorf("nn: loading %s: %w", path, err)
	}
	for _, p := range params {
		data, _, err := f.Float32(source[p.Name])
		if err != nil {
			return fmt.Errorf("nn: loading: %w", err)
		}
		copy(p.Value.Data, data)
	}
	return nil
}
