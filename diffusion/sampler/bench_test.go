package sampler

import (
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// benchSteps times one scheduler step on a 3x256x256 sample, the size of
// the official model, cycling through a 50-step schedule.
func benchSteps(b *testing.B, name string) {
	cfg, _ := schedule.Defaults(classes[name])
	s, err := New(name, cfg)
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.New(1, 3, 256, 256)
	eps := tensor.New(1, 3, 256, 256)
	r := rng.New(1, "bench")
	r.FillNormal(x.Data, 1)
	r.FillNormal(eps.Data, 1)
	s.SetTimesteps(50)
	ts := s.Timesteps()
	b.SetBytes(int64(4 * len(x.Data)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(ts) == 0 {
			s.Reset()
		}
		if _, err := s.Step(eps, x, ts[i%len(ts)], r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStepDDPM(b *testing.B)  { benchSteps(b, "ddpm") }
func BenchmarkStepDDIM(b *testing.B)  { benchSteps(b, "ddim") }
func BenchmarkStepUniPC(b *testing.B) { benchSteps(b, "unipc") }
func BenchmarkStepDPMpp(b *testing.B) { benchSteps(b, "dpmpp") }

func BenchmarkAddNoise(b *testing.B) {
	cfg, _ := schedule.Defaults(schedule.UniPCClass)
	s, _ := New("unipc", cfg)
	x := tensor.New(1, 3, 256, 256)
	n := tensor.New(1, 3, 256, 256)
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		s.Schedule().AddNoise(x, n, []int{200})
	}
}
