package unet

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	m := MustNew(testConfig(), rng.New(20, "unet"))
	x := randomTensor(21, 1, 3, 16, 16)
	steps := []float32{77}
	want := m.Predict(x, steps)
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		dir := t.TempDir()
		if err := Save(dir, m, dt); err != nil {
			t.Fatal(err)
		}
		if err := WritePipeline(dir, nil); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		round := func(v float32) float32 { return v }
		tol := 0.0
		switch dt {
		case safetensors.F16:
			round = func(v float32) float32 { return safetensors.F16ToF32(safetensors.F32ToF16(v)) }
			tol = 2e-2
		case safetensors.BF16:
			round = func(v float32) float32 { return safetensors.BF16ToF32(safetensors.F32ToBF16(v)) }
			tol = 1e-1
		}
		for _, p := range m.Params() {
			q := got.Param(p.Name)
			for i, v := range p.Value.Data {
				if q.Value.Data[i] != round(v) {
					t.Fatalf("%s: %s[%d] = %g, want %g", dt, p.Name, i, q.Value.Data[i], round(v))
				}
			}
		}
		d := tensor.MaxAbsDiff(got.Predict(x, steps), want)
		if d > tol {
			t.Errorf("%s: output differs by %g > %g", dt, d, tol)
		}
		t.Logf("%s: output max abs diff %.3g", dt, d)
		if !reflectConfigEqual(got.Config(), m.Config()) {
			t.Errorf("%s: config %+v, want %+v", dt, got.Config(), m.Config())
		}
		src := got.Source
		if src.Name != filepath.Base(dir) || src.Dir != filepath.Join(dir, UNetFolder) || len(src.SHA256) != 64 ||
			string(src.SchedulerConfig) != DefaultSchedulerConfig {
			t.Errorf("%s: source %+v", dt, src)
		}
		if sum, _ := FileSHA256(filepath.Join(dir, UNetFolder, WeightsFile)); sum != src.SHA256 {
			t.Errorf("SHA256 %s, want %s", src.SHA256, sum)
		}
	}
}

func reflectConfigEqual(a, b Config) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestSavedLayout checks the files diffusers expects.
func TestSavedLayout(t *testing.T) {
	m := MustNew(testConfig(), rng.New(22, "unet"))
	dir := t.TempDir()
	if err := Save(dir, m, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if err := WritePipeline(dir, nil); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	readJSON(t, filepath.Join(dir, UNetFolder, ConfigFile), &cfg)
	if cfg["_class_name"] != "UNet2DModel" || cfg["_diffusers_version"] != "0.21.1" || len(cfg) != 26 {
		t.Errorf("config.json: %v", cfg)
	}
	var index map[string]any
	readJSON(t, filepath.Join(dir, ModelIndexFile), &index)
	if index["_class_name"] != "DDPMPipeline" || strings.Join(toStrings(index["unet"]), ",") != "diffusers,UNet2DModel" ||
		strings.Join(toStrings(index["scheduler"]), ",") != "diffusers,DDPMScheduler" {
		t.Errorf("model_index.json: %v", index)
	}
	f, err := safetensors.Open(filepath.Join(dir, UNetFolder, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Names()) != len(m.Params()) || f.Metadata()["format"] != "pt" {
		t.Errorf("weights: %d tensors (want %d), metadata %v", len(f.Names()), len(m.Params()), f.Metadata())
	}
	// No temporary files are left behind.
	for _, d := range []string{dir, filepath.Join(dir, UNetFolder), filepath.Join(dir, SchedulerFolder)} {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("leftover %s in %s", e.Name(), d)
			}
		}
	}
	// A custom scheduler is listed under its own class.
	if err := WritePipeline(dir, []byte(`{"_class_name": "DDIMScheduler"}`)); err != nil {
		t.Fatal(err)
	}
	readJSON(t, filepath.Join(dir, ModelIndexFile), &index)
	if strings.Join(toStrings(index["scheduler"]), ",") != "diffusers,DDIMScheduler" {
		t.Errorf("model_index.json: %v", index)
	}
	if err := WritePipeline(dir, []byte(`{}`)); err == nil {
		t.Error("scheduler config without _class_name accepted")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			s, _ := e.(string)
			out = append(out, s)
		}
	}
	return out
}

