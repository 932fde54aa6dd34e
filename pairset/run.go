package pairset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RunFile is OUT/run.json: the settings a pair folder was made with.
const RunFile = "run.json"

// Run is the record of RunFile: what must match for a rerun to resume a
// pair folder.
type Run struct {
	Command  string `json:"command"`
	Config   any    `json:"config"`
	Seed     uint64 `json:"seed"`
	PerImage int    `json:"per_image"`
	// Inputs is the input folder (absolute, links resolved): a rerun from
	// another folder holding the same file names must not take the pairs
	// of this one as done.
	Inputs  string `json:"inputs,omitempty"`
	Version string `json:"version"`
}

// ClaimRun records run in root/run.json, or, when the folder has one
// already, refuses settings (or inputs) other than those it records,
// unless overwrite is set: pairs made with other settings must not be
// mixed into the folder.
func ClaimRun(root string, run Run, overwrite bool) error {
	p := filepath.Join(root, RunFile)
	want, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	old, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", p, err)
	case !overwrite:
		var a, b map[string]any
		if err := json.Unmarshal(old, &a); err != nil || a == nil {
			return fmt.Errorf("%s is corrupt (%v): remove it or use another --out", p, err)
		}
		json.Unmarshal(want, &b)
		delete(a, "version")
		delete(b, "version")
		if _, ok := a["inputs"]; !ok {
			delete(b, "inputs") // written before run.json recorded the input folder
		}
		if a["inputs"] != nil && b["inputs"] != nil && a["inputs"] != b["inputs"] {
			return fmt.Errorf("%s: this folder holds pairs made from the images in %v, not %v: use another --out, or --overwrite to redo every pair", p, a["inputs"], b["inputs"])
		}
		ca, _ := json.Marshal(a)
		cb, _ := json.Marshal(b)
		if !bytes.Equal(ca, cb) {
			return fmt.Errorf("%s: this folder holds pairs made with other settings (config, seed or --per-image); use another --out, or --overwrite to redo every pair", p)
		}
		return nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", root, err)
	}
	return WriteFileAtomic(p, append(want, '\n'))
}

// RunSettings re-encodes a run.json without its version, keys sorted, so
// that equal settings compare equal whatever version wrote them.
func RunSettings(b []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "version")
	return json.Marshal(m)
}

// ReadRunConfig returns the "config" of root/run.json.
func ReadRunConfig(root string) (json.RawMessage, error) {
	p := filepath.Join(root, RunFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var run struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return run.Config, nil
}

// FindRecord returns the manifest record of the pair whose LR image is lr
// (a slash-separated path inside root, such as LR/NAME_00.png) and the
// path of its HR image.
func FindRecord(root, lr string) (record json.RawMessage, hr string, err error) {
	lines, err := ReadManifest(root)
	if err != nil {
		return nil, "", err
	}
	want := filepath.ToSlash(lr)
	for _, line := range lines {
		var head struct {
			HR string `json:"hr"`
			LR string `json:"lr"`
		}
		json.Unmarshal(line, &head)
		if head.LR == want {
			return line, filepath.Join(root, filepath.FromSlash(head.HR)), nil
		}
	}
	return nil, "", fmt.Errorf("%s: no such pair in %s", lr, filepath.Join(root, Manifest))
}
