package rng

import "math"

// The ziggurat of Marsaglia and Tsang ("The ziggurat method for generating
// random variables", J. Stat. Softw. 5(8), 2000) covers the half-normal
// density f(x) = exp(-x²/2) with zigLayers horizontal layers of equal area
// zigV: a base strip [0, zigX[0]) whose part beyond zigR is the tail, and
// rectangles [0, zigX[i]) x [f(zigX[i]), f(zigX[i+1])). A draw picks a
// layer and a point in it; the point lies under f without further tests
// about 99% of the time. The method is exact: the rare points outside the
// inner rectangle are accepted or rejected against f itself, and tail points
// come from Marsaglia's exact tail algorithm.
const (
	zigLayers = 256
	// zigR is the start of the tail for 256 layers (Marsaglia and Tsang).
	zigR = 3.6541528853610088
)

var (
	// zigX[i] is the right edge of layer i; zigX[0] = zigV/f(zigR) is the
	// width of the base strip with the tail's area, zigX[1] = zigR and
	// zigX[zigLayers] = 0.
	zigX [zigLayers + 1]float64
	// zigF[i] = f(zigX[i]).
	zigF [zigLayers + 1]float64
	// zigV is the area of every layer: the rectangle [0, zigR] x [0, f(zigR)]
	// plus the tail ∫_R^∞ f.
	zigV float64
)

func init() {
	f := func(x float64) float64 { return math.Exp(-0.5 * x * x) }
	zigV = zigR*f(zigR) + math.Sqrt(math.Pi/2)*math.Erfc(zigR/math.Sqrt2)
	zigX[0] = zigV / f(zigR)
	zigX[1] = zigR
	for i := 1; i < zigLayers-1; i++ {
		// Layer i spans heights f(x[i]) ... f(x[i]) + V/x[i].
		zigX[i+1] = math.Sqrt(-2 * math.Log(f(zigX[i])+zigV/zigX[i]))
	}
	zigX[zigLayers] = 0
	for i := range zigX {
		zigF[i] = f(zigX[i])
	}
}

// zigTopError returns how far the top layer's area differs from zigV,
// relative to zigV: the recursion from zigR must close at f(0) = 1. Tests
// use it to check the tables.
func zigTopError() float64 {
	top := zigX[zigLayers-1] * (1 - zigF[zigLayers-1])
	return (top - zigV) / zigV
}

// zigFast returns the normal number of a 64-bit word when it falls inside
// its layer's inner rectangle, with ok; otherwise ok is false and the caller
// finishes with zigSlow. Bits 0-7 pick the layer, bit 8 the sign and bits
// 11-63 the position in the layer, so the three are independent.
func zigFast(w uint64) (z float64, ok bool) {
	i := w & (zigLayers - 1)
	u := float64(w>>11) * (1.0 / (1 << 53))
	z = u * zigX[i]
	// The sign goes in without a branch: it is unpredictable by design.
	return math.Float64frombits(math.Float64bits(z) | (w>>8&1)<<63), z < zigX[i+1]
}

// zigSlow finishes a draw whose first word w fell outside its layer's inner
// rectangle, taking further words from s: a tail draw for the base layer, a
// test against f in the wedge of the others, and on rejection a new draw.
func zigSlow(w uint64, s *Stream) float64 {
	for {
		i := w & (zigLayers - 1)
		u := float64(w>>11) * (1.0 / (1 << 53))
		z := u * zigX[i]
		if z < zigX[i+1] {
			if w&(1<<8) != 0 {
				z = -z
			}
			return z
		}
		if i == 0 {
			// Marsaglia's tail: with x = -ln(u1)/R and y = -ln(u2),
			// R + x given 2y > x² is normal conditioned on exceeding R.
			for {
				x := -math.Log(1-s.Float64()) / zigR
				y := -math.Log(1 - s.Float64())
				if 2*y > x*x {
					z = zigR + x
					break
				}
			}
			if w&(1<<8) != 0 {
				z = -z
			}
			return z
		}
		// Wedge: a uniform height in the layer, accepted under f(z).
		if zigF[i]+s.Float64()*(zigF[i+1]-zigF[i]) < math.Exp(-0.5*z*z) {
			if w&(1<<8) != 0 {
				z = -z
			}
			return z
		}
		w = s.Uint64()
	}
}
