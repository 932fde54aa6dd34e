package unet

import (
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/rng"
)

// TestForwardBF16 checks a whole network in the BF16 precision against
// float32: a UNet whose convolutions have the channel counts of the
// shifted products (multiples of 32, on AMX tiles where the CPU has them)
// and widths that take both their output layouts (64 and 16 pixels),
// within bfloat16's rounding of the factors.
func TestForwardBF16(t *testing.T) {
	c := testConfig()
	c.BlockOutChannels = []int{32, 64, 64}
	c.AttentionHeadDim = intPtr(32)
	m := MustNew(c, rng.New(3, "bf16"))
	x := ag.Const(randomTensor(4, 2, 3, 64, 64))
	run := func(p gemm.Precision) []float32 {
		defer gemm.SetPrecision(p)()
		return m.Forward(ag.NewGraph(false), x, []float32{100, 700}).Value.Data
	}
	want, got := run(gemm.FP32), run(gemm.BF16)
	var worst, scale float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if worst > 0.02*scale {
		t.Errorf("largest |bf16 - fp32| = %.3g, more than 2%% of the largest output %.3g", worst, scale)
	}
	t.Logf("largest |bf16 - fp32| = %.3g (largest output %.3g); bf16 products on %s", worst, scale, gemm.BF16Kernel())
}
