package synth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/samples"
)

// writeHQ writes a generated HQ image and returns its path.
func writeHQ(t *testing.T, dir, name string, h, w int) string {
	t.Helper()
	img, err := samples.Render("bricks", h, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := imageio.Save(p, img, imageio.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunWritesResumesAndDegradesOnly(t *testing.T) {
	in := t.TempDir()
	a := writeHQ(t, in, "a", 64, 96)
	b := writeHQ(t, in, "b", 64, 64)
	cfg, _ := degrade.LoadPreset("official")
	p, _ := degrade.New(cfg)
	box := [4]int{0, 32, 64, 64}
	sources := []Source{
		{Path: a, Name: "a", Items: []Item{{Name: "a_s001", Box: &box}}},
		{Path: b, Name: "b", Items: []Item{{Name: "b"}}},
		{Path: b, Name: "b-none", Items: []Item{}}, // listed, nothing to make
	}
	calls := 0
	zero := func(x *tensor.Tensor, ts []float32) *tensor.Tensor { calls++; return tensor.New(x.Shape...) }
	for _, refined := range []bool{true, false} {
		opt := Options{Degradation: p, Seed: 3}
		if refined {
			opt = Options{Degradation: p, Model: zero, SchedulerConfig: schedJSON, MaxStrength: 0.25, Seed: 3}
		}
		syn, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "pairs")
		w, err := pairset.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		ro := RunOptions{PerImage: 2, KeepInit: true, Workers: 2}
		stats := syn.Run(context.Background(), w, sources[:2], ro)
		if len(stats.Failed) != 0 || stats.Pairs != 4 {
			t.Fatalf("refined %v: %d pairs, failures %v", refined, stats.Pairs, stats.Failed)
		}
		if n, err := w.Finish(); err != nil || n != 4 {
			t.Fatalf("refined %v: Finish %d, %v", refined, n, err)
		}
		manifest, err := os.ReadFile(filepath.Join(out, pairset.Manifest))
		if err != nil {
			t.Fatal(err)
		}
		// Both record kinds carry the crop box; only refined ones the
		// diffusion step, and only they keep the initial LQ image.
		if !bytes.Contains(manifest, []byte(`"crop":[0,32,64,64]`)) || bytes.Contains(manifest, []byte(`"strength"`)) != refined {
			t.Fatalf("refined %v: manifest\n%s", refined, manifest)
		}
		if _, err := os.Stat(filepath.Join(out, "LR_init")); (err == nil) != refined {
			t.Fatalf("refined %v: LR_init/ exists: %v", refined, err == nil)
		}
		// A rerun skips every item; Overwrite redoes them.
		before := calls
		again := syn.Run(context.Background(), w, sources, ro)
		if again.Pairs != 0 || again.Skipped != 3 || calls != before {
			t.Fatalf("refined %v: rerun made %d pairs, skipped %d", refined, again.Pairs, again.Skipped)
		}
		ro.Overwrite = true
		if redo := syn.Run(context.Background(), w, sources[:1], ro); redo.Pairs != 2 {
			t.Fatalf("refined %v: overwrite made %d pairs", refined, redo.Pairs)
		}
	}
	// A box outside the image fails that source only.
	syn, _ := New(Options{Degradation: p, Seed: 3})
	w, _ := pairset.Create(filepath.Join(t.TempDir(), "pairs"))
	far := [4]int{0, 64, 64, 64}
	stats := syn.Run(context.Background(), w, []Source{{Path: a, Items: []Item{{Name: "far", Box: &far}}}, sources[1]}, RunOptions{PerImage: 1})
	if len(stats.Failed) != 1 || !strings.Contains(stats.Failed[0].Err.Error(), "does not fit") || stats.Pairs != 1 {
		t.Fatalf("failures %v, %d pairs", stats.Failed, stats.Pairs)
	}
}

func TestPlan(t *testing.T) {
	in := t.TempDir()
	files := []batch.Item{
		{Path: writeHQ(t, in, "a", 64, 96), Name: "a"},
		{Path: writeHQ(t, in, "b", 40, 40), Name: "b"},
		{Path: filepath.Join(in, "broken.png"), Name: "broken"},
	}
	os.WriteFile(files[2].Path, []byte("not a png"), 0o644)
	sources, names, small := Plan(files, Shard{0, 1}, SubImages{Size: 48, Step: 48}, 0)
	// 64x96 in 48-pixel crops every 48: rows 0 and 16 (flush), columns 0
	// and 48.
	if len(sources) != 3 || len(sources[0].Items) != 4 || len(sources[1].Items) != 0 || sources[1].Items == nil || sources[2].Items != nil {
		t.Fatalf("sources %+v", sources)
	}
	if len(names) != 4 || names[0] != "a_s001" || names[3] != "a_s004" || *sources[0].Items[3].Box != [4]int{16, 48, 48, 48} || len(small) != 1 || small[0].Width != 40 {
		t.Fatalf("names %v, too small %v", names, small)
	}
	// Shard 1 of 2 takes the second file; whole images have one item.
	sources, names, _ = Plan(files, Shard{1, 2}, SubImages{}, 0)
	if len(sources) != 1 || sources[0].Name != "b" || len(names) != 1 || names[0] != "b" {
		t.Fatalf("shard 1/2: %+v %v", sources, names)
	}
}
