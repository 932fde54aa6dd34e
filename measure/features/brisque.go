package features

import "math"

// mscnWindow is the 7-tap Gaussian (σ = 7/6) of BRISQUE's local mean and
// deviation, normalised to sum 1; the 2-D window is its outer product.
var mscnWindow = func() (k [7]float64) {
	sum := 0.0
	for i := range k {
		d := float64(i - 3)
		k[i] = math.Exp(-d * d / (2 * (7.0 / 6) * (7.0 / 6)))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}()

// mirror maps i to [0, n) by reflection about the edge samples
// (d c b | a b c d | c b a), valid for |overshoot| < n.
func mirror(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

// gaussFilter sets dst to the s x s plane p filtered with the 7x7 MSCN
// window (separable, mirrored edges); tmp is s*s scratch.
func gaussFilter(dst, p, tmp []float64, s int) {
	k := &mscnWindow
	for y := 0; y < s; y++ {
		row, out := p[y*s:(y+1)*s], tmp[y*s:(y+1)*s]
		for x := range out {
			v := 0.0
			if x >= 3 && x+3 < s {
				for j, kj := range k {
					v += kj * row[x+j-3]
				}
			} else {
				for j, kj := range k {
					v += kj * row[mirror(x+j-3, s)]
				}
			}
			out[x] = v
		}
	}
	for y := 0; y < s; y++ {
		out := dst[y*s : (y+1)*s]
		clear(out)
		for j, kj := range k {
			src := tmp[mirror(y+j-3, s)*s:]
			for x := range out {
				out[x] += kj * src[x]
			}
		}
	}
}

// pairShifts are BRISQUE's neighbour offsets (dy, dx): horizontal,
// vertical, main diagonal, anti-diagonal.
var pairShifts = [4][2]int{{0, 1}, {1, 0}, {1, 1}, {1, -1}}

// brisque returns the 18 BRISQUE features of the s x s plane p.
func (w *work) brisque(p []float64, s int) []float64 {
	n := s * s
	mu, sd, mscn, tmp := w.mu[:n], w.sd[:n], w.mscn[:n], w.tmp[:n]
	gaussFilter(mu, p, tmp, s)
	sq := w.tmp2[:n]
	for i, v := range p[:n] {
		sq[i] = v * v
	}
	gaussFilter(sd, sq, tmp, s)
	for i, v := range p[:n] {
		sigma := math.Sqrt(math.Abs(sd[i] - mu[i]*mu[i]))
		mscn[i] = (v - mu[i]) / (sigma + 1)
	}
	out := make([]float64, 0, 18)
	shape, variance := fitGGD(mscn)
	out = append(out, shape, variance)
	for _, d := range pairShifts {
		prod := w.prod[:0]
		x0, x1 := 0, s-d[1]
		if d[1] < 0 {
			x0, x1 = -d[1], s
		}
		for y := 0; y+d[0] < s; y++ {
			a := mscn[y*s : (y+1)*s]
			b := mscn[(y+d[0])*s : (y+d[0]+1)*s]
			for x := x0; x < x1; x++ {
				prod = append(prod, a[x]*b[x+d[1]])
			}
		}
		nu, eta, lv, rv := fitAGGD(prod)
		out = append(out, nu, eta, lv, rv)
	}
	return out
}

// Shape parameters are searched in BRISQUE's range.
const (
	shapeMin = 0.2
	shapeMax = 10.0
)

// ggdRatio returns Γ(2/a)² / (Γ(1/a) Γ(3/a)), which equals (E|X|)²/E[X²]
// for a generalised Gaussian of shape a; it increases from 0 (a → 0) to
// 3/4 (a → ∞), 2/π at a = 2.
func ggdRatio(a float64) float64 {
	l1, _ := math.Lgamma(1 / a)
	l2, _ := math.Lgamma(2 / a)
	l3, _ := math.Lgamma(3 / a)
	return math.Exp(2*l2 - l1 - l3)
}

var (
	ratioMin = ggdRatio(shapeMin)
	ratioMax = ggdRatio(shapeMax)
)

// solveShape returns the shape a in [shapeMin, shapeMax] with
// ggdRatio(a) = r, clamped to the range (r NaN gives shapeMin).
func solveShape(r float64) float64 {
	if !(r > ratioMin) {
		return shapeMin
	}
	if r >= ratioMax {
		return shapeMax
	}
	lo, hi := shapeMin, shapeMax
	// Bisection on log a: 50 halvings of a factor-50 interval leave
	// a relative error below 1e-14.
	for range 50 {
		mid := math.Sqrt(lo * hi)
		if ggdRatio(mid) < r {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Sqrt(lo * hi)
}

// fitGGD returns the shape and variance E[X²] of the zero-mean generalised
// Gaussian that matches the first two absolute moments of x (BRISQUE's
// estimateggdparam, solved exactly instead of on a 0.001 grid).
func fitGGD(x []float64) (shape, variance float64) {
	var s1, s2 float64
	for _, v := range x {
		s1 += math.Abs(v)
		s2 += v * v
	}
	n := float64(len(x))
	variance = s2 / n
	if variance == 0 {
		return shapeMin, 0
	}
	m := s1 / n
	return solveShape(m * m / variance), variance
}

// fitAGGD returns BRISQUE's asymmetric generalised Gaussian parameters of
// x: shape, mean, and the left and right variances (mean squares of the
// negative and of the positive values).
func fitAGGD(x []float64) (shape, mean, leftVar, rightVar float64) {
	var sl, sr, s1, s2 float64
	var nl, nr int
	for _, v := range x {
		switch {
		case v < 0:
			sl += v * v
			nl++
		case v > 0:
			sr += v * v
			nr++
		}
		s1 += math.Abs(v)
		s2 += v * v
	}
	if nl > 0 {
		leftVar = sl / float64(nl)
	}
	if nr > 0 {
		rightVar = sr / float64(nr)
	}
	if s2 == 0 {
		return shapeMin, 0, 0, 0
	}
	n := float64(len(x))
	m := s1 / n
	rhat := m * m / (s2 / n)
	// The asymmetry correction tends to 1 when either side is empty.
	if leftVar > 0 && rightVar > 0 {
		g := math.Sqrt(leftVar) / math.Sqrt(rightVar)
		rhat *= (g*g*g + 1) * (g + 1) / ((g*g + 1) * (g*g + 1))
	}
	shape = solveShape(rhat)
	l1, _ := math.Lgamma(1 / shape)
	l2, _ := math.Lgamma(2 / shape)
	l3, _ := math.Lgamma(3 / shape)
	mean = (math.Sqrt(rightVar) - math.Sqrt(leftVar)) * math.Exp(l2-l1) * math.Exp(0.5*(l1-l3))
	return shape, mean, leftVar, rightVar
}
