package ag

import (
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
)

// TimestepEmbedding returns the sinusoidal embeddings of the timesteps t, a
// [len(t), dim] tensor, exactly as diffusers' get_timestep_embedding computes
// it in float32: with half = dim/2 and frequencies
// f_i = exp(-ln(maxPeriod)·i / (half - freqShift)), row n is
// [sin(t_n f_i) for i < half, cos(t_n f_i) for i < half], the halves swapped
// when flipSinToCos, and a zero appended when dim is odd. It is a constant
// input: it has no gradient.
func TimestepEmbedding(t []float32, dim int, flipSinToCos bool, freqShift float32, maxPeriod float64) *tensor.Tensor {
	tensor.Check(dim >= 0, "TimestepEmbedding", "negative dim", []int{len(t), dim})
	out := tensor.New(len(t), dim)
	timestepEmbedding(out.Data, make([]float32, dim/2), t, dim, flipSinToCos, freqShift, maxPeriod)
	return out
}

// TimestepEmbedding is the function TimestepEmbedding computed into the
// graph's memory: a constant (no gradient) valid until Reset.
func (g *Graph) TimestepEmbedding(t []float32, dim int, flipSinToCos bool, freqShift float32, maxPeriod float64) *Var {
	tensor.Check(dim >= 0, "TimestepEmbedding", "negative dim", []int{len(t), dim})
	out := g.AllocUninit(len(t), dim)
	timestepEmbedding(out.Data, NewSlice[float32](g, dim/2), t, dim, flipSinToCos, freqShift, maxPeriod)
	return g.Result(out)
}

// timestepEmbedding writes the embeddings of t into out, using freq (dim/2
// values) for the frequencies.
func timestepEmbedding(out, freq, t []float32, dim int, flipSinToCos bool, freqShift float32, maxPeriod float64) {
	half := dim / 2
	// The float32 steps of torch: (-ln(max_period) * arange(half)) / (half -
	// shift), then exp; the Python scalars are rounded to float32 first.
	// A correctly rounded exp is sometimes 1 ulp away from torch's, which
	// t = 512 turns into a 1e-6 phase error: embExpf follows torch's.
	negLog := float32(-math.Log(maxPeriod))
	den := float32(half) - freqShift
	for i := range freq {
		e := float32(negLog*float32(i)) / den
		freq[i] = embExpf(e)
	}
	sinAt, cosAt := 0, half
	if flipSinToCos {
		sinAt, cosAt = half, 0
	}
	for n, tn := range t {
		row := out[n*dim : (n+1)*dim]
		for i, f := range freq {
			arg := float64(float32(tn * f))
			row[sinAt+i] = float32(math.Sin(arg))
			row[cosAt+i] = float32(math.Cos(arg))
		}
		if dim%2 == 1 {
			row[dim-1] = 0
		}
	}
}

// embExpf is SLEEF's expf_u10 (sleefsp.c, xexpf), which PyTorch's
// vectorised CPU exp calls: Cody-Waite reduction by ln2 and a degree-6
// polynomial, in float32 without fused multiply-adds.
func embExpf(d float32) float32 {
	switch {
	case d < -104:
		return 0
	case d > 104:
		return float32(math.Inf(1))
	}
	q := float32(math.RoundToEven(float64(float32(d * 1.442695040888963407359924681001892137))))
	s := float32(d - float32(q*0.693145751953125))
	s = float32(s - float32(q*1.428606765330187045e-06))
	u := float32(0.000198527617612853646278381)
	u = float32(float32(u*s) + 0.00139304355252534151077271)
	u = float32(float32(u*s) + 0.00833336077630519866943359)
	u = float32(float32(u*s) + 0.0416664853692054748535156)
	u = float32(float32(u*s) + 0.166666671633720397949219)
	u = float32(float32(u*s) + 0.5)
	u = 1 + float32(float32(float32(s*s)*u)+s)
	return float32(math.Ldexp(float64(u), int(q)))
}
