package nn

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/rng"
)

// block is a small model: a conv, a norm and a linear layer.
type block struct {
	conv *Conv2d
	norm *GroupNorm
	proj *Linear
}

func newBlock(seed uint64) *block {
	r := rng.New(seed, "block")
	b := &block{
		conv: NewConv2d("blk.conv", 4, 8, 3, 1, 1, true, r),
		norm: NewGroupNorm("blk.norm", 2, 8, 1e-5),
		proj: NewLinear("blk.proj", 8, 5, false, r),
	}
	// Move the norm away from its init so a round trip is not trivially exact.
	for i := range b.norm.Weight.Value.Data {
		b.norm.Weight.Value.Data[i] = 1 + float32(i)/7
		b.norm.Bias.Value.Data[i] = -float32(i) / 3
	}
	return b
}

func (b *block) Params() []*ag.Var { return Collect(b.conv, b.norm, b.proj) }

func TestCount(t *testing.T) {
	if n := Count(newBlock(1).Params()); n != 8*4*9+8+8+8+5*8 {
		t.Errorf("Count = %d, want %d", n, 8*4*9+8+8+8+5*8)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tests := []struct {
		dtype safetensors.DType
		rel   float64 // relative error bound: half a unit in the last place
	}{
		{safetensors.F32, 0},
		{safetensors.F16, 0x1p-11},
		{safetensors.BF16, 0x1p-8},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			src := newBlock(1)
			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := Save(path, src.Params(), tt.dtype, map[string]string{"step": "10"}); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if info, _ := f.Info("blk.conv.weight"); info.DType != tt.dtype || f.Metadata()["step"] != "10" {
				t.Errorf("stored as %s with metadata %v", info.DType, f.Metadata())
			}
			f.Close()
			dst := newBlock(2) // different initial values
			if err := Load(path, dst.Params(), nil); err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			ps, pd := src.Params(), dst.Params()
			for i := range ps {
				for j, v := range ps[i].Value.Data {
					got := pd[i].Value.Data[j]
					d := math.Abs(float64(got - v))
					if d > tt.rel*math.Abs(float64(v)) {
						t.Fatalf("%s[%d]: saved %v, loaded %v (relative bound %g)", ps[i].Name, j, v, got, tt.rel)
					}
					if v != 0 {
						worst = max(worst, d/math.Abs(float64(v)))
					}
				}
			}
			if tt.rel > 0 && worst < tt.rel/8 {
				t.Errorf("worst relative error %g: the data was not stored as %s", worst, tt.dtype)
			}
			t.Logf("%s: worst relative error %.3g", tt.dtype, worst)
		})
	}
}

