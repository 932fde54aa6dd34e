package degrade

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/samples"
)

// FuzzConfigYAML feeds arbitrary --config files to Parse on top of every
// preset: no panic and no hang, and a configuration it accepts builds a
// pipeline that degrades a small image or returns an error. The seeds
// (run by go test) are the presets and the configs of issue 12.
func FuzzConfigYAML(f *testing.F) {
	for _, name := range Presets() {
		b, err := PresetYAML(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"realesrgan:\n  kernels:\n    blur_sigma: [0.2, 1e160]\n",
		"realesrgan:\n  noise_range: [1, .nan]\n",
		"type: face\nface:\n  blur_sigma: [1e-300, 1e-200]\n",
		"type: bsrgan\nbsrgan:\n  noise_level: [-5, 1000]\n",
		"scale: 16\n",
		"type: bicubic\nbicubic:\n  method: opencv\nscale: 3\n",
	} {
		f.Add([]byte(s))
	}
	hr, err := samples.Render(samples.Names[0], 40, 40, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		base, err := LoadPreset("official")
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(b, base)
		if err != nil {
			return
		}
		p, err := New(c)
		if err != nil {
			return
		}
		var lr *raster.Image
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, lr, _, err = Degrade(p, hr, 1, "x", 0)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("degrading a 40x40 image takes over 20 s with:\n%s", b)
		}
		if err == nil && !finite(lr) {
			t.Fatalf("accepted config gives a non-finite LR image:\n%s", b)
		}
	})
}

// FuzzReplayRecord feeds arbitrary manifest lines (replay's input) to
// ParseRecord and Replay: no panic, no hang, no unbounded allocation.
func FuzzReplayRecord(f *testing.F) {
	hr, err := samples.Render(samples.Names[1], 32, 32, 2)
	if err != nil {
		f.Fatal(err)
	}
	pipes := map[string]Pipeline{}
	for _, name := range Presets() {
		c, err := LoadPreset(name)
		if err != nil {
			f.Fatal(err)
		}
		p, err := New(c)
		if err != nil {
			f.Fatal(err)
		}
		pipes[c.Type] = p
		for k := 0; k < 2; k++ {
			_, _, rec, err := Degrade(p, hr, 7, "img", k)
			if err != nil {
				f.Fatal(err)
			}
			b, _ := json.Marshal(rec)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"kernel1":{"type":"iso","size":2000000001,"sigma_x":1}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := ParseRecord(line)
		if err != nil {
			return
		}
		for _, p := range pipes {
			if _, err := Replay(p, hr, rec); err != nil {
				continue
			}
		}
	})
}

func finite(m *raster.Image) bool {
	for _, v := range m.Pix {
		if v-v != 0 {
			return false
		}
	}
	return true
}
