package unet

import (
	"encoding/json"
	"testing"
)

// FuzzParseConfig feeds arbitrary config.json files to ParseConfig (what
// --model and --init-from read): no panic, and a config it accepts has a
// bounded size, so building it cannot exhaust memory (issue 12 case 9).
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"tiny", "cpu", "reference"} {
		c, err := Preset(name)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"block_out_channels": [65536, 65536], "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"]}`))
	f.Add([]byte(`{"layers_per_block": 1000000000}`))
	f.Add([]byte(`{"attention_head_dim": 0, "norm_num_groups": -1, "sample_size": [1, 2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		lay, err := c.layout()
		if err != nil {
			t.Fatalf("ParseConfig accepted a config whose layout fails: %v", err)
		}
		if n := lay.numParams(c); n > MaxParams {
			t.Fatalf("accepted a config of %d parameters", n)
		}
	})
}
