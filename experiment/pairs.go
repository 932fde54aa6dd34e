package experiment

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/diffusion/pipeline"
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

// methodModel loads the Method's diffusion model once: the adapted one
// when the bench adapts, else the one given.
func (r *runner) methodModel() (*pipeline.Model, error) {
	if r.method != nil {
		return r.method, nil
	}
	var err error
	if r.cfg.Adapt.Steps > 0 {
		r.method, err = r.loadAdapted()
	} else {
		r.method, err = pipeline.Load(r.cfg.Model, r.cfg.ModelEMA)
	}
	return r.method, err
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
	opt := synth.Options{Degradation: pipe, Seed: c.Seed}
	if refined(source) {
		m, err := r.methodModel()
		if err != nil {
			return err
		}
		opt = c.Synth.Options(pipe, m, c.Seed)
		fmt.Fprintf(r.log, "bench: %s: model %s (sha256 %.12s), %s, %d steps, strength <= %g\n",
			source, m.ID.Name, m.ID.SHA256, c.Synth.Sampler, c.Synth.Steps, c.Synth.MaxStrength)
		if m.Untrained {
			fmt.Fprintf(r.log, "bench: warning: the built-in model of this build is untrained (step 0): %s's LQ images will be noise; give a trained one with --model\n", source)
		}
	}
	syn, err := synth.New(opt)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	dir := r.pairsDir(source)
	w, err := pairset.Create(dir)
	if err != nil {
		return err
	}
	files, groups := byFile(r.crops.Crops)
	sources := make([]synth.Source, len(files))
	for i, f := range files {
		sources[i] = synth.Source{Path: f, Items: []synth.Item{}}
		for _, cr := range groups[f] {
			sources[i].Items = append(sources[i].Items, synth.Item{Name: cr.Name, Box: &cr.Box})
		}
	}
	stats := syn.Run(r.ctx, w, sources, synth.RunOptions{PerImage: c.PerImage, KeepInit: true, Workers: c.Workers, Log: r.log, Desc: "bench " + source, Unit: "img"})
	sum := stats.Summary
	if sum.Interrupted || (r.ctx.Err() != nil && len(sum.Failed) > 0) {
		return Interrupted("pairs/" + source)
	}
	if len(sum.Failed) > 0 {
		var errs []error
		for _, f := range sum.Failed {
			errs = append(errs, f.Err)
		}
		return fmt.Errorf("%d of %d HQ images failed (every source needs every crop): %w", len(sum.Failed), len(sources), errors.Join(errs...))
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
