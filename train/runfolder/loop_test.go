package runfolder

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeTrainer counts its steps and saves empty checkpoints in run.
type fakeTrainer struct {
	run         *Run
	step        int
	losses      []float64 // loss of step i+1; 0.5 beyond
	checkpoints []int
	cancelAt    int
	cancel      func()
}

func (f *fakeTrainer) Step() int { return f.step }

func (f *fakeTrainer) TrainStep() (float64, float64, error) {
	f.step++
	if f.step == f.cancelAt {
		f.cancel()
	}
	if f.step-1 < len(f.losses) {
		return f.losses[f.step-1], 1, nil
	}
	return 0.5, 1, nil
}

func (f *fakeTrainer) Checkpoint() (string, error) {
	f.checkpoints = append(f.checkpoints, f.step)
	return f.run.Save(Checkpoint{Step: f.step})
}

func (f *fakeTrainer) LossCurve() error { return nil }

func TestLoop(t *testing.T) {
	run, err := Create(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	// A checkpoint left beyond keep_checkpoints by a killed run.
	for _, s := range []int{1, 2, 3} {
		if err := os.MkdirAll(run.CheckpointPath(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeTrainer{run: run, step: 3}
	logged, after := 0, 0
	err = Loop(context.Background(), f, LoopOptions{Steps: 10, CheckpointEvery: 4, Folder: run,
		Logged: func(loss, gn float64, took time.Duration) error { logged++; return nil },
		After:  func() error { after++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if f.step != 10 || logged != 7 || after != 7 || len(f.checkpoints) != 3 || f.checkpoints[0] != 4 || f.checkpoints[1] != 8 || f.checkpoints[2] != 10 {
		t.Fatalf("step %d, logged %d, after %d, checkpoints %v", f.step, logged, after, f.checkpoints)
	}
	if steps, _ := run.Steps(); len(steps) != 2 || steps[0] != 8 || steps[1] != 10 {
		t.Fatalf("checkpoints left %v, want [8 10]", steps)
	}

	// A run already at its last step only prunes.
	os.MkdirAll(run.CheckpointPath(1), 0o755)
	if err := Loop(context.Background(), f, LoopOptions{Steps: 10, CheckpointEvery: 4, Folder: run}); err != nil {
		t.Fatal(err)
	}
	if steps, _ := run.Steps(); len(steps) != 2 {
		t.Fatalf("checkpoints left %v", steps)
	}

	// Interruption saves a checkpoint after the current step.
	ctx, cancel := context.WithCancel(context.Background())
	g := &fakeTrainer{run: run, cancelAt: 3, cancel: cancel}
	if err := Loop(ctx, g, LoopOptions{Steps: 10, CheckpointEvery: 100}); !errors.Is(err, ErrInterrupted) || g.step != 3 || len(g.checkpoints) != 1 || g.checkpoints[0] != 3 {
		t.Fatalf("interrupted: err %v, step %d, checkpoints %v", err, g.step, g.checkpoints)
	}

	// A non-finite loss stops the loop.
	h := &fakeTrainer{run: run, losses: []float64{0.4, math.NaN()}}
	if err := Loop(context.Background(), h, LoopOptions{Steps: 10, CheckpointEvery: 100}); err == nil || !strings.Contains(err.Error(), "diverged") || h.step != 2 {
		t.Fatalf("NaN loss: err %v at step %d", err, h.step)
	}
}
