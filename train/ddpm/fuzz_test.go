package ddpm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigYAML feeds arbitrary train --config files to ParseYAML: no
// panic, and a configuration it accepts is valid and survives its own
// YAML (what config.yaml in a run folder holds) unchanged.
func FuzzConfigYAML(f *testing.F) {
	f.Add(Default().YAML())
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "ddpm-default.yaml")); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "ddpm-adapt.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("model: tiny\nresolution: 32\nsteps: 0\n"))
	f.Add([]byte("learning_rate: .nan\n"))
	f.Add([]byte("batch_size: -1\nema_decay: 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Default().ParseYAML(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseYAML accepted an invalid config: %v", err)
		}
		again, err := Default().ParseYAML(c.YAML())
		if err != nil {
			t.Fatalf("config.yaml of an accepted config does not parse: %v\n%s", err, c.YAML())
		}
		if !bytes.Equal(again.YAML(), c.YAML()) {
			t.Fatalf("config.yaml changes when read back:\n%s\n---\n%s", c.YAML(), again.YAML())
		}
	})
}
