package experiment

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/synth"
)

// pairsDir is where a source's pairs go.
func (r *runner) pairsDir(source string) string { return filepath.Join(r.out, PairsDir, source) }

// pairsDone reports a finished pairs folder: meta_info.txt is written only
// once every pair is.
func (r *runner) pairsDone(source string) bool {
	return exists(filepath.Join(r.pairsDir(source), pairset.MetaFile))
}

// cropRecord is the manifest record of a degradation-only pair: the
// degradation's record and the crop box.
type cropRecord struct {
	degrade.Record
	Crop [4]int `json:"crop"`
}

// pipeline builds the degradation of a source at the experiment's scale:
// a preset, or the calibrated configuration.
func (r *runner) pipeline(source string) (degrade.Pipeline, error) {
	preset, file := initial(source), ""
	if calibrated(source) {
		preset, file = "", r.calibrationFile()
	}
	c, err := degrade.Load(preset, file)
	if err != nil {
		return nil, err
	}
	c.Scale = r.cfg.Scale
	return degrade.New(c)
}

// makePairs writes the pairs of one source for every crop: the same item
// names, variants and seed for every source, so that Official and Method
// (and Calibrated and CalibratedMethod) share each pair's initial LQ image
// (the refined source writes it to LR_init/). A
// rerun skips the pairs already written.
func (r *runner) makePairs(source string) error {
	c := r.cfg
	pipe, err := r.pipeline(source)
	if err != nil {
		return err
	}
	var syn *synth.Synthesizer
	if refined(source) {
		if r.method == nil {
			if c.Adapt.Steps > 0 {
				r.method, err = r.loadAdapted()
			} else {
				r.method, err = pipeline.Load(c.Model, c.ModelEMA)
			}
			if err != nil {
				return err
			}
		}
		m := r.method
		syn, err = synth.New(c.Synth.Options(pipe, m, c.Seed))
		if err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		fmt.Fprintf(r.log, "bench: %s: model %s (sha256 %.12s), %s, %d steps, strength <= %g\n",
			source, m.ID.Name, m.ID.SHA256, c.Synth.Sampler, c.Synth.Steps, c.Synth.MaxStrength)
		if m.Untrained {
			fmt.Fprintf(r.log, "bench: warning: the built-in model of this build is untrained (step 0): %s's LQ images will be noise; give a trained one with --model\n", source)
		}
	}
	dir := r.pairsDir(source)
	w, err := pairset.Create(dir)
	if err != nil {
		return err
	}
	files, groups := byFile(r.crops.Crops)
	items := make([]batch.Item, len(files))
	for i, f := range files {
		items[i] = batch.Item{Path: f, Name: f}
	}
	job := func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
		var todo []Crop
		for _, cr := range groups[it.Path] {
			if !w.Complete(cr.Name, c.PerImage) {
				todo = append(todo, cr)
			}
		}
		if len(todo) == 0 {
			return batch.Skipped, nil
		}
		img, _, err := imageio.Load(it.Path, imageio.Options{})
		if err != nil {
			return 0, err
		}
		for _, cr := range todo {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("%s: interrupted", it.Path)
			}
			b := cr.Box
			if b[0]+b[2] > img.H || b[1]+b[3] > img.W {
				return 0, fmt.Errorf("%s: crop %v of %s does not fit the %dx%d image (changed since %s was written?)",
					it.Path, b, cr.Name, img.W, img.H, CropsFile)
			}
			src := img.Crop(b[0], b[1], b[2], b[3])
			item, err := degrade.Prepare(pipe, src, c.Seed, cr.Name)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", it.Path, err)
			}
			variants := make([]pairset.Variant, c.PerImage)
			for k := range variants {
				if syn != nil {
					init, lq, rec, err := syn.Variant(item, cr.Name, k)
					if err != nil {
						return 0, fmt.Errorf("%s: %w", it.Path, err)
					}
					rec.Source, rec.Crop = it.Path, &b
					variants[k] = pairset.Variant{LR: lq, Init: init, Record: rec}
					continue
				}
				lq, rec, err := item.Variant(k)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", it.Path, err)
				}
				rec.Source = it.Path
				variants[k] = pairset.Variant{LR: lq, Record: cropRecord{rec, b}}
			}
			if err := w.Write(cr.Name, item.HR, variants); err != nil {
				return 0, err
			}
		}
		return batch.Done, nil
	}
	sum := batch.Run(r.ctx, items, batch.Options{Workers: c.Workers, Log: r.log, Desc: "bench " + source, Unit: "img"}, job)
	if sum.Interrupted || (r.ctx.Err() != nil && len(sum.Failed) > 0) {
		return interrupted("pairs/" + source)
	}
	if len(sum.Failed) > 0 {
		var errs []error
		for _, f := range sum.Failed {
			errs = append(errs, f.Err)
		}
		return fmt.Errorf("%d of %d HQ images failed (every source needs every crop): %w", len(sum.Failed), len(items), errors.Join(errs...))
	}
	n, err := w.Finish()
	if err != nil {
		return err
	}
	if want := len(r.crops.Crops) * c.PerImage; n != want {
		return fmt.Errorf("%s holds %d pairs, want %d: remove it and rerun", dir, n, want)
	}
	return nil
}

// manifestModel returns the diffusion model named by the first record of a
// pairs folder's manifest, or nil.
func manifestModel(dir string) *pipeline.ID {
	f, err := os.Open(filepath.Join(dir, pairset.Manifest))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	if !sc.Scan() {
		return nil
	}
	var rec struct {
		Model *pipeline.ID `json:"model"`
	}
	if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Model == nil || strings.TrimSpace(rec.Model.Name) == "" {
		return nil
	}
	return rec.Model
}
