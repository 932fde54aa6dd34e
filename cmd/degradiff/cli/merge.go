package cli

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
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/pairset"
)

func newMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge OUT_1 ... OUT_N --out DIR",
		Short: "Join the folders of a sharded synth run",
		Long: `merge joins the output folders of "degradiff synth --shard I/N" runs into one
paired folder. It checks that every shard 0..N-1 is there exactly once, that
all were made with the same settings, that every pair each shard was to
make is complete (no pair missing) and that no pair appears twice; then it
copies (hard-links when possible) HR/, LR/, LR_init/ and the records, and
rebuilds meta_info.txt and manifest.jsonl in name order. The result is
byte-identical to an unsharded run with the same seed (plus merge.json,
which records what was merged).

--out must be a new or empty folder, or one that an earlier (possibly
interrupted) merge of the same shards wrote; it may not be a shard folder
or lie inside one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := mergeShards(args, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "merge: %d shard(s), %d pairs in %s\n", len(args), n, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "merged output folder")
	cmd.MarkFlagRequired("out")
	return cmd
}

func mergeShards(dirs []string, out string) (int, error) {
	// copyTree replaces each target file: with --out equal to or inside a
	// shard it would delete the shard's own files.
	var ins [][2]string
	for _, d := range dirs {
		ins = append(ins, [2]string{"shard folder", d})
	}
	if err := checkSeparate("--out", out, ins); err != nil {
		return 0, err
	}
	var (
		count    = -1
		seen     = map[int]string{}
		owner    = map[string]string{}
		settings []byte
		runJSON  []byte
	)
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, pairset.ShardFile))
		if err != nil {
			return 0, fmt.Errorf("%s is not a synth output folder: %w", d, err)
		}
		var si shardInfo
		if err := json.Unmarshal(b, &si); err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Join(d, pairset.ShardFile), err)
		}
		if si.Count < 1 || si.Index < 0 || si.Index >= si.Count || si.PerImage < 1 {
			return 0, fmt.Errorf("%s: shard %d of %d with per_image %d is impossible: the file is corrupt", filepath.Join(d, pairset.ShardFile), si.Index, si.Count, si.PerImage)
		}
		if count >= 0 && si.Count != count {
			return 0, fmt.Errorf("%s is shard %d of %d, others are of %d", d, si.Index, si.Count, count)
		}
		count = si.Count
		if prev, dup := seen[si.Index]; dup {
			return 0, fmt.Errorf("shard %d/%d given twice: %s and %s", si.Index, si.Count, prev, d)
		}
		seen[si.Index] = d
		rj, err := os.ReadFile(filepath.Join(d, "run.json"))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", d, err)
		}
		c, err := canonical(rj)
		if err != nil {
			return 0, fmt.Errorf("%s: run.json: %w", d, err)
		}
		if settings != nil && string(c) != string(settings) {
			return 0, fmt.Errorf("%s was made with other settings than %s (compare their run.json)", d, dirs[0])
		}
		settings, runJSON = c, rj
		var missing []string
		for _, name := range si.Items {
			if err := pairset.ValidName(name); err != nil || path.IsAbs(name) || strings.Contains("/"+name+"/", "/../") {
				return 0, fmt.Errorf("%s: item %q is not a pair name: the file is corrupt", filepath.Join(d, pairset.ShardFile), name)
			}
			if o, dup := owner[name]; dup {
				return 0, fmt.Errorf("pair %s is in both %s and %s", name, o, d)
			}
			owner[name] = d
			if !pairset.IsComplete(d, name, si.PerImage) {
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
	if _, err := pairset.Create(out); err != nil {
		return 0, err
	}
	order := make([]int, 0, len(seen))
	for i := range seen {
		order = append(order, i)
	}
	sort.Ints(order)
	for _, i := range order {
		d := seen[i]
		for _, sub := range []string{pairset.HRDir, pairset.LRDir, pairset.InitDir, pairset.RecordDir} {
			if err := copyTree(filepath.Join(d, sub), filepath.Join(out, sub)); err != nil {
				return 0, err
			}
		}
	}
	if err := pairset.WriteFileAtomic(filepath.Join(out, "run.json"), runJSON); err != nil {
		return 0, err
	}
	return pairset.Rebuild(out)
}

// mergeFile marks a folder as the output of merging a given set of shards.
const mergeFile = "merge.json"

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
		return fmt.Errorf("--out %s: %w", out, err)
	}
	p := filepath.Join(out, mergeFile)
	if len(entries) > 0 {
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("--out %s is not empty and is not the output of an earlier merge (no %s): choose an empty or new folder", out, mergeFile)
		case err != nil:
			return fmt.Errorf("--out %s: %w", out, err)
		case !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(info)):
			return fmt.Errorf("--out %s holds the merge of other shards or settings (see its %s): choose an empty or new folder", out, mergeFile)
		}
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	return pairset.WriteFileAtomic(p, info)
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
		return pairset.WriteFileAtomic(target, b)
	})
	if err != nil {
		return fmt.Errorf("merging %s: %w", src, err)
	}
	return nil
}
