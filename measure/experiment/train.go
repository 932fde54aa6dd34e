package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/pairset/pairdata"
	"github.com/degradiff/degradiff/train/runfolder"
	"github.com/degradiff/degradiff/train/srtrain"
)

func (r *runner) runDir(source string) string { return filepath.Join(r.out, SRDir, source) }

// trainDone reports a finished training run: its model folder exists.
func (r *runner) trainDone(source string) bool {
	return srnet.IsModelDir(filepath.Join(r.runDir(source), srtrain.ModelDir))
}

// srConfig returns the SR training settings: the same for every source,
// with the experiment's seed.
func (r *runner) srConfig() srtrain.Config {
	c := r.cfg.SR
	c.Seed = r.cfg.Seed
	return c
}

// train trains the SR network on the source's pairs in the run folder
// OUT/sr/SOURCE, continuing from its latest checkpoint if an earlier run
// was interrupted.
func (r *runner) train(source string) error {
	cfg := r.srConfig()
	data, err := pairdata.OpenWith(r.pairsDir(source), pairdata.Options{Scale: cfg.Model.Scale})
	if err != nil {
		return err
	}
	dir := r.runDir(source)
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
		return interrupted("sr/" + source)
	}
	return err
}

// lossPoint is a log.jsonl line of a training run.
type lossPoint struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// lossCurve reads the training loss of a source's run.
func (r *runner) lossCurve(source string) ([]lossPoint, error) {
	return readLoss(&runfolder.Run{Dir: r.runDir(source)})
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
