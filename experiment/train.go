package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/train/runfolder"
	"github.com/degradiff/degradiff/train/srtrain"
)

// srRun is one SR network of the experiment: a source and the index of
// its training seed.
type srRun struct {
	source string
	seed   int
}

// key names the run's folders and files: the source for the first seed
// (as before seeds existed, so that earlier runs resume), SOURCE.seedK
// for the others.
func (s srRun) key() string {
	if s.seed == 0 {
		return s.source
	}
	return fmt.Sprintf("%s.seed%d", s.source, s.seed)
}

// seeds returns the number of SR training seeds per source.
func (c Config) seeds() int { return max(c.SRSeeds, 1) }

func (r *runner) runDir(run srRun) string { return filepath.Join(r.out, SRDir, run.key()) }

// trainDone reports a finished training run: its model folder exists.
func (r *runner) trainDone(run srRun) bool {
	return srnet.IsModelDir(filepath.Join(r.runDir(run), srtrain.ModelDir))
}

// srConfig returns the SR training settings: the same for every source,
// with the experiment's seed plus the run's seed index.
func (r *runner) srConfig(run srRun) srtrain.Config {
	c := r.cfg.SR
	c.Seed = r.cfg.Seed + uint64(run.seed)
	return c
}

// train trains the SR network on the source's pairs (the real training
// pairs for Real) in the run folder OUT/sr/KEY, continuing from its latest
// checkpoint if an earlier run was interrupted.
func (r *runner) train(sr srRun) error {
	cfg := r.srConfig(sr)
	source := sr.key()
	dir := r.runDir(sr)
	var data *pairread.Set
	var err error
	if sr.source == Real {
		data = r.realPairs
	} else if data, err = pairread.OpenWith(r.pairsDir(sr.source), pairread.Options{Scale: cfg.Model.Scale}); err != nil {
		return err
	}
	run, err := runfolder.Create(dir, cfg.KeepCheckpoints)
	if err != nil {
		return err
	}
	defer run.Close()
	tr, err := srtrain.New(cfg, run, data, r.log)
	if err != nil {
		return err
	}
	if ck, _ := run.Latest(); ck != "" {
		if err := tr.Resume(ck); err != nil {
			return err
		}
		fmt.Fprintf(r.log, "bench: sr/%s: resumed from %s at step %d\n", source, ck, tr.Step())
	}
	fmt.Fprintf(r.log, "bench: sr/%s: %d pairs, %d-parameter network, %d steps of %d patches of %dx%d\n",
		source, data.Len(), tr.Model.NumParams(), cfg.Steps, cfg.BatchSize, cfg.PatchSize, cfg.PatchSize)
	err = tr.Run(r.ctx)
	// A cancelled run has saved its checkpoint before anything else can
	// fail (srtrain's loss plot needs a first log line).
	if errors.Is(err, srtrain.ErrInterrupted) || (err != nil && r.ctx.Err() != nil) {
		return Interrupted("sr/" + source)
	}
	return err
}

// lossPoint is a log.jsonl line of a training run.
type lossPoint struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// lossCurve reads the training loss of a source's run.
func (r *runner) lossCurve(run srRun) ([]lossPoint, error) {
	return readLoss(&runfolder.Run{Dir: r.runDir(run)})
}

// readLoss reads the training loss of a run folder's log.
func readLoss(run *runfolder.Run) ([]lossPoint, error) {
	var out []lossPoint
	err := run.ReadLog(func(line []byte) error {
		var p lossPoint
		if err := json.Unmarshal(line, &p); err != nil || p.Step == 0 {
			return nil // other events
		}
		out = append(out, p)
		return nil
	})
	return out, err
}
