package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/pairset"
)

func checkRunFile(p string, info runInfo, overwrite bool) error {
	want, err := json.MarshalIndent(info, "", "  ")
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
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", filepath.Dir(p), err)
	}
	return pairset.WriteFileAtomic(p, append(want, '\n'))
}

// canonical re-encodes a run.json without its version, with sorted keys, so
// that equal settings compare equal whatever wrote them.
func canonical(b []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "version")
	return json.Marshal(m)
}
