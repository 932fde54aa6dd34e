package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/degradiff/degradiff/pairset"

	"github.com/degradiff/degradiff/train/runfolder"
)

// settings is what a trainer's configuration offers the commands.
type settings[C any] interface {
	ParseYAML([]byte) (C, error)
	YAML() []byte
}

// printSettings writes, for --print-config, a trainer's default settings
// or those of a --config file on top of them.
func printSettings[C settings[C]](w io.Writer, file string, defaults C, load func(string) (C, error)) error {
	cfg := defaults
	if file != "" {
		var err error
		if cfg, err = load(file); err != nil {
			return err
		}
	}
	_, err := w.Write(cfg.YAML())
	return err
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
		// A run killed or failed before its first checkpoint has nothing to
		// continue from: it starts over (its log is cut in resumeRun).
		if steps, err := (&runfolder.Run{Dir: out}).Steps(); err != nil || len(steps) > 0 {
			return zero, fmt.Errorf("%s already holds a run (%s): use --resume latest to continue it, or another --out", out, saved)
		}
	}
	if file == "" {
		return defaults, nil
	}
	return load(file)
}

// resumable is a trainer that can continue from a checkpoint.
type resumable interface {
	Resume(checkpoint string) error
	Step() int
}

// resumeRun continues tr from the checkpoint that --resume names, if any.
// A run without a checkpoint yet (stopped before its first one) starts
// from step 0, with "--resume latest" as without it; lines that it
// logged before it stopped are dropped.
func resumeRun(run *runfolder.Run, resume string, tr resumable, log io.Writer, label string) error {
	steps, err := run.Steps()
	if err != nil {
		return err
	}
	if len(steps) == 0 && (resume == "" || resume == "latest") {
		if err := run.TruncateLog(0); err != nil {
			return err
		}
		if resume != "" {
			fmt.Fprintf(log, "%s: %s has no checkpoint yet: starting from step 0\n", label, run.Dir)
		}
		return nil
	}
	if resume == "" {
		return nil
	}
	ck, err := run.Resolve(resume)
	if err != nil {
		return fmt.Errorf("--resume %w", err)
	}
	if err := tr.Resume(ck); err != nil {
		return err
	}
	fmt.Fprintf(log, "%s: resumed from %s at step %d\n", label, ck, tr.Step())
	return nil
}

// runInputs is RUN/inputs.json: the input folders (absolute, links
// resolved) and name filters a training run learns from, by flag name
// without its dashes, so that
// a resumed run cannot silently continue on other data.
type runInputs map[string][]string

// checkRunInputs records a new run's inputs in out/inputs.json, or on
// resume refuses inputs that differ from the recorded ones (a run from
// before inputs.json records them now).
func checkRunInputs(out string, in runInputs, resuming bool) error {
	for k, v := range in {
		if v == nil {
			in[k] = []string{} // nil and empty compare equal
		}
	}
	want, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(out, "inputs.json")
	if resuming {
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			var was runInputs
			if err := json.Unmarshal(old, &was); err != nil {
				return fmt.Errorf("%s is corrupt (%v): remove it to record the inputs again", p, err)
			}
			for _, k := range slices.Sorted(maps.Keys(in)) {
				if !slices.Equal(was[k], in[k]) {
					return fmt.Errorf("--%s %s differs from the run's %s in %s: a resumed run keeps its data (resume with the same inputs, or start a new --out)",
						k, strings.Join(in[k], ","), strings.Join(was[k], ","), p)
				}
			}
			return nil
		}
	}
	return pairset.WriteFileAtomic(p, append(want, '\n'))
}
