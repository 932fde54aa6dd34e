package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// settings is what a trainer's configuration offers the commands.
type settings[C any] interface {
	ParseYAML([]byte) (C, error)
	YAML() []byte
}

// runSettings returns the settings of a training run whose settings file
// is saved (path): on resume, the saved ones (a --config file must agree
// with them, apart from the number of steps, which may extend a run);
// otherwise the defaults with the --config file, refusing to start over an
// existing run. setSteps sets a config's steps and returns the old value.
func runSettings[C settings[C]](saved, file string, resuming bool, defaults C, load func(string) (C, error), setSteps func(c *C, steps int) int) (C, error) {
	var zero C
	out := filepath.Dir(saved)
	b, err := os.ReadFile(saved)
	exists := err == nil
	if resuming {
		if !exists {
			return zero, fmt.Errorf("--resume: %s not found: is %s a run folder?", saved, out)
		}
		cfg, err := defaults.ParseYAML(b)
		if err != nil {
			return zero, fmt.Errorf("%s: %w", saved, err)
		}
		if file != "" {
			want, err := load(file)
			if err != nil {
				return zero, err
			}
			steps := setSteps(&cfg, 0)
			setSteps(&cfg, steps)
			setSteps(&want, steps)
			if !bytes.Equal(want.YAML(), cfg.YAML()) {
				return zero, fmt.Errorf("--config %s differs from the run's %s: a resumed run keeps its settings", file, saved)
			}
		}
		return cfg, nil
	}
	if exists {
		return zero, fmt.Errorf("%s already holds a run (%s): use --resume latest to continue it, or another --out", out, saved)
	}
	if file == "" {
		return defaults, nil
	}
	return load(file)
}
