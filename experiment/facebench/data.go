package facebench

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/batch"
	"github.com/degradiff/degradiff/models/bfrnet"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/synth"
)

// Split is OUT/split.json: which faces train and which are held out.
type Split struct {
	HQ     SplitSet `json:"hq"`
	RealLQ SplitSet `json:"real_lq"`
}

// SplitSet is the split of one folder. Found counts the faces selected
// (for real LQ faces, by the include and exclude patterns); Train and
// HeldOut are sorted by name. Of the real LQ faces only the held-out ones
// are used; Train lists the others, those a face diffusion model may
// learn from.
type SplitSet struct {
	Dir     string     `json:"dir"`
	Found   int        `json:"found"`
	Train   []FaceFile `json:"train"`
	HeldOut []FaceFile `json:"held_out"`
}

// FaceFile is one input face.
type FaceFile struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// splitHash is the keyed hash of a face's name in a set: uniform in [0, 1).
func splitHash(seed uint64, set, name string) float64 {
	return rng.New(seed, "facebench split", set, name).Float64()
}

// matchAny reports whether name, or its last element, matches a pattern.
func matchAny(pats []string, name string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, path.Base(name)); ok {
			return true
		}
	}
	return false
}

// splitDir lists the faces of dir, selects them by name and splits them by
// the keyed hash: held out when below cfg.HeldOut. maxTrain and
// maxHeldOut (0: all) keep the faces of smallest hash.
func (r *runner) splitDir(flag, set, dir string, include, exclude []string, maxTrain, maxHeldOut int) (SplitSet, error) {
	files, problems := imageio.Find(dir)
	if len(problems) > 0 {
		return SplitSet{}, fmt.Errorf("%s %s: %w", flag, dir, problems[0])
	}
	names, err := imageio.Names(dir, files)
	if err != nil {
		return SplitSet{}, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	type hashed struct {
		f FaceFile
		h float64
	}
	var train, held []hashed
	out := SplitSet{Dir: dir}
	for i, n := range names {
		if len(include) > 0 && !matchAny(include, n) || matchAny(exclude, n) {
			continue
		}
		if err := pairset.ValidName(n); err != nil {
			return SplitSet{}, fmt.Errorf("%s: %s: %w", flag, files[i], err)
		}
		out.Found++
		h := hashed{FaceFile{n, files[i]}, splitHash(r.cfg.SplitSeed, set, n)}
		if h.h < r.cfg.HeldOut {
			held = append(held, h)
		} else {
			train = append(train, h)
		}
	}
	pick := func(list []hashed, limit int) []FaceFile {
		sort.Slice(list, func(i, j int) bool { return list[i].h < list[j].h })
		if limit > 0 && len(list) > limit {
			list = list[:limit]
		}
		fs := make([]FaceFile, len(list))
		for i, h := range list {
			fs[i] = h.f
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
		return fs
	}
	out.Train, out.HeldOut = pick(train, maxTrain), pick(held, maxHeldOut)
	return out, nil
}

// makeSplit chooses the training and held-out faces and checks, from
// their headers, that every face used can be read.
func (r *runner) makeSplit() error {
	c := r.cfg
	hq, err := r.splitDir("--hq", "hq", c.HQ, nil, nil, c.MaxFaces, c.MaxHeldOut)
	if err != nil {
		return err
	}
	// Only the held-out real LQ faces are used: no cap on the others.
	real, err := r.splitDir("--real-lq", "real_lq", c.RealLQ, c.RealLQInclude, c.RealLQExclude, 0, c.MaxHeldOut)
	if err != nil {
		return err
	}
	switch {
	case hq.Found == 0:
		return fmt.Errorf("--hq %s: no images found", c.HQ)
	case real.Found == 0:
		return fmt.Errorf("--real-lq %s: no images found (or none left by the include and exclude patterns)", c.RealLQ)
	case len(hq.Train) < 1:
		return fmt.Errorf("--hq %s: none of its %d faces is left for training with held_out %g", c.HQ, hq.Found, c.HeldOut)
	case len(hq.HeldOut) < 2:
		return fmt.Errorf("--hq %s: %d of its %d faces held out (held_out %g), need at least 2 to measure", c.HQ, len(hq.HeldOut), hq.Found, c.HeldOut)
	case len(real.HeldOut) < 2:
		return fmt.Errorf("--real-lq %s: %d of its %d faces held out (held_out %g), need at least 2 to measure", c.RealLQ, len(real.HeldOut), real.Found, c.HeldOut)
	}
	for _, set := range []struct {
		flag  string
		faces []FaceFile
	}{{"--hq", hq.Train}, {"--hq", hq.HeldOut}, {"--real-lq", real.HeldOut}} {
		for _, f := range set.faces {
			if _, err := imageio.ReadInfo(f.File, imageio.Options{}); err != nil {
				return fmt.Errorf("%s: %w", set.flag, err)
			}
		}
	}
	r.split = &Split{HQ: hq, RealLQ: real}
	return atomicfile.WriteJSON(r.path(SplitFile), r.split)
}

// loadFace reads a face and resizes it to the face size.
func (r *runner) loadFace(file string) (*raster.Image, error) {
	img, _, err := imageio.Load(file, imageio.Options{})
	if err != nil {
		return nil, err
	}
	return bfrnet.ResizeFace(img, r.cfg.faceSize()), nil
}

func items(faces []FaceFile) []batch.Item {
	out := make([]batch.Item, len(faces))
	for i, f := range faces {
		out[i] = batch.Item{Path: f.File, Name: f.Name}
	}
	return out
}

// prepareRealLQ writes the held-out real LQ faces at the face size to
// OUT/real_lq, then the list of them, which marks the folder complete.
func (r *runner) prepareRealLQ() error {
	dir := r.path(RealLQDir)
	err := r.forEach(RealLQDir, items(r.split.RealLQ.HeldOut), func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
		p := filepath.Join(dir, filepath.FromSlash(it.Name)+".png")
		if exists(p) {
			return batch.Skipped, nil
		}
		img, err := r.loadFace(it.Path)
		if err != nil {
			return 0, err
		}
		return batch.Done, batch.Output(saveImage(p, img))
	})
	if err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(dir, realLQList), r.split.RealLQ.HeldOut)
}