// TestLoadFolders checks which subfolder Load picks.
func TestLoadFolders(t *testing.T) {
	main := MustNew(testConfig(), rng.New(23, "main"))
	ema := MustNew(testConfig(), rng.New(23, "ema"))
	dir := t.TempDir()
	if err := Save(dir, main, ""); err != nil {
		t.Fatal(err)
	}
	if err := SaveSubfolder(dir, EMAFolder, ema, ""); err != nil {
		t.Fatal(err)
	}
	same := func(a, b *Model) bool {
		return tensor.MaxAbsDiff(a.Param("conv_in.weight").Value, b.Param("conv_in.weight").Value) == 0
	}
	tests := []struct {
		dir, sub string
		want     *Model
		name     string
	}{
		{dir, "", main, filepath.Base(dir)},
		{dir, EMAFolder, ema, filepath.Base(dir) + "/" + EMAFolder},
		{filepath.Join(dir, UNetFolder), "", main, UNetFolder},
	}
	for _, tc := range tests {
		got, err := LoadSubfolder(tc.dir, tc.sub)
		if err != nil {
			t.Fatal(err)
		}
		if !same(got, tc.want) || got.Source.Name != tc.name {
			t.Errorf("LoadSubfolder(%s, %q): wrong model or name %q (want %q)", tc.dir, tc.sub, got.Source.Name, tc.name)
		}
	}
	// Without unet/, Load falls back to unet_ema/.
	if err := os.RemoveAll(filepath.Join(dir, UNetFolder)); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !same(got, ema) {
		t.Error("Load without unet/ did not pick unet_ema/")
	}
	// A scheduler beside the model folder is found from the model folder.
	if err := WritePipeline(dir, nil); err != nil {
		t.Fatal(err)
	}
	got, err = Load(filepath.Join(dir, EMAFolder))
	if err != nil {
		t.Fatal(err)
	}
	if got.Source.SchedulerConfigPath != filepath.Join(dir, SchedulerFolder, SchedulerConfigFile) {
		t.Errorf("scheduler config path %q", got.Source.SchedulerConfigPath)
	}
}

// TestLoadErrors checks that load failures name the file and every bad key.
func TestLoadErrors(t *testing.T) {
	m := MustNew(testConfig(), rng.New(24, "unet"))
	dir := t.TempDir()
	if err := Save(dir, m, ""); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, UNetFolder)
	weights := filepath.Join(md, WeightsFile)

	// Drop one key, add one, and change one shape.
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		switch p.Name {
		case "conv_out.bias":
			continue
		case "conv_in.bias":
			ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: []int{2, 8}, Data: p.Value.Data})
			continue
		}
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Value.Shape, Data: p.Value.Data})
	}
	ts = append(ts, safetensors.Tensor{Name: "class_embedding.weight", Shape: []int{1}, Data: []float32{0}})
	if err := safetensors.Write(weights, ts, nil); err != nil {
		t.Fatal(err)
	}
	// A hand-made weights file comes without a checksum file.
	os.Remove(weights + SumSuffix)
	_, err := Load(dir)
	if err == nil {
		t.Fatal("bad weights loaded")
	}
	for _, s := range []string{weights, "1 missing keys: conv_out.bias", "1 unexpected keys: class_embedding.weight", "conv_in.bias (model [16], state dict [2 8])"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}

	// A bad config names the file and the key.
	cfgPath := filepath.Join(md, ConfigFile)
	if err := os.WriteFile(cfgPath, []byte(`{"time_embedding_type": "fourier"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), cfgPath) || !strings.Contains(err.Error(), "fourier") {
		t.Errorf("fourier config: error %v", err)
	}

	// Missing folders and weights.
	if _, err := Load(filepath.Join(dir, "nope")); err == nil {
		t.Error("missing folder loaded")
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("empty folder: error %v", err)
	}
	empty := t.TempDir()
	b, _ := json.Marshal(testConfig())
	os.WriteFile(filepath.Join(empty, ConfigFile), b, 0o644)
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), WeightsFile) {
		t.Errorf("no weights: error %v", err)
	}
	os.WriteFile(filepath.Join(empty, "diffusion_pytorch_model.bin"), []byte("pickle"), 0o644)
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "pickle") {
		t.Errorf("pickle weights: error %v", err)
	}
}

// TestLoadLeavesModelOnError checks that a failed LoadWeights changes
// nothing.
func TestLoadLeavesModelOnError(t *testing.T) {
	m := MustNew(testConfig(), rng.New(25, "unet"))
	before := m.Param("conv_in.weight").Value.Clone()
	path := filepath.Join(t.TempDir(), "w.safetensors")
	ts := []safetensors.Tensor{{Name: "conv_in.weight", Shape: before.Shape, Data: make([]float32, before.Numel())}}
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.LoadWeights(path); err == nil {
		t.Fatal("partial weights loaded")
	}
	if tensor.MaxAbsDiff(before, m.Param("conv_in.weight").Value) != 0 {
		t.Error("failed load changed conv_in.weight")
	}
}

// Issue 12 case 8: an exported model's checksum and finite values are
// verified on load.
func TestLoadVerifiesSumAndFiniteness(t *testing.T) {
	m := MustNew(testConfig(), rng.New(24, "unet"))
	dir := t.TempDir()
	if err := Save(dir, m, ""); err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, UNetFolder, WeightsFile)
	b, _ := os.ReadFile(weights)
	b[len(b)-2] ^= 0x10
	os.WriteFile(weights, b, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("flipped byte: %v", err)
	}
	m.Params()[3].Value.Data[0] = float32(math.NaN())
	if err := Save(dir, m, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "non-finite") || !strings.Contains(err.Error(), m.Params()[3].Name) {
		t.Fatalf("NaN weights: %v", err)
	}
}
