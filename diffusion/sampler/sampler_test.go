package sampler

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

func TestNew(t *testing.T) {
	cfg := defaults(t, schedule.DDPMClass)
	for name, want := range map[string]string{
		"ddpm": "*sampler.DDPM", "ddim": "*sampler.DDIM", "unipc": "*sampler.UniPC", "dpmpp": "*sampler.DPMSolver",
		"UniPC": "*sampler.UniPC", schedule.DPMSolverClass: "*sampler.DPMSolver",
	} {
		s, err := New(name, cfg)
		if err != nil {
			t.Errorf("New(%q): %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", s); got != want {
			t.Errorf("New(%q) is %s, want %s", name, got, want)
		}
		if s.Order() != 1 {
			t.Errorf("%s: order %d, want 1", name, s.Order())
		}
	}
	_, err := New("euler", cfg)
	if err == nil || !strings.Contains(err.Error(), "ddim, ddpm, dpmpp, unipc") {
		t.Errorf("New(euler): error %v, want one listing the valid names", err)
	}
	// A Go-built DDPM config passed to UniPC keeps its explicit spacing.
	s, _ := New("unipc", cfg)
	if s.Config().TimestepSpacing != schedule.Leading || s.Config().ClassName != schedule.UniPCClass {
		t.Errorf("resolved config: spacing %q class %q", s.Config().TimestepSpacing, s.Config().ClassName)
	}
}

func TestImg2ImgStart(t *testing.T) {
	for _, tc := range []struct {
		steps    int
		strength float64
		want     int
	}{
		{50, 0.2, 40}, // the official pipeline's setting: 10 steps
		{50, 1, 0},
		{50, 1.7, 0},
		{50, 0, 50},
		{50, -0.5, 50},
		{50, 0.019, 50}, // int(0.95) = 0 steps
		{50, 0.02, 49},
		{1000, 0.3, 700},
		{7, 0.5, 4}, // int(3.5) = 3 steps
		{0, 0.5, 0},
	} {
		if got := Img2ImgStart(tc.steps, tc.strength); got != tc.want {
			t.Errorf("Img2ImgStart(%d, %g) = %d, want %d", tc.steps, tc.strength, got, tc.want)
		}
	}
}

// TestAllSchedulers runs every scheduler through the same interface and
// Img2Img with a toy model, and checks finite, deterministic results that
// do not depend on GOMAXPROCS.
func TestAllSchedulers(t *testing.T) {
	model := func(x *tensor.Tensor, ts int) (*tensor.Tensor, error) {
		out := tensor.New(x.Shape...)
		for i, v := range x.Data {
			out.Data[i] = 0.8*v + 0.1*float32(i%7)/7 - float32(ts)/5000
		}
		return out, nil
	}
	// Large enough that the element loops run in parallel chunks.
	lq := fill(tensor.New(1, 3, 96, 96), 1, 0.9)
	noise := tensor.New(1, 3, 96, 96)
	rng.New(1, "noise").FillNormal(noise.Data, 1)
	for _, name := range Names() {
		run := func(procs int) *tensor.Tensor {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			s, err := New(name, defaults(t, classes[name]))
			if err != nil {
				t.Fatal(err)
			}
			out, ran, err := Img2Img(s, model, lq, noise, 20, 0.5, rng.New(7, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// Strength 0.5 of 20 steps runs the last 10 of the schedule.
			all := s.Timesteps()
			if want := all[Img2ImgStart(20, 0.5)*s.Order():]; len(ran) != 10*s.Order() || !slices.Equal(ran, want) {
				t.Errorf("%s: ran timesteps %v, want the last %d of %v", name, ran, 10*s.Order(), all)
			}
			return out
		}
		a, b := run(1), run(4)
		if !finite(a) {
			t.Errorf("%s: non-finite output", name)
		}
		if d := tensor.MaxAbsDiff(a, b); d != 0 {
			t.Errorf("%s: GOMAXPROCS 1 vs 4 differ by %g", name, d)
		}
		if tensor.MaxAbsDiff(a, lq) == 0 {
			t.Errorf("%s: output equals the input", name)
		}
		s, _ := New(name, defaults(t, classes[name]))
		same, ran, err := Img2Img(s, model, lq, noise, 20, 0, nil)
		if err != nil || tensor.MaxAbsDiff(same, lq) != 0 || len(ran) != 0 {
			t.Errorf("%s: strength 0 changed the input or ran %v (err %v)", name, ran, err)
		}
	}
}

// TestStepDoesNotModifyInputs guards the contract that Step leaves its
// arguments alone (UniPC keeps the sample for its corrector).
func TestStepDoesNotModifyInputs(t *testing.T) {
	for _, name := range Names() {
		s, err := New(name, defaults(t, classes[name]))
		if err != nil {
			t.Fatal(err)
		}
		s.SetTimesteps(10)
		x := fill(tensor.New(1, 3, 4, 4), 1, 1)
		for i, ts := range s.Timesteps()[:3] {
			mo := fill(tensor.New(1, 3, 4, 4), 10+i, 1)
			x0, mo0 := x.Clone(), mo.Clone()
			y, err := s.Step(mo, x, ts, rng.New(uint64(i)))
			if err != nil {
				t.Fatal(err)
			}
			if tensor.MaxAbsDiff(x, x0) != 0 || tensor.MaxAbsDiff(mo, mo0) != 0 {
				t.Fatalf("%s: Step modified its inputs", name)
			}
			for j := range x.Data { // the caller reuses its buffer
				x.Data[j] = y.Data[j]
			}
		}
		// Reset then the same steps again gives the same first output.
		ts := s.Timesteps()
		s.Reset()
		a, _ := s.Step(x, x, ts[0], rng.New(9))
		s.SetTimesteps(10)
		b, _ := s.Step(x, x, ts[0], rng.New(9))
		if tensor.MaxAbsDiff(a, b) != 0 {
			t.Errorf("%s: Reset does not restore the initial state", name)
		}
		if got := s.Timesteps(); !slices.Equal(got, ts) {
			t.Errorf("%s: timesteps changed: %v vs %v", name, got, ts)
		}
	}
}

func ExampleImg2Img() {
	// A saved DDPM config, as from schedule.LoadConfig("scheduler_config.json").
	cfg, _ := schedule.Defaults(schedule.DDPMClass)
	s, _ := New("unipc", cfg)
	lq := tensor.Full(0.5, 1, 3, 8, 8)
	noise := tensor.New(1, 3, 8, 8)
	rng.New(1, "example").FillNormal(noise.Data, 1)
	zeroEps := func(x *tensor.Tensor, t int) (*tensor.Tensor, error) { return tensor.New(x.Shape...), nil }
	out, _, _ := Img2Img(s, zeroEps, lq, noise, 50, 0.2, nil)
	s.SetTimesteps(50)
	fmt.Println(s.Timesteps()[Img2ImgStart(50, 0.2):])
	fmt.Println(out.Shape)
	// Output:
	// [190 171 152 133 114 95 76 57 38 19]
	// [1 3 8 8]
}