// makeHeldOut writes the held-out HQ faces at the face size and their LQ
// faces by the held-out degradation as pairs in OUT/heldout.
func (r *runner) makeHeldOut() error {
	d := r.cfg.HeldOutDegradation
	pipe, err := d.pipeline()
	if err != nil {
		return fmt.Errorf("held_out_degradation: %w", err)
	}
	w, err := pairset.Create(r.path(HeldOutDir))
	if err != nil {
		return err
	}
	err = r.forEach(HeldOutDir, items(r.split.HQ.HeldOut), func(ctx context.Context, it batch.Item) (batch.Outcome, error) {
		if w.Complete(it.Name, 1) {
			return batch.Skipped, nil
		}
		hq, err := r.loadFace(it.Path)
		if err != nil {
			return 0, err
		}
		item, err := degrade.Prepare(pipe, hq, d.Seed, it.Name)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", it.Path, err)
		}
		lq, rec, err := item.Variant(0)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", it.Path, err)
		}
		rec.Source = it.Path
		return batch.Done, batch.Output(w.Write(it.Name, item.HR, []pairset.Variant{{LR: lq, Record: rec}}))
	})
	if err != nil {
		return err
	}
	_, err = w.Finish()
	return err
}

// initialPipeline is the degradation a source makes its initial LQ faces
// with, at scale 1 with the LQ face resized back: GFPGAN's (the face
// preset) for face and face+ddpm, the calibration file for the calibrated
// sources.
func (c Config) initialPipeline(source string) (degrade.Pipeline, error) {
	var d degrade.Config
	var err error
	if calibrated(source) {
		if d, err = loadCalibration(c.Calibration); err != nil {
			return nil, err
		}
	} else if d, err = degrade.LoadPreset("face"); err != nil {
		return nil, err
	}
	d.Scale, d.ResizeBack = 1, true
	p, err := degrade.New(d)
	if err != nil && calibrated(source) {
		return nil, fmt.Errorf("--calibration %s: %w", c.Calibration, err)
	}
	return p, err
}

// loadCalibration reads a --calibration file: on top of the face preset
// when it names no preset (a file of face: keys alone would otherwise
// land on degrade's default, official), and refused when it is not a face
// degradation.
func loadCalibration(file string) (degrade.Config, error) {
	d, err := degrade.LoadOr("", file, "face")
	if err != nil {
		return d, fmt.Errorf("--calibration: %w", err)
	}
	if d.Type != "face" {
		return d, fmt.Errorf("--calibration %s: a %s degradation (preset %s); the face bench needs a face one (preset: face, as degradiff calibrate --preset face writes)", file, d.Type, d.Preset)
	}
	return d, nil
}

// makePairs writes a source's training pairs: every training HQ face at
// the face size, degraded by the source's initial degradation with the
// same item names, variants and seed for every source, so that face+ddpm
// refines exactly face's initial LQ faces and calibrated+ddpm
// calibrated's (and keeps them in LR_init/). A rerun skips the pairs
// already written.
func (r *runner) makePairs(source string) error {
	c := r.cfg
	pipe, err := c.initialPipeline(source)
	if err != nil {
		return err
	}
	opt := synth.Options{Degradation: pipe, Seed: c.Seed}
	if refined(source) {
		m := r.model
		opt = c.Synth.Options(pipe, m, c.Seed)
		fmt.Fprintf(r.log, "bench: %s: model %s (sha256 %.12s), %s, %d steps, strength <= %g\n",
			source, m.ID.Name, m.ID.SHA256, c.Synth.Sampler, c.Synth.Steps, c.Synth.MaxStrength)
	}
	syn, err := synth.New(opt)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	dir := r.path(PairsDir, source)
	w, err := pairset.Create(dir)
	if err != nil {
		return err
	}
	faces := r.split.HQ.Train
	sources := make([]synth.Source, len(faces))
	for i, f := range faces {
		sources[i] = synth.Source{Path: f.File, Name: f.Name, Items: []synth.Item{{Name: f.Name}}}
	}
	stage := PairsDir + "/" + source
	stats := syn.Run(r.ctx, w, sources, synth.RunOptions{PerImage: c.PerImage, KeepInit: true, Workers: c.Workers,
		Log: r.log, Desc: "bench " + stage, Unit: "face", Load: r.loadFace})
	if err := r.failures(stage, len(sources), stats.Summary); err != nil {
		return err
	}
	n, err := w.Finish()
	if err != nil {
		return err
	}
	if want := len(r.split.HQ.Train) * c.PerImage; n != want {
		return fmt.Errorf("%s holds %d pairs, want %d: remove it and rerun", dir, n, want)
	}
	return nil
}

// saveImage writes a PNG atomically, creating its folder.
func saveImage(p string, img *raster.Image) error {
	return imageio.Save(p, img, imageio.SaveOptions{})
}
