package pipeline

import (
	"errors"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// TestTailSteps checks that TailSteps adds the tail's model evaluations to
// a ddim run and changes its result, and that invalid values are refused
// by name.
func TestTailSteps(t *testing.T) {
	sched := schedule.DefaultDDPMFile()
	init := raster.New(3, 8, 8)
	src := rng.New(5, "init")
	for i := range init.Pix {
		init.Pix[i] = float32(src.Float64())
	}
	run := func(tail int) (*raster.Image, Run) {
		p, err := New(local, sched, Options{Steps: 50, TailSteps: tail})
		if err != nil {
			t.Fatal(err)
		}
		out, r, err := p.Image(init, 0.05, rng.New(3, "tail"))
		if err != nil {
			t.Fatal(err)
		}
		return out, r
	}
	plain, rp := run(0)
	tailed, rt := run(4)
	if rp.Steps != 2 || rt.Steps != 5 || rt.StartTimestep != rp.StartTimestep {
		t.Errorf("runs %+v (plain) and %+v (tail 4): want 2 and 5 steps from the same timestep", rp, rt)
	}
	same := true
	for i := range plain.Pix {
		same = same && plain.Pix[i] == tailed.Pix[i]
	}
	if same {
		t.Error("tail 4 gave the plain run's image")
	}

	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{TailSteps: -1}, "tail_steps"},
		{Options{TailSteps: 1001}, "tail_steps"},
		{Options{TailSteps: 4, Sampler: "unipc"}, "tail_steps"},
		{Options{TailSteps: 21, Steps: 50}, "tail_steps"}, // 20 timesteps from 20 to 0
	} {
		_, err := New(local, sched, tc.opt)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.want {
			t.Errorf("%+v: error %v, want an OptionError for %s", tc.opt, err, tc.want)
		}
	}
	if _, err := New(local, sched, Options{TailSteps: 20, Steps: 50}); err != nil {
		t.Errorf("tail 20 of 50 steps: %v", err)
	}
}
