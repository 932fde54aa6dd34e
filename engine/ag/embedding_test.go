package ag_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
)

// TestTimestepEmbeddingTorch compares with the tiny UNet's time_proj hook:
// timesteps 37 and 512, dim 32, flip_sin_to_cos, shift 0, max period 1e4.
func TestTimestepEmbeddingTorch(t *testing.T) {
	dir := fixture.Dir(t, "fixtures", "diffusers")
	f, err := safetensors.Open(filepath.Join(dir, "unet_tiny_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, _, err := f.Float32("timesteps_float32")
	if err != nil {
		t.Fatal(err)
	}
	want, shape, err := f.Float32("hook.time_proj")
	if err != nil {
		t.Fatal(err)
	}
	got := ag.TimestepEmbedding(ts, 32, true, 0, 10000)
	if !tensor.SameShape(got.Shape, shape) {
		t.Fatalf("shape %v, want %v", got.Shape, shape)
	}
	d := tensor.MaxAbsDiff(got, tensor.FromData(want, shape...))
	t.Logf("max |Go - PyTorch| = %.3g", d)
	// 1e-6 is the requirement; a correctly rounded exp would give 8.9e-7
	// here, torch's own exp 6e-8 (1 ulp of sin or cos).
	if d > 2e-7 {
		t.Errorf("time_proj differs from PyTorch by %.3g > 2e-7", d)
	}
}

func TestTimestepEmbedding(t *testing.T) {
	ts := []float32{0, 1, 999}
	cases := []struct {
		dim   int
		flip  bool
		shift float32
	}{
		{8, false, 0}, {8, true, 0}, {9, true, 1}, {7, false, 1}, {2, true, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			e := ag.TimestepEmbedding(ts, c.dim, c.flip, c.shift, 10000)
			half := c.dim / 2
			want := make([]float64, len(ts)*c.dim)
			for n, tn := range ts {
				for i := 0; i < half; i++ {
					arg := float64(tn) * math.Exp(-math.Log(10000)*float64(i)/(float64(half)-float64(c.shift)))
					s, co := math.Sin(arg), math.Cos(arg)
					if c.flip {
						s, co = co, s
					}
					want[n*c.dim+i] = s
					want[n*c.dim+half+i] = co
				}
				// An odd dim leaves the last column zero.
			}
			// float32 frequencies times t up to 999 shift the phase by up
			// to ~1e-4.
			refClose(t, "value", e.Data, want, 2e-4, 0)
		})
	}
}

// The first timestep embeddings of a diffusers UNet2DModel (flip_sin_to_cos,
// no frequency shift): cosines first, then sines.
func ExampleTimestepEmbedding() {
	e := ag.TimestepEmbedding([]float32{0, 10}, 4, true, 0, 10000)
	for n := range 2 {
		fmt.Printf("%.4f\n", e.Data[n*4:(n+1)*4])
	}
	// Output:
	// [1.0000 1.0000 0.0000 0.0000]
	// [-0.8391 0.9950 -0.5440 0.0998]
}
