package runfolder

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/tensor"
)

func ck(step int) Checkpoint {
	return Checkpoint{
		Step: step,
		Groups: map[string]map[string]*tensor.Tensor{
			"model": {"w": tensor.FromData([]float32{1, 2, float32(step)}, 3)},
			"ema":   {"w": tensor.FromData([]float32{4, 5, 6}, 3)},
		},
		State: json.RawMessage(`{"epoch":2}`),
	}
}

func TestSaveLoadPruneResolve(t *testing.T) {
	r, err := Create(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{10, 20, 30} {
		if _, err := r.Save(ck(s)); err != nil {
			t.Fatal(err)
		}
	}
	steps, _ := r.Steps()
	if len(steps) != 2 || steps[0] != 20 || steps[1] != 30 {
		t.Fatalf("kept %v, want [20 30]", steps)
	}
	p, err := r.Resolve("latest")
	if err != nil || !strings.HasSuffix(p, "step-00000030") {
		t.Fatalf("latest = %s, %v", p, err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 30 || got.Groups["model"]["w"].Data[2] != 30 || string(got.State) != `{"epoch":2}` {
		t.Fatalf("loaded %+v", got)
	}
	if p2, err := r.Resolve(r.Dir); err != nil || p2 != p {
		t.Fatalf("resolving the run folder gave %s, %v", p2, err)
	}
	// No temporary folders are left behind.
	entries, _ := os.ReadDir(filepath.Join(r.Dir, "checkpoints"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temporary folder %s left", e.Name())
		}
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	r, _ := Create(t.TempDir(), 0)
	p, _ := r.Save(ck(5))
	// Truncate the model weights.
	w := filepath.Join(p, "model.safetensors")
	b, _ := os.ReadFile(w)
	os.WriteFile(w, b[:len(b)-3], 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("truncated weights: %v", err)
	}
	os.WriteFile(filepath.Join(p, "state.json"), []byte("{"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Fatalf("corrupt state: %v", err)
	}
	if _, err := r.Resolve(filepath.Join(r.Dir, "nothing")); err == nil {
		t.Fatal("resolving a missing path succeeded")
	}
	empty, _ := Create(t.TempDir(), 0)
	if _, err := empty.Resolve("latest"); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Fatalf("latest without checkpoints: %v", err)
	}
}

func TestTruncateLog(t *testing.T) {
	r, _ := Create(t.TempDir(), 0)
	for s := 1; s <= 5; s++ {
		r.Log(map[string]any{"step": s, "loss": 0.5})
	}
	r.Log(map[string]any{"event": "start"})
	if err := r.TruncateLog(3); err != nil {
		t.Fatal(err)
	}
	r.Log(map[string]any{"step": 4, "loss": 0.1})
	r.Close()
	var steps []int
	r.ReadLog(func(line []byte) error {
		var v struct{ Step int }
		json.Unmarshal(line, &v)
		steps = append(steps, v.Step)
		return nil
	})
	want := []int{1, 2, 3, 0, 4}
	if len(steps) != len(want) {
		t.Fatalf("log steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("log steps %v, want %v", steps, want)
		}
	}
}

// Issue 12 case 8: flipped bytes in tensor data and NaN weights are found
// on load.
func TestLoadVerifiesSumsAndFiniteness(t *testing.T) {
	r, err := Create(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Save(ck(1))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(p, "ema.safetensors")
	b, _ := os.ReadFile(f)
	b[len(b)-1] ^= 0x40 // a bit of the last float
	os.WriteFile(f, b, 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), "ema.safetensors") {
		t.Fatalf("flipped byte: %v", err)
	}
	bad := ck(2)
	bad.Groups["ema"]["w"].Data[1] = float32(math.NaN())
	p, err = r.Save(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "non-finite") || !strings.Contains(err.Error(), "tensor w") {
		t.Fatalf("NaN weights: %v", err)
	}
}

// Issue 12 case 11: a killed Save leaves a .tmp-step-* folder; RemoveStale
// removes it and stray temporary files, and nothing else.
func TestRemoveStale(t *testing.T) {
	r, err := Create(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Save(ck(1)); err != nil {
		t.Fatal(err)
	}
	tmpCk := filepath.Join(r.Dir, "checkpoints", ".tmp-step-123")
	os.MkdirAll(tmpCk, 0o755)
	os.WriteFile(filepath.Join(tmpCk, "model.safetensors"), []byte("x"), 0o644)
	tmpFile := filepath.Join(r.Dir, ".config.yaml.tmp-77")
	os.WriteFile(tmpFile, []byte("x"), 0o644)
	if err := r.RemoveStale(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmpCk, tmpFile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
	if steps, _ := r.Steps(); len(steps) != 1 {
		t.Fatalf("checkpoints %v", steps)
	}
}
