package experiment

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigYAML feeds arbitrary bench --config files to ParseYAML and
// Validate on top of each budget: no panic, and an accepted configuration
// survives its own YAML.
func FuzzConfigYAML(f *testing.F) {
	for _, b := range []string{"tiny", "quick", "full"} {
		c, err := Default(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.YAML())
	}
	if b, err := os.ReadFile(filepath.Join("..", "configs", "bench-realsr.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("synth:\n  max_strength: .nan\n"))
	f.Add([]byte("crop: -1\nsources: [nosuch]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		base, err := Default("tiny")
		if err != nil {
			t.Fatal(err)
		}
		c, err := base.ParseYAML(b)
		if err != nil || c.Validate() != nil {
			return
		}
		if _, err := base.ParseYAML(c.YAML()); err != nil {
			t.Fatalf("the YAML of an accepted config does not parse: %v\n%s", err, c.YAML())
		}
	})
}
