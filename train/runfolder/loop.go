package runfolder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/degradiff/degradiff/internal/progress"
)

// ErrInterrupted is returned by Loop when its context is cancelled: a
// checkpoint of the last step was saved, and the run resumes from it.
var ErrInterrupted = errors.New("training interrupted")

// Trainer is what Loop drives: the DDPM, SR and face restoration trainers.
type Trainer interface {
	// Step is the number of optimisation steps done.
	Step() int
	// TrainStep runs one optimisation step and returns its loss and
	// gradient norm.
	TrainStep() (loss, gradNorm float64, err error)
	// Checkpoint saves the state after the current step.
	Checkpoint() (string, error)
	// LossCurve redraws the loss chart of the run folder.
	LossCurve() error
}

// LoopOptions configures Loop.
type LoopOptions struct {
	// Steps is the total number of steps, CheckpointEvery the interval of
	// checkpoints (one is also saved at the end and on interruption).
	Steps, CheckpointEvery int
	// Log receives a progress bar labelled Label (nil: none).
	Log   io.Writer
	Label string
	// Logged, when set, is called after each step with its loss,
	// gradient norm and duration, before any checkpoint (log lines).
	Logged func(loss, gradNorm float64, took time.Duration) error
	// After, when set, is called after each step's checkpoint, if any
	// (previews).
	After func() error
	// Folder, when set, is the run folder, pruned of surplus checkpoints
	// at the end (a run killed between saving a checkpoint and pruning
	// the old ones leaves one too many).
	Folder *Run
}

// Loop trains until opt.Steps: one TrainStep after the other, a
// checkpoint and the loss curve every opt.CheckpointEvery steps and at the
// last one, and a progress bar showing the smoothed loss; at the end the
// run folder keeps only its newest checkpoints. A non-finite loss stops it
// with an error. When ctx is cancelled it saves a checkpoint
// after the current step and returns ErrInterrupted.
func Loop(ctx context.Context, t Trainer, opt LoopOptions) error {
	var bar *progress.Bar
	if opt.Log != nil {
		bar = progress.New(opt.Log, max(opt.Steps-t.Step(), 0), opt.Label, "step")
		defer bar.Finish()
	}
	smooth := math.NaN()
	for t.Step() < opt.Steps {
		start := time.Now()
		loss, gn, err := t.TrainStep()
		if err != nil {
			return err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("step %d: loss is %v: training diverged (lower learning_rate?)", t.Step(), loss)
		}
		if opt.Logged != nil {
			if err := opt.Logged(loss, gn, time.Since(start)); err != nil {
				return err
			}
		}
		if math.IsNaN(smooth) {
			smooth = loss
		}
		smooth = 0.98*smooth + 0.02*loss
		if bar != nil {
			bar.SetDetail(fmt.Sprintf("loss %.4f", smooth))
			bar.Add(1)
		}
		step := t.Step()
		stop := ctx.Err() != nil
		if step%opt.CheckpointEvery == 0 || step == opt.Steps || stop {
			if _, err := t.Checkpoint(); err != nil {
				return err
			}
			if err := t.LossCurve(); err != nil {
				return err
			}
		}
		if opt.After != nil {
			if err := opt.After(); err != nil {
				return err
			}
		}
		if stop {
			return ErrInterrupted
		}
	}
	if opt.Folder != nil {
		return opt.Folder.Prune()
	}
	return nil
}