func TestLoadStateDict(t *testing.T) {
	src, dst := newBlock(1), newBlock(2)
	sd := StateDict(src.Params())
	if len(sd) != 5 || sd["blk.conv.weight"] != src.conv.Weight.Value {
		t.Fatalf("StateDict: %d entries, aliasing %v", len(sd), sd["blk.conv.weight"] == src.conv.Weight.Value)
	}
	if err := LoadStateDict(dst.Params(), sd); err != nil {
		t.Fatal(err)
	}
	for i, p := range dst.Params() {
		if tensor.MaxAbsDiff(p.Value, src.Params()[i].Value) != 0 {
			t.Errorf("%s not copied", p.Name)
		}
	}
	if dst.conv.Weight.Value == src.conv.Weight.Value {
		t.Errorf("LoadStateDict shares tensors instead of copying")
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	sd := StateDict(newBlock(1).Params())
	delete(sd, "blk.norm.bias")
	delete(sd, "blk.proj.weight")
	sd["blk.extra"] = tensor.New(3)
	sd["blk.conv.bias"] = tensor.New(8, 1)
	dst := newBlock(2)
	before := dst.conv.Weight.Value.Clone()
	err := LoadStateDict(dst.Params(), sd)
	var se *StateDictError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *StateDictError", err)
	}
	if strings.Join(se.Missing, ",") != "blk.norm.bias,blk.proj.weight" ||
		strings.Join(se.Unexpected, ",") != "blk.extra" ||
		len(se.Mismatched) != 1 || se.Mismatched[0].Name != "blk.conv.bias" {
		t.Errorf("StateDictError %+v", se)
	}
	for _, w := range []string{
		"2 missing keys: blk.norm.bias, blk.proj.weight",
		"1 unexpected keys: blk.extra",
		"blk.conv.bias (model [8], state dict [8 1])",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if tensor.MaxAbsDiff(before, dst.conv.Weight.Value) != 0 {
		t.Errorf("a failed load changed the parameters")
	}
	// Repeated parameter names.
	p := ag.Param("w", tensor.New(1))
	err = LoadStateDict([]*ag.Var{p, ag.Param("w", tensor.New(1))}, map[string]*tensor.Tensor{"w": tensor.New(1)})
	if err == nil || !strings.Contains(err.Error(), "1 repeated names: w") {
		t.Errorf("repeated names: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := Save(path, newBlock(1).Params(), safetensors.F32, nil); err != nil {
		t.Fatal(err)
	}
	// A model with a differently sized projection and an extra layer.
	r := rng.New(5)
	other := []*ag.Var{
		NewConv2d("blk.conv", 4, 8, 3, 1, 1, true, r).Weight,
		NewLinear("blk.proj", 8, 6, false, r).Weight,
		NewLinear("head", 2, 2, false, r).Weight,
	}
	err := Load(path, other, nil)
	var se *StateDictError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v: want a *StateDictError naming the file", err)
	}
	if strings.Join(se.Missing, ",") != "head.weight" ||
		strings.Join(se.Unexpected, ",") != "blk.conv.bias,blk.norm.bias,blk.norm.weight" ||
		len(se.Mismatched) != 1 || se.Mismatched[0].Name != "blk.proj.weight" ||
		!tensor.SameShape(se.Mismatched[0].Want, []int{6, 8}) || !tensor.SameShape(se.Mismatched[0].Got, []int{5, 8}) {
		t.Errorf("StateDictError %+v", se)
	}
	// Renaming two file entries to one parameter.
	err = Load(path, newBlock(1).Params(), func(n string) string {
		if n == "blk.norm.bias" {
			return "blk.norm.weight"
		}
		return n
	})
	if err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Errorf("colliding rename: %v", err)
	}
	// A rename returning "" skips entries.
	small := []*ag.Var{newBlock(3).conv.Weight}
	err = Load(path, small, func(n string) string {
		if n == "blk.conv.weight" {
			return n
		}
		return ""
	})
	if err != nil {
		t.Errorf("skipping rename: %v", err)
	}
	if err := Load(filepath.Join(dir, "none.safetensors"), small, nil); !errors.Is(err, safetensors.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if err := Save(filepath.Join(dir, "x.safetensors"), []*ag.Var{ag.Param("", tensor.New(1))}, safetensors.F32, nil); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Errorf("unnamed parameter: %v", err)
	}
	if err := Save(filepath.Join(dir, "x.safetensors"), small, safetensors.I64, nil); err == nil {
		t.Errorf("saving as I64 succeeded")
	}
}

// TestLoadLegacyAttention loads the fixture's attention blocks, stored
// under diffusers' legacy names, into layers named as diffusers names them
// today.
func TestLoadLegacyAttention(t *testing.T) {
	path := filepath.Join(fixture.Dir(t, "fixtures", "diffusers"), "unet_legacy_keys.safetensors")
	r := rng.New(1)
	var params []*ag.Var
	for _, blk := range []string{"down_blocks.1.attentions.0", "up_blocks.1.attentions.0", "up_blocks.1.attentions.1", "mid_block.attentions.0"} {
		params = append(params, NewGroupNorm(blk+".group_norm", 8, 64, 1e-5).Params()...)
		for _, q := range []string{"to_q", "to_k", "to_v", "to_out.0"} {
			params = append(params, NewLinear(blk+"."+q, 64, 64, true, r).Params()...)
		}
	}
	legacy := strings.NewReplacer(".query.", ".to_q.", ".key.", ".to_k.", ".value.", ".to_v.", ".proj_attn.", ".to_out.0.")
	if err := Load(path, params, legacy.Replace); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, _, _ := f.Float32("mid_block.attentions.0.proj_attn.weight")
	for _, p := range params {
		if p.Name == "mid_block.attentions.0.to_out.0.weight" {
			if d := tensor.MaxAbsDiff(p.Value, tensor.FromData(want, 64, 64)); d != 0 {
				t.Errorf("%s differs from the file by %g", p.Name, d)
			}
			return
		}
	}
	t.Error("to_out.0 weight not found")
}
