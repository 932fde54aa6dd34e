package facebench

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/degradiff/degradiff/experiment"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/measure/facemeasure"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/models/bfrnet"
	"github.com/degradiff/degradiff/models/modeldir"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/train/bfrtrain"
	"github.com/degradiff/degradiff/train/runfolder"
)

// maxPSNR replaces the infinite PSNR of a face restored exactly, so that
// means stay finite numbers (JSON has no infinity).
const maxPSNR = 100

func (r *runner) lqGapFile(source string) string { return r.path(GapDir, "lq", source+".json") }
func (r *runner) restoredGapFile(run bfrRun) string {
	return r.path(GapDir, "restored", run.key()+".json")
}
func (r *runner) runDir(run bfrRun) string      { return r.path(BFRDir, run.key()) }
func (r *runner) testFile(run bfrRun) string    { return r.path(TestDir, run.key()+".json") }
func (r *runner) restoredDir(run bfrRun) string { return r.path(RestoredDir, run.key()) }

// gapOptions returns the measurement settings, keyed by the bench's seed
// unless they name their own.
func (r *runner) gapOptions() measure.Options {
	opt := r.cfg.Gap
	if opt.Seed == 0 {
		opt.Seed = r.cfg.Seed
	}
	return opt
}

// gap measures synth against real and writes the report to p.
func (r *runner) gap(p, realDir, synthDir string) error {
	real, err := measure.Dir(realDir)
	if err != nil {
		return err
	}
	syn, err := measure.Dir(synthDir)
	if err != nil {
		return err
	}
	// measure.Gap takes no context: an interruption stops the run after
	// it, with its result kept.
	rep, err := measure.Gap(real, syn, r.gapOptions())
	if err != nil {
		return err
	}
	return atomicfile.WriteJSON(p, rep)
}

// measureLQGap compares a source's LQ training faces with the held-out
// real LQ faces.
func (r *runner) measureLQGap(source string) error {
	return r.gap(r.lqGapFile(source), r.path(RealLQDir), r.path(PairsDir, source, pairset.LRDir))
}

// measureRestoredGap compares a run's restored held-out real LQ faces (for
// Input, the faces themselves) with the held-out real HQ faces.
func (r *runner) measureRestoredGap(run bfrRun) error {
	dir := r.restoredDir(run)
	if run.source == Input {
		dir = r.path(RealLQDir)
	}
	return r.gap(r.restoredGapFile(run), r.path(HeldOutDir, pairset.HRDir), dir)
}

// trainDone reports a finished training run: its model folder exists.
func (r *runner) trainDone(run bfrRun) bool {
	return modeldir.IsModelDir(filepath.Join(r.runDir(run), bfrtrain.ModelDir))
}

// bfrConfig returns the training settings of a run: the same for every
// source, with the bench's seed plus the run's seed index.
func (r *runner) bfrConfig(run bfrRun) bfrtrain.Config {
	c := r.cfg.BFR
	c.Seed = r.cfg.Seed + uint64(run.seed)
	return c
}

// train trains the network on the source's pairs in OUT/bfr/KEY,
// continuing from its latest checkpoint if an earlier run was
// interrupted.
func (r *runner) train(b bfrRun) error {
	cfg := r.bfrConfig(b)
	key := b.key()
	data, err := pairread.OpenWith(r.path(PairsDir, b.source), pairread.Options{Scale: 1})
	if err != nil {
		return err
	}
	run, err := runfolder.Create(r.runDir(b), cfg.KeepCheckpoints)
	if err != nil {
		return err
	}
	defer run.Close()
	if err := run.RemoveStale(); err != nil {
		return err
	}
	tr, err := bfrtrain.New(cfg, run, data, r.log)
	if err != nil {
		return err
	}
	if ck, _ := run.Latest(); ck != "" {
		if err := tr.Resume(ck); err != nil {
			return err
		}
		fmt.Fprintf(r.log, "bench: bfr/%s: resumed from %s at step %d\n", key, ck, tr.Step())
	}
	fmt.Fprintf(r.log, "bench: bfr/%s: %d pairs, %d-parameter network, %d steps of %d faces of %dx%d\n",
		key, data.Len(), tr.Model.NumParams(), cfg.Steps, cfg.BatchSize, cfg.PatchSize, cfg.PatchSize)
	err = tr.Run(r.ctx)
	if errors.Is(err, bfrtrain.ErrInterrupted) || (err != nil && r.ctx.Err() != nil) {
		return experiment.Interrupted(BFRDir + "/" + key)
	}
	return err
}

// RealScore is a restored held-out real LQ face against its input.
type RealScore struct {
	Name string `json:"name"`
	facemeasure.Scores
}

