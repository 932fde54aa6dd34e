package pairset

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Shard is the record of ShardFile: which part of a dataset a folder
// holds (degradiff synth --shard I/N), so that Merge can check that the
// shards fit together.
type Shard struct {
	Index    int      `json:"index"`
	Count    int      `json:"count"`
	PerImage int      `json:"per_image"`
	Items    []string `json:"items"`
}

// WriteShard writes root/shard.json.
func WriteShard(root string, s Shard) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(root, ShardFile), b)
}

// ReadShard reads root/shard.json and checks that it describes a possible
// shard of valid pair names.
func ReadShard(root string) (Shard, error) {
	p := filepath.Join(root, ShardFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return Shard{}, fmt.Errorf("%s is not a synth output folder: %w", root, err)
	}
	var s Shard
	if err := json.Unmarshal(b, &s); err != nil {
		return Shard{}, fmt.Errorf("%s: %w", p, err)
	}
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count || s.PerImage < 1 {
		return Shard{}, fmt.Errorf("%s: shard %d of %d with per_image %d is impossible: the file is corrupt", p, s.Index, s.Count, s.PerImage)
	}
	for _, name := range s.Items {
		if err := ValidName(name); err != nil || path.IsAbs(name) || strings.Contains("/"+name+"/", "/../") {
			return Shard{}, fmt.Errorf("%s: item %q is not a pair name: the file is corrupt", p, name)
		}
	}
	return s, nil
}
