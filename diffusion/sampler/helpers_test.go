package sampler

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/degradiff/degradiff/diffusion/schedule"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
)

// fixtures gives typed access to schedulers.safetensors.
type fixtures struct {
	t   *testing.T
	f   *safetensors.File
	dir string
}

// openFixtures opens the diffusers scheduler fixtures or skips the test.
func openFixtures(t *testing.T) *fixtures {
	t.Helper()
	dir := fixture.Dir(t, "fixtures", "diffusers")
	f, err := safetensors.Open(filepath.Join(dir, "schedulers.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &fixtures{t, f, dir}
}

func (fx *fixtures) tensor(name string) *tensor.Tensor {
	fx.t.Helper()
	v, shape, err := fx.f.Float32(name)
	if err != nil {
		fx.t.Fatal(err)
	}
	return tensor.FromData(v, shape...)
}

func (fx *fixtures) ints(name string) []int {
	fx.t.Helper()
	v, _, err := fx.f.Int64(name)
	if err != nil {
		fx.t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// item returns batch item i of x as a tensor with batch size 1.
func item(x *tensor.Tensor, i int) *tensor.Tensor {
	per := len(x.Data) / x.Shape[0]
	shape := append([]int{1}, x.Shape[1:]...)
	return tensor.FromData(x.Data[i*per:(i+1)*per], shape...)
}

// replay returns a noise source that hands out the given tensor.
func replay(t *testing.T, z *tensor.Tensor) NoiseSource {
	return NoiseFunc(func(dst []float32, std float64) {
		if len(dst) != len(z.Data) || std != 1 {
			t.Fatalf("noise request for %d values with std %g, have %d with std 1", len(dst), std, len(z.Data))
		}
		copy(dst, z.Data)
	})
}

func defaults(t *testing.T, class string) schedule.Config {
	t.Helper()
	c, err := schedule.Defaults(class)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func finite(x *tensor.Tensor) bool {
	for _, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// fill sets x to deterministic values of the given scale.
func fill(x *tensor.Tensor, seed int, scale float64) *tensor.Tensor {
	for i := range x.Data {
		x.Data[i] = float32(scale * math.Sin(float64(seed)*12.9898+float64(i)*78.233))
	}
	return x
}
