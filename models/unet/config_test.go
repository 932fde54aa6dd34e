package unet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/fixture"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"_class_name": "UNet2DModel", "some_future_key": [1, 2], "sample_size": [64, 48]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.SampleSize = SampleSize{64, 48}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ParseConfig = %+v\nwant %+v", c, want)
	}
}

// TestFixtureConfig checks that the tiny fixture's config.json parses to
// the tiny preset.
func TestFixtureConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixture.Dir(t, "fixtures", "diffusers", "unet_tiny"), ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := TinyConfig(); !reflect.DeepEqual(c, want) {
		t.Errorf("fixture config = %+v\nwant TinyConfig %+v", c, want)
	}
	// Our JSON has the same keys and values as diffusers' file.
	ours, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var a, b2 map[string]any
	if err := json.Unmarshal(ours, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &b2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b2) {
		t.Errorf("marshalled config %v\nwant %v", a, b2)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	for _, name := range Presets {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseConfig(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%s: round trip = %+v, want %+v", name, got, c)
		}
	}
	if _, err := Preset("huge"); err == nil {
		t.Error("Preset(huge) succeeded")
	}
}

// TestConfigRefused checks that unsupported values fail with an error naming
// the key.
func TestConfigRefused(t *testing.T) {
	tiny := `"block_out_channels": [32, 64, 64], "layers_per_block": 1, "norm_num_groups": 8,
		"down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
		"up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]`
	tests := []struct {
		json string
		key  string
	}{
		{`{"time_embedding_type": "fourier"}`, "time_embedding_type"},
		{`{"time_embedding_type": "learned"}`, "time_embedding_type"},
		{`{"resnet_time_scale_shift": "scale_shift"}`, "resnet_time_scale_shift"},
		{`{"class_embed_type": "timestep"}`, "class_embed_type"},
		{`{"num_class_embeds": 10}`, "num_class_embeds"},
		{`{"downsample_type": "resnet"}`, "downsample_type"},
		{`{"upsample_type": "resnet"}`, "upsample_type"},
		{`{"act_fn": "gelu"}`, "act_fn"},
		{`{"_class_name": "UNet2DConditionModel"}`, "_class_name"},
		{`{"norm_num_groups": null}`, "norm_num_groups"},
		{`{"norm_num_groups": 12}`, "norm_num_groups"},
		{`{"down_block_types": ["DownBlock2D"]}`, "down_block_types"},
		{`{"down_block_types": ["SkipDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]}`, "down_block_types"},
		{`{"up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "SkipUpBlock2D"]}`, "up_block_types"},
		{`{"layers_per_block": 0}`, "layers_per_block"},
		{`{"dropout": 1.5}`, "dropout"},
		{`{"downsample_padding": 2}`, "downsample_padding"},
		{`{"in_channels": 0}`, "in_channels"},
		{`{` + tiny + `, "attention_head_dim": 128}`, "attention_head_dim"},
		{`{"block_out_channels": []}`, "block_out_channels"},
		{`{"norm_eps": 0}`, "norm_eps"},
		{`{"mid_block_scale_factor": 0}`, "mid_block_scale_factor"},
		{`{"sample_size": "big"}`, "sample_size"},
	}
	for _, tc := range tests {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil {
			t.Errorf("%s: accepted", tc.json)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %q does not name %s", tc.json, err, tc.key)
		}
	}
	if _, err := ParseConfig([]byte(`not json`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

// TestAttentionHeads checks diffusers' head rule: heads = channels /
// attention_head_dim, one head of all channels when it is null.
func TestAttentionHeads(t *testing.T) {
	tests := []struct {
		head           *int
		heads, headDim int
	}{
		{intPtr(8), 8, 8},
		{intPtr(16), 4, 16},
		{intPtr(24), 2, 24}, // 64/24 = 2 heads: inner dim 48
		{nil, 1, 64},
	}
	for _, tc := range tests {
		c := TinyConfig()
		c.AttentionHeadDim = tc.head
		m, err := New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := m.mid.attns[0].spec
		if a.heads != tc.heads || a.headDim != tc.headDim {
			t.Errorf("attention_head_dim %v: %d heads of %d, want %d of %d", tc.head, a.heads, a.headDim, tc.heads, tc.headDim)
		}
		if got := m.Param("mid_block.attentions.0.to_q.weight").Value.Shape; got[0] != tc.heads*tc.headDim || got[1] != 64 {
			t.Errorf("attention_head_dim %v: to_q %v", tc.head, got)
		}
	}
}

func TestConfigNull(t *testing.T) {
	c, err := ParseConfig([]byte(`{"attention_head_dim": null, "sample_size": null, "class_embed_type": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.AttentionHeadDim != nil || c.SampleSize != (SampleSize{}) || c.ClassEmbedType != nil {
		t.Errorf("nulls not kept: %+v", c)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"attention_head_dim":null`) || !strings.Contains(string(b), `"sample_size":null`) {
		t.Errorf("marshalled %s", b)
	}
}

// Issue 12 case 9: huge sizes are refused by Validate, before anything is
// allocated, with the key named.
func TestConfigSizeBounds(t *testing.T) {
	for _, tc := range []struct{ json, key string }{
		{`{"block_out_channels": [65536, 65536], "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"]}`, "block_out_channels"},
		{`{"block_out_channels": [4096, 8192, 8192, 8192], "norm_num_groups": 32}`, "block_out_channels"},
		{`{"layers_per_block": 1000000000}`, "layers_per_block"},
		{`{"in_channels": 100000000}`, "in_channels"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v, want an error naming %s", tc.json, err, tc.key)
		}
	}
	// The estimate that bounds memory is close to the real count.
	for _, name := range []string{"tiny", "small", "cpu", "reference"} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		lay, err := c.layout()
		if err != nil {
			t.Fatal(err)
		}
		est := lay.numParams(c)
		if name == "reference" {
			if est < 95e6 || est > 107e6 {
				t.Errorf("reference: estimate %d, want about 101M", est)
			}
			continue
		}
		got := int64(MustNew(c, nil).NumParams())
		if est < got*9/10 || est > got*11/10 {
			t.Errorf("%s: estimate %d for %d parameters", name, est, got)
		}
	}
}
