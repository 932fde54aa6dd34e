//go:build ignore

// quickstart-figure draws docs/quickstart.png from the output of the README's
// quick start: for each named item, the HR centre crop (256 pixels), and the
// initial and final LQ centre crops (64 pixels, shown 4x), captioned.
//
//	degradiff samples --out hq && degradiff synth --hq hq --out pairs --keep-init --seed 1
//	go run scripts/quickstart-figure.go pairs docs/quickstart.png bricks landscape stripes
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/raster"
)

func crop(m *raster.Image, s, z int) *raster.Image {
	y0, x0 := (m.H-s)/2, (m.W-s)/2
	o := raster.New(3, s*z, s*z)
	for c := 0; c < 3; c++ {
		for y := 0; y < s*z; y++ {
			for x := 0; x < s*z; x++ {
				o.Pix[c*s*z*s*z+y*s*z+x] = m.Pix[c*m.H*m.W+(y0+y/z)*m.W+x0+x/z]
			}
		}
	}
	return o
}

func load(p string) *raster.Image {
	m, _, err := imageio.Load(p, imageio.Options{})
	if err != nil {
		fail(err)
	}
	return m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "quickstart-figure:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 {
		fail(fmt.Errorf("usage: go run scripts/quickstart-figure.go PAIRS OUT.png NAME..."))
	}
	dir, out, names := os.Args[1], os.Args[2], os.Args[3:]
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		fail(err)
	}
	recs := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fail(fmt.Errorf("%s: %w", f.Name(), err))
		}
		recs[r["name"].(string)] = r
	}
	var rows [][]plot.Cell
	for _, n := range names {
		r := recs[n]
		if r == nil {
			fail(fmt.Errorf("%s has no item %q", f.Name(), n))
		}
		lr := r["lr"].(string)
		init := filepath.Join(dir, "LR_init", filepath.Base(lr))
		rows = append(rows, []plot.Cell{
			{Image: crop(load(filepath.Join(dir, r["hr"].(string))), 256, 1), Caption: "HR (centre crop)"},
			{Image: crop(load(init), 64, 4), Caption: "initial LQ (official)"},
			{Image: crop(load(filepath.Join(dir, lr)), 64, 4), Caption: fmt.Sprintf("final LQ, strength %.2f", r["strength"].(float64))},
		})
	}
	if err := plot.SavePNG(out, plot.Grid(rows, 1)); err != nil {
		fail(err)
	}
}
