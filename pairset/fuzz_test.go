package pairset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRunJSON feeds arbitrary run.json files of an output folder to the
// check a rerun makes: no panic, and a corrupt file is an error, not a
// silent resume.
func FuzzRunJSON(f *testing.F) {
	info := Run{Command: "degrade", Config: map[string]any{"scale": 4}, Seed: 3, PerImage: 1, Inputs: "/data/hq"}
	b, _ := json.MarshalIndent(info, "", "  ")
	f.Add(b)
	f.Add([]byte(`{"command":"degrade","config":{"scale":4},"seed":3,"per_image":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"inputs": 5}`))
	f.Fuzz(func(t *testing.T, old []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, RunFile), old, 0o644)
		err := ClaimRun(dir, info, false)
		var a map[string]any
		if json.Unmarshal(old, &a) != nil || a == nil {
			if err == nil {
				t.Fatalf("a corrupt run.json %q was accepted", old)
			}
		}
	})
}

// FuzzMergeFolders feeds arbitrary shard.json and run.json files to merge
// (two shard folders holding the same pair of files): no panic, no
// unbounded loop or allocation from a count in a file.
func FuzzMergeFolders(f *testing.F) {
	good, _ := json.Marshal(Shard{Index: 0, Count: 2, PerImage: 1, Items: []string{"a"}})
	f.Add(good, []byte(`{"command":"synth","config":{},"seed":1,"per_image":1,"version":"x"}`))
	f.Add([]byte(`{"index":0,"count":9223372036854775807,"per_image":1,"items":[]}`), []byte(`{}`))
	f.Add([]byte(`{"index":-1,"count":0,"per_image":0,"items":["../../x"]}`), []byte(`[]`))
	f.Add([]byte(`{"items":["a\nb", "HR/../.."]}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, shard, runJSON []byte) {
		root := t.TempDir()
		var dirs []string
		for i := 0; i < 2; i++ {
			d := filepath.Join(root, []string{"s0", "s1"}[i])
			os.MkdirAll(filepath.Join(d, HRDir), 0o755)
			os.WriteFile(filepath.Join(d, ShardFile), shard, 0o644)
			os.WriteFile(filepath.Join(d, RunFile), runJSON, 0o644)
			dirs = append(dirs, d)
		}
		Merge(dirs, filepath.Join(root, "out"))
	})
}
