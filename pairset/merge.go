package pairset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Merge joins the shard folders dirs (degradiff synth --shard I/N) into the
// pair folder out: it checks that they are the shards 0..N-1 of one run
// (same settings in run.json, no item twice, every item complete), then
// hard-links (or copies) their files into out and rebuilds meta_info.txt
// and manifest.jsonl, returning the number of pairs. out must be new,
// empty, or an earlier (possibly interrupted) merge of the same shards
// (MergeFile), and must not be inside a shard: the caller checks that.
func Merge(dirs []string, out string) (int, error) {
	var (
		count    = -1
		seen     = map[int]string{}
		owner    = map[string]string{}
		settings []byte
		runJSON  []byte
	)
	for _, d := range dirs {
		si, err := ReadShard(d)
		if err != nil {
			return 0, err
		}
		if count >= 0 && si.Count != count {
			return 0, fmt.Errorf("%s is shard %d of %d, others are of %d", d, si.Index, si.Count, count)
		}
		count = si.Count
		if prev, dup := seen[si.Index]; dup {
			return 0, fmt.Errorf("shard %d/%d given twice: %s and %s", si.Index, si.Count, prev, d)
		}
		seen[si.Index] = d
		rj, err := os.ReadFile(filepath.Join(d, RunFile))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", d, err)
		}
		c, err := RunSettings(rj)
		if err != nil {
			return 0, fmt.Errorf("%s: run.json: %w", d, err)
		}
		if settings != nil && string(c) != string(settings) {
			return 0, fmt.Errorf("%s was made with other settings than %s (compare their run.json)", d, dirs[0])
		}
		settings, runJSON = c, rj
		var missing []string
		for _, name := range si.Items {
			if o, dup := owner[name]; dup {
				return 0, fmt.Errorf("pair %s is in both %s and %s", name, o, d)
			}
			owner[name] = d
			if !IsComplete(d, name, si.PerImage) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return 0, fmt.Errorf("%s: %d of its %d items are incomplete (e.g. %s): rerun its synth command to finish it", d, len(missing), len(si.Items), strings.Join(missing[:min(3, len(missing))], ", "))
		}
	}
	var absent []string
	for i := 0; i < count; i++ {
		if _, ok := seen[i]; !ok {
			if len(absent) == 10 { // count comes from a file: list a few
				absent = append(absent, "...")
				break
			}
			absent = append(absent, fmt.Sprint(i))
		}
	}
	if len(absent) > 0 {
		return 0, fmt.Errorf("shard(s) %s of %d missing", strings.Join(absent, ", "), count)
	}
	var names []string
	for name := range owner {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n + "\n"))
	}
	mi, _ := json.MarshalIndent(mergeInfo{Shards: count, Settings: string(settings), Items: len(names), ItemsSHA256: hex.EncodeToString(h.Sum(nil))}, "", "  ")
	if err := claimMergeFolder(out, append(mi, '\n')); err != nil {
		return 0, err
	}
	if _, err := Create(out); err != nil {
		return 0, err
	}
	order := make([]int, 0, len(seen))
	for i := range seen {
		order = append(order, i)
	}
	sort.Ints(order)
	for _, i := range order {
		d := seen[i]
		for _, sub := range []string{HRDir, LRDir, InitDir, RecordDir} {
			if err := copyTree(filepath.Join(d, sub), filepath.Join(out, sub)); err != nil {
				return 0, err
			}
		}
	}
	if err := WriteFileAtomic(filepath.Join(out, RunFile), runJSON); err != nil {
		return 0, err
	}
	return Rebuild(out)
}

// MergeFile marks a folder as the output of merging a given set of shards.
const MergeFile = "merge.json"

// mergeInfo is OUT/merge.json: what was merged into the folder.
type mergeInfo struct {
	Shards      int    `json:"shards"`
	Settings    string `json:"settings"` // the shards' run.json without its version
	Items       int    `json:"items"`
	ItemsSHA256 string `json:"items_sha256"` // of the sorted item names, one per line
}

// claimMergeFolder accepts out when it is missing or empty, or when its
// merge.json shows a merge (complete or interrupted) of the same shards;
// anything else would have its pairs mixed with the shards' and its
// run.json replaced. It then writes merge.json before any pair is copied,
// so an interrupted merge can be rerun.
func claimMergeFolder(out string, info []byte) error {
	entries, err := os.ReadDir(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output folder %s: %w", out, err)
	}
	p := filepath.Join(out, MergeFile)
	if len(entries) > 0 {
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("output folder %s is not empty and is not the output of an earlier merge (no %s): choose an empty or new folder", out, MergeFile)
		case err != nil:
			return fmt.Errorf("output folder %s: %w", out, err)
		case !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(info)):
			return fmt.Errorf("output folder %s holds the merge of other shards or settings (see its %s): choose an empty or new folder", out, MergeFile)
		}
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", out, err)
	}
	return WriteFileAtomic(p, info)
}

// copyTree hard-links (or copies) every regular file under src into dst,
// skipping temporary files. A missing src is fine (LR_init is optional).
func copyTree(src, dst string) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == src {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		os.Remove(target)
		if os.Link(p, target) == nil {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		b, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		return WriteFileAtomic(target, b)
	})
	if err != nil {
		return fmt.Errorf("merging %s: %w", src, err)
	}
	return nil
}
