package experiment

import (
	"path/filepath"

	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/internal/progress"
	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/pairset"
)

func (r *runner) gapFile(source string) string {
	return filepath.Join(r.out, GapDir, source+".json")
}

// gapOptions returns the measurement settings, keyed by the experiment's
// seed unless they name their own.
func (r *runner) gapOptions() measure.Options {
	opt := r.cfg.Gap
	if opt.Seed == 0 {
		opt.Seed = r.cfg.Seed
	}
	return opt
}

// measureGap compares the source's LR images with the real LQ images and
// writes the report to OUT/gap/SOURCE.json.
func (r *runner) measureGap(source string) error {
	synth, err := measure.Dir(filepath.Join(r.pairsDir(source), pairset.LRDir))
	if err != nil {
		return err
	}
	opt := r.gapOptions()
	// The bars start before the work they time, so that their rates hold.
	imgs := progress.New(r.log, r.real.Len()+synth.Len(), "bench gap "+source, "img")
	var splits *progress.Bar
	opt.Progress = func(stage string, done, total int) {
		switch stage {
		case "images":
			imgs.Add(1)
			if done == total {
				imgs.Finish()
				if !opt.SkipC2ST {
					splits = progress.New(r.log, opt.C2ST.WithDefaults().Splits, "bench c2st "+source, "split")
				}
			}
		case "c2st":
			if splits == nil {
				splits = progress.New(r.log, total, "bench c2st "+source, "split")
			}
			splits.Add(1)
			if done == total {
				splits.Finish()
			}
		}
	}
	// measure.Gap takes no context: an interruption stops the run after
	// it, with its result kept.
	rep, err := measure.Gap(r.real, synth, opt)
	if err != nil {
		return err
	}
	return atomicfile.WriteJSON(r.gapFile(source), rep)
}