// PairScore is a restored held-out HQ face's LQ face against the HQ face.
type PairScore struct {
	Name string  `json:"name"`
	PSNR float64 `json:"psnr"`
	SSIM float64 `json:"ssim"`
	facemeasure.Scores
}

// TestResult is OUT/test/KEY.json: a run's measures on the held-out faces
// (for Input, the LQ faces themselves), per face and their means.
type TestResult struct {
	Run string `json:"run"`
	// Model describes the weights tested ("" for Input).
	Model string `json:"model,omitempty"`
	// Real holds the held-out real LQ faces: identity and landmark
	// distance between input and restored face (absent for Input).
	Real     []RealScore         `json:"real_lq,omitempty"`
	RealMean *facemeasure.Scores `json:"real_lq_mean,omitempty"`
	// Pairs holds the held-out HQ faces: PSNR and SSIM (8-bit, Y channel,
	// no border cropped) and the face measures against the HQ face.
	Pairs []PairScore `json:"held_out_pairs"`
	PSNR  float64     `json:"psnr"`
	SSIM  float64     `json:"ssim"`
	// PairsFace is the mean identity and landmark distance to the HQ
	// faces.
	PairsFace facemeasure.Scores `json:"held_out_face"`
}

// analyse returns the face analysis of an input or ground-truth image,
// computed once per run of the process.
func (r *runner) analyse(key string, img *raster.Image) facemeasure.Face {
	r.mu.Lock()
	f, ok := r.analysed[key]
	r.mu.Unlock()
	if ok {
		return f
	}
	f = r.faces.Face(img)
	r.mu.Lock()
	r.analysed[key] = f
	r.mu.Unlock()
	return f
}

// test measures a run's network (for Input, no network) on the held-out
// faces and writes OUT/test/KEY.json; the restored real LQ faces go to
// OUT/restored/KEY for their gap.
func (r *runner) test(run bfrRun) error {
	key := run.key()
	var model *bfrnet.Model
	res := TestResult{Run: key}
	if run.source != Input {
		var err error
		if model, res.Model, err = bfrtrain.LoadModel(r.runDir(run), modeldir.AutoWeights); err != nil {
			return err
		}
	}
	restore := func(img *raster.Image) *raster.Image {
		if model == nil {
			return img
		}
		return model.Predict(img)
	}
	real := r.split.RealLQ.HeldOut
	pairs, err := pairread.OpenWith(r.path(HeldOutDir), pairread.Options{Scale: 1, CacheBytes: -1})
	if err != nil {
		return err
	}
	bar := progress.New(r.log, len(real)+pairs.Len(), "bench test "+key, "face")
	defer bar.Finish()
	var scores []facemeasure.Scores
	for _, f := range real {
		if r.ctx.Err() != nil {
			return experiment.Interrupted(TestDir + "/" + key)
		}
		p := r.path(RealLQDir, filepath.FromSlash(f.Name)+".png")
		in, _, err := imageio.Load(p, imageio.Options{})
		if err != nil {
			return err
		}
		if model != nil {
			out := restore(in)
			if err := saveImage(filepath.Join(r.restoredDir(run), filepath.FromSlash(f.Name)+".png"), out); err != nil {
				return err
			}
			// The saved face is what the gap measures: score it as saved.
			out, _, err = imageio.Load(filepath.Join(r.restoredDir(run), filepath.FromSlash(f.Name)+".png"), imageio.Options{})
			if err != nil {
				return err
			}
			s := facemeasure.Score(r.faces.Face(out), r.analyse(p, in))
			res.Real = append(res.Real, RealScore{f.Name, s})
			scores = append(scores, s)
		}
		bar.Add(1)
	}
	if len(scores) > 0 {
		m := facemeasure.Mean(scores)
		res.RealMean = &m
	}
	opt := fidelity.Options{TestY: true}
	scores = scores[:0]
	for i, p := range pairs.Pairs {
		if r.ctx.Err() != nil {
			return experiment.Interrupted(TestDir + "/" + key)
		}
		hr, lr, err := pairs.Load(i)
		if err != nil {
			return err
		}
		out := restore(lr)
		s := PairScore{Name: p.HRName, PSNR: math.Min(fidelity.PSNR(out, hr, opt), maxPSNR), SSIM: fidelity.SSIM(out, hr, opt)}
		s.Scores = facemeasure.Score(r.faces.Face(out), r.analyse(p.HRPath, hr))
		res.Pairs = append(res.Pairs, s)
		res.PSNR += s.PSNR / float64(pairs.Len())
		res.SSIM += s.SSIM / float64(pairs.Len())
		scores = append(scores, s.Scores)
		bar.Add(1)
	}
	res.PairsFace = facemeasure.Mean(scores)
	return atomicfile.WriteJSON(r.testFile(run), res)
}
