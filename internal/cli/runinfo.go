package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

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
		a, errA := canonical(old)
		b, _ := canonical(want)
		if errA != nil {
			return fmt.Errorf("%s is corrupt (%v): remove it or use another --out", p, errA)
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s: this folder holds pairs made with other settings (config, seed or --per-image); use another --out, or --overwrite to redo every pair", p)
		}
		return nil
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
