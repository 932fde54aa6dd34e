package safetensors

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

// checkEntries opens path and checks that it holds exactly the tensors of
// want (name -> dtype and shape), and that every tensor converts.
func checkEntries(t *testing.T, path string, want map[string]Info) *File {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	names := f.Names()
	if len(names) != len(want) {
		t.Errorf("%s: %d tensors, want %d", filepath.Base(path), len(names), len(want))
	}
	for _, n := range names {
		in, _ := f.Info(n)
		w, ok := want[n]
		switch {
		case !ok:
			t.Errorf("%s: unexpected tensor %q", filepath.Base(path), n)
		case in.DType != w.DType || fmt.Sprint(in.Shape) != fmt.Sprint(w.Shape):
			t.Errorf("%s: %s is %s%v, want %s%v", filepath.Base(path), n, in.DType, in.Shape, w.DType, w.Shape)
		}
		v, shape, err := f.Float64(n)
		if err != nil || len(v) != numel(shape) {
			t.Errorf("%s: reading %s: %d values for %v, %v", filepath.Base(path), n, len(v), shape, err)
		}
	}
	for n := range want {
		if _, ok := f.Info(n); !ok {
			t.Errorf("%s: missing tensor %q", filepath.Base(path), n)
		}
	}
	return f
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func TestFixtureBasicSR(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "basicsr")
	var ops struct {
		Entries map[string]struct {
			Shape []int    `json:"shape"`
			DType string   `json:"dtype"`
			Min   *float64 `json:"min"`
			Max   *float64 `json:"max"`
		} `json:"entries"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "ops.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ops); err != nil {
		t.Fatal(err)
	}
	dtypes := map[string]DType{"float32": F32, "float64": F64, "uint8": U8}
	want := map[string]Info{}
	for n, e := range ops.Entries {
		want[n] = Info{DType: dtypes[e.DType], Shape: e.Shape}
	}
	f := checkEntries(t, filepath.Join(dir, "ops.safetensors"), want)
	// ops.json records min and max of each float tensor: the decoded values
	// must reproduce them exactly.
	checked := 0
	for n, e := range ops.Entries {
		if e.Min == nil || e.Max == nil {
			continue
		}
		checked++
		v, _, _ := f.Float64(n)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			lo, hi = min(lo, x), max(hi, x)
		}
		if lo != *e.Min || hi != *e.Max {
			t.Errorf("%s: range [%v, %v], ops.json says [%v, %v]", n, lo, hi, *e.Min, *e.Max)
		}
	}
	if checked != len(ops.Entries)-1 {
		t.Errorf("checked the range of %d entries, want all %d but image_u8_hwc", checked, len(ops.Entries)-1)
	}
	u8, shape, _ := f.Int64("image_u8_hwc")
	img, _, _ := f.Float32("image")
	if fmt.Sprint(shape) != "[48 40 3]" {
		t.Fatalf("image_u8_hwc shape %v", shape)
	}
	// image is the crop / 255 in float32, NCHW; image_u8_hwc the crop, HWC.
	for c := 0; c < 3; c++ {
		for y := 0; y < 48; y++ {
			for x := 0; x < 40; x++ {
				if want := float32(u8[(y*40+x)*3+c]) / 255; img[(c*48+y)*40+x] != want {
					t.Fatalf("image[%d,%d,%d] = %v, want %v", c, y, x, img[(c*48+y)*40+x], want)
				}
			}
		}
	}
	if m := f.Metadata(); m["basicsr"] != "1.4.2" {
		t.Errorf("metadata %v", m)
	}
}

func TestFixtureSchedulers(t *testing.T) {
	path := filepath.Join(fixture.Dir(t, "fixtures", "diffusers"), "schedulers.safetensors")
	img := []int{1, 3, 32, 32}
	small := []int{1, 3, 8, 8}
	want := map[string]Info{
		"ddpm.betas": {F32, []int{1000}, [2]int{}}, "ddpm.alphas": {F32, []int{1000}, [2]int{}},
		"ddpm.alphas_cumprod": {F32, []int{1000}, [2]int{}}, "aux.alphas_cumprod_f64": {F64, []int{1000}, [2]int{}},
		"add_noise.x0": {F32, []int{4, 3, 8, 8}, [2]int{}}, "add_noise.noise": {F32, []int{4, 3, 8, 8}, [2]int{}},
		"add_noise.out": {F32, []int{4, 3, 8, 8}, [2]int{}}, "add_noise.timesteps": {I64, []int{4}, [2]int{}},
		"ddim.timesteps":    {I64, []int{50}, [2]int{}},
		"img2img.lq_u8_hwc": {U8, []int{32, 32, 3}, [2]int{}}, "img2img.lq": {F32, img, [2]int{}},
		"img2img.noise":          {F32, img, [2]int{}},
		"img2img.trailing.final": {F32, img, [2]int{}}, "img2img.trailing.timesteps": {I64, []int{10}, [2]int{}},
		"img2img.trailing.timesteps_full": {I64, []int{50}, [2]int{}},
	}
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("ddpm_step.%d.", i)
		for _, n := range []string{"sample", "model_output", "noise", "pred_original_sample", "prev_sample"} {
			want[p+n] = Info{DType: F32, Shape: small}
		}
		want[p+"t"] = Info{DType: I64, Shape: []int{1}}
		want[p+"variance"] = Info{DType: F32, Shape: []int{1}}
	}
	for i := 0; i < 4; i++ {
		p := fmt.Sprintf("ddim_step.%d.", i)
		for _, n := range []string{"sample", "model_output", "pred_original_sample", "prev_sample"} {
			want[p+n] = Info{DType: F32, Shape: small}
		}
		want[p+"t"] = Info{DType: I64, Shape: []int{1}}
	}
	for _, v := range []string{"leading", "linspace"} {
		p := "img2img." + v + "."
		want[p+"timesteps_full"] = Info{DType: I64, Shape: []int{50}}
		want[p+"timesteps"] = Info{DType: I64, Shape: []int{10}}
		want[p+"samples"] = Info{DType: F32, Shape: []int{11, 3, 32, 32}}
		want[p+"model_outputs"] = Info{DType: F32, Shape: []int{10, 3, 32, 32}}
		want[p+"final"] = Info{DType: F32, Shape: img}
		want[p+"final_image_01_nhwc"] = Info{DType: F32, Shape: []int{1, 32, 32, 3}}
	}
	f := checkEntries(t, path, want)
	// Values quoted in the README.
	ts, _, _ := f.Int64("add_noise.timesteps")
	if fmt.Sprint(ts) != "[0 1 500 999]" {
		t.Errorf("add_noise.timesteps = %v", ts)
	}
	lead, _, _ := f.Int64("img2img.leading.timesteps")
	lin, _, _ := f.Int64("img2img.linspace.timesteps")
	if lead[0] != 190 || lead[9] != 19 || lin[0] != 200 || lin[9] != 20 {
		t.Errorf("img2img timesteps: leading %v, linspace %v", lead, lin)
	}
	betas, _, _ := f.Float32("ddpm.betas")
	if betas[0] != 1e-4 || betas[999] != 0.02 {
		t.Errorf("betas from %v to %v, want 1e-4 to 0.02", betas[0], betas[999])
	}
}

func TestFixtureUNetIO(t *testing.T) {
	path := filepath.Join(fixture.Dir(t, "fixtures", "diffusers"), "unet_tiny_io.safetensors")
	x := []int{2, 3, 32, 32}
	want := map[string]Info{
		"x": {F32, x, [2]int{}}, "out.sample": {F32, x, [2]int{}},
		"timesteps_int64": {I64, []int{2}, [2]int{}}, "timesteps_float32": {F32, []int{2}, [2]int{}},
		"hook.time_proj": {F32, []int{2, 32}, [2]int{}}, "hook.time_embedding": {F32, []int{2, 128}, [2]int{}},
		"hook.conv_in": {F32, []int{2, 32, 32, 32}, [2]int{}}, "hook.down_blocks.0.resnets.0": {F32, []int{2, 32, 32, 32}, [2]int{}},
		"hook.down_blocks.0": {F32, []int{2, 32, 16, 16}, [2]int{}}, "hook.down_blocks.1.attentions.0": {F32, []int{2, 64, 16, 16}, [2]int{}},
		"hook.down_blocks.1": {F32, []int{2, 64, 8, 8}, [2]int{}}, "hook.down_blocks.2": {F32, []int{2, 64, 8, 8}, [2]int{}},
		"hook.mid_block.resnets.0": {F32, []int{2, 64, 8, 8}, [2]int{}}, "hook.mid_block.attentions.0": {F32, []int{2, 64, 8, 8}, [2]int{}},
		"hook.mid_block": {F32, []int{2, 64, 8, 8}, [2]int{}}, "hook.up_blocks.0": {F32, []int{2, 64, 16, 16}, [2]int{}},
		"hook.up_blocks.1.attentions.0": {F32, []int{2, 64, 16, 16}, [2]int{}}, "hook.up_blocks.2": {F32, []int{2, 32, 32, 32}, [2]int{}},
	}
	f := checkEntries(t, path, want)
	ti, _, _ := f.Int64("timesteps_int64")
	tf, _, _ := f.Float32("timesteps_float32")
	if ti[0] != 37 || ti[1] != 512 || tf[0] != 37 || tf[1] != 512 {
		t.Errorf("timesteps %v %v, want [37 512]", ti, tf)
	}
	out, _, _ := f.Float32("out.sample")
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range out {
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.Abs(float64(lo)+1.77) > 0.01 || math.Abs(float64(hi)-2.78) > 0.01 {
		t.Errorf("out.sample range [%v, %v], README says -1.77..2.78", lo, hi)
	}
	if m := f.Metadata(); m["x_seed"] != "42" {
		t.Errorf("metadata %v", m)
	}
}

// unetConfig holds the UNet2DModel settings that determine its state dict.
type unetConfig struct {
	in, out, layers int
	blocks          []int
	down, up        []string
}

// unetStateDict derives the state-dict names and shapes of a diffusers
// UNet2DModel (positional time embedding, conv resampling, attention blocks
// with biases), following diffusers v0.21.1's constructors.
func unetStateDict(c unetConfig) map[string][]int {
	sd := map[string][]int{}
	temb := 4 * c.blocks[0]
	param := func(p string, w []int, b int) {
		sd[p+".weight"] = w
		sd[p+".bias"] = []int{b}
	}
	conv := func(p string, cout, cin, k int) { param(p, []int{cout, cin, k, k}, cout) }
	linear := func(p string, out, in int) { param(p, []int{out, in}, out) }
	norm := func(p string, ch int) { param(p, []int{ch}, ch) }
	resnet := func(p string, cin, cout int) {
		norm(p+".norm1", cin)
		conv(p+".conv1", cout, cin, 3)
		linear(p+".time_emb_proj", cout, temb)
		norm(p+".norm2", cout)
		conv(p+".conv2", cout, cout, 3)
		if cin != cout {
			conv(p+".conv_shortcut", cout, cin, 1)
		}
	}
	attention := func(p string, ch int) {
		norm(p+".group_norm", ch)
		for _, q := range []string{".to_q", ".to_k", ".to_v", ".to_out.0"} {
			linear(p+q, ch, ch)
		}
	}
	n := len(c.blocks)
	conv("conv_in", c.blocks[0], c.in, 3)
	linear("time_embedding.linear_1", temb, c.blocks[0])
	linear("time_embedding.linear_2", temb, temb)
	out := c.blocks[0]
	for i, typ := range c.down {
		in := out
		out = c.blocks[i]
		p := fmt.Sprintf("down_blocks.%d", i)
		for j := 0; j < c.layers; j++ {
			rin := out
			if j == 0 {
				rin = in
			}
			resnet(fmt.Sprintf("%s.resnets.%d", p, j), rin, out)
			if strings.HasPrefix(typ, "Attn") {
				attention(fmt.Sprintf("%s.attentions.%d", p, j), out)
			}
		}
		if i < n-1 {
			conv(p+".downsamplers.0.conv", out, out, 3)
		}
	}
	top := c.blocks[n-1]
	resnet("mid_block.resnets.0", top, top)
	attention("mid_block.attentions.0", top)
	resnet("mid_block.resnets.1", top, top)
	rev := make([]int, n)
	for i := range rev {
		rev[i] = c.blocks[n-1-i]
	}
	out = rev[0]
	for i, typ := range c.up {
		prev := out
		out = rev[i]
		in := rev[min(i+1, n-1)]
		p := fmt.Sprintf("up_blocks.%d", i)
		for j := 0; j <= c.layers; j++ {
			skip := out
			if j == c.layers {
				skip = in
			}
			rin := out
			if j == 0 {
				rin = prev
			}
			resnet(fmt.Sprintf("%s.resnets.%d", p, j), rin+skip, out)
			if strings.HasPrefix(typ, "Attn") {
				attention(fmt.Sprintf("%s.attentions.%d", p, j), out)
			}
		}
		if i < n-1 {
			conv(p+".upsamplers.0.conv", out, out, 3)
		}
	}
	norm("conv_norm_out", c.blocks[0])
	conv("conv_out", c.out, c.blocks[0], 3)
	return sd
}

func totalParams(sd map[string][]int) int {
	n := 0
	for _, s := range sd {
		n += numel(s)
	}
	return n
}

// TestUNetStateDictDerivation checks the derivation used below against the
// official model's recorded state dict, so that it can be trusted for the
// tiny model's file.
func TestUNetStateDictDerivation(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	raw, err := os.ReadFile(filepath.Join(dir, "unet_official_shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var off struct {
		Total     int `json:"total_parameters"`
		StateDict []struct {
			Key   string `json:"key"`
			Shape []int  `json:"shape"`
		} `json:"state_dict"`
	}
	if err := json.Unmarshal(raw, &off); err != nil {
		t.Fatal(err)
	}
	sd := unetStateDict(unetConfig{in: 3, out: 3, layers: 2, blocks: []int{128, 256, 512, 512},
		down: []string{"DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"},
		up:   []string{"UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"}})
	if len(sd) != len(off.StateDict) || len(sd) != 330 || totalParams(sd) != off.Total || off.Total != 101121795 {
		t.Errorf("derived %d entries, %d parameters; official %d, %d", len(sd), totalParams(sd), len(off.StateDict), off.Total)
	}
	for _, e := range off.StateDict {
		if fmt.Sprint(sd[e.Key]) != fmt.Sprint(e.Shape) {
			t.Errorf("%s: derived %v, official %v", e.Key, sd[e.Key], e.Shape)
		}
	}
}

func tinyUNet() map[string][]int {
	return unetStateDict(unetConfig{in: 3, out: 3, layers: 1, blocks: []int{32, 64, 64},
		down: []string{"DownBlock2D", "AttnDownBlock2D", "DownBlock2D"},
		up:   []string{"UpBlock2D", "AttnUpBlock2D", "UpBlock2D"}})
}

func TestFixtureUNetTiny(t *testing.T) {
	path := filepath.Join(fixture.Dir(t, "fixtures", "diffusers", "unet_tiny"), "diffusion_pytorch_model.safetensors")
	sd := tinyUNet()
	if len(sd) != 182 || totalParams(sd) != 1113955 {
		t.Fatalf("derived tiny UNet: %d tensors, %d parameters; README: 182, 1,113,955", len(sd), totalParams(sd))
	}
	want := map[string]Info{}
	for n, s := range sd {
		want[n] = Info{DType: F32, Shape: s}
	}
	f := checkEntries(t, path, want)
	all, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 182 {
		t.Errorf("ReadAll: %d tensors", len(all))
	}
	// Perturbed init: GroupNorm weights are near 1 but not 1, biases near 0 but not 0.
	w := all["conv_norm_out.weight"].Data
	b := all["conv_norm_out.bias"].Data
	if w[0] == 1 || math.Abs(float64(w[0])-1) > 0.3 || b[0] == 0 || math.Abs(float64(b[0])) > 0.3 {
		t.Errorf("conv_norm_out weight[0] %v bias[0] %v: not the README's perturbed init", w[0], b[0])
	}
	if m := f.Metadata(); m["format"] != "pt" {
		t.Errorf("metadata %v", m)
	}
}

func TestFixtureUNetLegacyKeys(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	legacy := map[string]string{"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0", "group_norm": "group_norm"}
	want := map[string]Info{}
	for _, blk := range []string{"down_blocks.1.attentions.0", "up_blocks.1.attentions.0", "up_blocks.1.attentions.1", "mid_block.attentions.0"} {
		for old := range legacy {
			w := []int{64, 64}
			if old == "group_norm" {
				w = []int{64}
			}
			want[blk+"."+old+".weight"] = Info{DType: F32, Shape: w}
			want[blk+"."+old+".bias"] = Info{DType: F32, Shape: []int{64}}
		}
	}
	if len(want) != 40 {
		t.Fatalf("%d legacy names, README says 40", len(want))
	}
	checkEntries(t, filepath.Join(dir, "unet_legacy_keys.safetensors"), want)
	// The legacy tensors are the tiny UNet's attention weights renamed.
	old, err := ReadAll(filepath.Join(dir, "unet_legacy_keys.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ReadAll(filepath.Join(dir, "unet_tiny", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts := strings.Split(n, ".")
		mod := parts[len(parts)-2]
		newName := strings.Join(parts[:len(parts)-2], ".") + "." + legacy[mod] + "." + parts[len(parts)-1]
		c, ok := cur[newName]
		if !ok {
			t.Errorf("%s: no %s in unet_tiny", n, newName)
			continue
		}
		for i := range c.Data {
			if c.Data[i] != old[n].Data[i] {
				t.Errorf("%s differs from %s at %d", n, newName, i)
				break
			}
		}
	}
}
