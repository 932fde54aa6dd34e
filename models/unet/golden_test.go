package unet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
)

// readTensor reads one float32 tensor from a safetensors file.
func readTensor(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	d, shape, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return tensor.FromData(d, shape...)
}

// goldenIO opens unet_tiny_io.safetensors and returns x and the timesteps.
func goldenIO(t *testing.T) (*safetensors.File, *tensor.Tensor, []float32) {
	t.Helper()
	path := fixture.Dir(t, "fixtures", "diffusers", "unet_tiny_io.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	x := readTensor(t, f, "x")
	ts, _, err := f.Int64("timesteps_int64")
	if err != nil {
		t.Fatal(err)
	}
	steps := make([]float32, len(ts))
	for i, v := range ts {
		steps[i] = float32(v)
	}
	return f, x, steps
}

func loadTiny(t *testing.T) *Model {
	t.Helper()
	m, err := Load(fixture.Dir(t, "fixtures", "diffusers", "unet_tiny"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGoldenTiny compares the output and every stored intermediate of the
// fixture's tiny model with diffusers 0.21.1.
func TestGoldenTiny(t *testing.T) {
	f, x, steps := goldenIO(t)
	m := loadTiny(t)
	if got := m.NumParams(); got != 1113955 {
		t.Errorf("NumParams = %d, want 1113955", got)
	}
	m.Hooks = map[string]*tensor.Tensor{}
	for _, record := range []bool{false, true} {
		g := ag.NewGraph(record)
		y := m.Forward(g, ag.Const(x), steps)
		want := readTensor(t, f, "out.sample")
		if d := tensor.MaxAbsDiff(y.Value, want); d > 1e-4 {
			t.Errorf("record=%v: out.sample max abs diff %.3g > 1e-4", record, d)
		} else {
			t.Logf("record=%v: out.sample max abs diff %.3g", record, d)
		}
	}
	n := 0
	for _, name := range f.Names() {
		key, ok := strings.CutPrefix(name, "hook.")
		if !ok {
			continue
		}
		n++
		got := m.Hooks[key]
		if got == nil {
			t.Errorf("no hook %q", key)
			continue
		}
		want := readTensor(t, f, name)
		if !tensor.SameShape(got.Shape, want.Shape) {
			t.Errorf("hook %s: shape %v, want %v", key, got.Shape, want.Shape)
			continue
		}
		d := tensor.MaxAbsDiff(got, want)
		if d > 1e-4 {
			t.Errorf("hook %s: max abs diff %.3g > 1e-4", key, d)
		} else {
			t.Logf("hook %-28s max abs diff %.3g", key, d)
		}
	}
	if n != 14 {
		t.Errorf("compared %d hooks, want the fixture's 14", n)
	}
}

// TestGoldenFloatTimesteps checks that a float32 timestep vector and a single
// broadcast timestep behave as diffusers does.
func TestGoldenBroadcastTimestep(t *testing.T) {
	_, x, steps := goldenIO(t)
	m := loadTiny(t)
	g := ag.NewGraph(false)
	both := m.Forward(g, ag.Const(x), steps).Value.Clone()
	// Sample 0 alone at its timestep, through a broadcast of one value.
	x0 := tensor.FromData(x.Data[:x.Numel()/2], 1, 3, 32, 32)
	one := m.Forward(g, ag.Const(x0), steps[:1]).Value
	if d := tensor.MaxAbsDiff(one, tensor.FromData(both.Data[:both.Numel()/2], 1, 3, 32, 32)); d > 1e-5 {
		t.Errorf("batch of 1 differs from the batch of 2 by %.3g", d)
	}
	x2 := tensor.New(2, 3, 32, 32)
	copy(x2.Data, x0.Data)
	copy(x2.Data[x0.Numel():], x0.Data)
	dup := m.Forward(g, ag.Const(x2), steps[:1]).Value
	if d := tensor.MaxAbsDiff(tensor.FromData(dup.Data[x0.Numel():], 1, 3, 32, 32), one); d > 1e-5 {
		t.Errorf("broadcast timestep: second sample differs by %.3g", d)
	}
}

// legacyCheckpoint builds the full legacy-named checkpoint of README
// section 5 in a temporary model folder.
func legacyCheckpoint(t *testing.T) string {
	t.Helper()
	tiny := fixture.Dir(t, "fixtures", "diffusers", "unet_tiny")
	legacyPath := fixture.Dir(t, "fixtures", "diffusers", "unet_legacy_keys.safetensors")
	base, err := safetensors.ReadAll(filepath.Join(tiny, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := safetensors.ReadAll(legacyPath)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	dropped := 0
	for name, v := range base {
		if strings.Contains(name, ".to_q.") || strings.Contains(name, ".to_k.") || strings.Contains(name, ".to_v.") || strings.Contains(name, ".to_out.0.") {
			dropped++
			continue
		}
		if _, ok := legacy[name]; ok {
			continue // group_norm: same name in both
		}
		ts = append(ts, safetensors.Tensor{Name: name, Shape: v.Shape, Data: v.Data})
	}
	for name, v := range legacy {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: v.Shape, Data: v.Data})
	}
	if dropped != 32 || len(ts) != 182 {
		t.Fatalf("legacy checkpoint: dropped %d (want 32), %d tensors (want 182)", dropped, len(ts))
	}
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(tiny, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLegacyKeys(t *testing.T) {
	f, x, steps := goldenIO(t)
	ref := loadTiny(t)
	m, err := Load(legacyCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ref.Params() {
		q := m.Param(p.Name)
		if q == nil || tensor.MaxAbsDiff(p.Value, q.Value) != 0 {
			t.Fatalf("parameter %s differs after loading legacy names", p.Name)
		}
	}
	g := ag.NewGraph(false)
	y := m.Forward(g, ag.Const(x), steps)
	if d := tensor.MaxAbsDiff(y.Value, readTensor(t, f, "out.sample")); d > 1e-4 {
		t.Errorf("legacy checkpoint output differs by %.3g", d)
	}
}

// officialShapes is unet_official_shapes.json.
type officialShapes struct {
	ResolvedConfig  json.RawMessage `json:"resolved_config"`
	TotalParameters int             `json:"total_parameters"`
	StateDict       []struct {
		Key   string `json:"key"`
		Shape []int  `json:"shape"`
	} `json:"state_dict"`
	LegacyAttentionModulePaths []string `json:"legacy_attention_module_paths"`
}

func TestReferenceShapes(t *testing.T) {
	b, err := os.ReadFile(fixture.Dir(t, "fixtures", "diffusers", "unet_official_shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want officialShapes
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseConfig(want.ResolvedConfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{"ReferenceConfig": ReferenceConfig(), "resolved_config": parsed} {
		// Zero weights (nil stream): the shapes are what matter here.
		m, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ps := m.Params()
		if len(ps) != len(want.StateDict) {
			t.Fatalf("%s: %d parameters, want %d", name, len(ps), len(want.StateDict))
		}
		for i, e := range want.StateDict {
			if ps[i].Name != e.Key || !tensor.SameShape(ps[i].Value.Shape, e.Shape) {
				t.Fatalf("%s: entry %d is %s %v, want %s %v", name, i, ps[i].Name, ps[i].Value.Shape, e.Key, e.Shape)
			}
		}
		if got := m.NumParams(); got != want.TotalParameters || got != 101121795 {
			t.Errorf("%s: %d parameters, want %d", name, got, want.TotalParameters)
		}
		var attn []string
		for a := range m.attnNames {
			attn = append(attn, a)
		}
		sort.Strings(attn)
		exp := append([]string(nil), want.LegacyAttentionModulePaths...)
		sort.Strings(exp)
		if strings.Join(attn, ",") != strings.Join(exp, ",") {
			t.Errorf("%s: attention modules %v, want %v", name, attn, exp)
		}
	}
}

// TestTinyOrder checks the fixture checkpoint's key set against a freshly
// built tiny model: the 182 tensors and their shapes.
func TestTinyKeys(t *testing.T) {
	path := filepath.Join(fixture.Dir(t, "fixtures", "diffusers", "unet_tiny"), WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := MustNew(TinyConfig(), nil)
	names := f.Names()
	if len(names) != 182 || len(m.Params()) != 182 {
		t.Fatalf("%d tensors in the file, %d parameters, want 182", len(names), len(m.Params()))
	}
	for _, n := range names {
		in, _ := f.Info(n)
		p := m.Param(n)
		if p == nil || !tensor.SameShape(p.Value.Shape, in.Shape) {
			t.Errorf("%s %v: no such parameter in the tiny preset", n, in.Shape)
		}
	}
}
