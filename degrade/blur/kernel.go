// Package blur generates the blur kernels of Real-ESRGAN (BasicSR) and
// BSRGAN (KAIR) and applies them to planar images.
//
// The kernel generators reproduce BasicSR's basicsr/data/degradations.py
// (bivariate_Gaussian, bivariate_generalized_Gaussian, bivariate_plateau,
// circular_lowpass_kernel) in float64 to within a few ulps, and KAIR's
// anisotropic_Gaussian and fspecial('gaussian'). The random samplers draw
// every parameter from an rng.Stream passed in by the caller and return it
// as a Params value, from which Build rebuilds the same kernel, so that a
// manifest can record and replay each degradation.
//
// Filter2D is BasicSR's filter2D: reflect padding and cross-correlation, in
// float32 like the float32 torch tensors it mirrors. Convolve is the true
// convolution (flipped kernel) that KAIR's scipy.ndimage.convolve applies.
// USM is BasicSR's unsharp-mask sharpener.
package blur

import (
	"fmt"
	"math"
)

// Kernel is a square blur kernel of odd Size. W holds Size*Size weights
// row-major: W[y*Size+x], row = y (vertical offset), column = x. The
// generators return kernels whose weights sum to 1.
type Kernel struct {
	Size int
	W    []float64
}

// NewKernel returns a zero kernel of the given odd size.
func NewKernel(size int) Kernel {
	if size <= 0 || size%2 == 0 {
		panic(fmt.Sprintf("blur.NewKernel: size %d is not a positive odd number", size))
	}
	return Kernel{Size: size, W: make([]float64, size*size)}
}

// Pulse returns the identity kernel of the given odd size: 1 at the centre.
// Filtering with it leaves an image unchanged (Real-ESRGAN's pulse_tensor).
func Pulse(size int) Kernel {
	k := NewKernel(size)
	c := size / 2
	k.W[c*size+c] = 1
	return k
}

// At returns the weight at row y, column x.
func (k Kernel) At(y, x int) float64 { return k.W[y*k.Size+x] }

// Sum returns the sum of the weights.
func (k Kernel) Sum() float64 {
	s := 0.0
	for _, v := range k.W {
		s += v
	}
	return s
}

// Clone returns a deep copy of k.
func (k Kernel) Clone() Kernel {
	return Kernel{Size: k.Size, W: append([]float64(nil), k.W...)}
}

// Pad returns k zero-padded on every side to size to (np.pad as BasicSR does
// after sampling). It returns a copy of k when to <= k.Size and panics when
// to is not odd.
func (k Kernel) Pad(to int) Kernel {
	if to <= k.Size {
		return k.Clone()
	}
	if to%2 == 0 {
		panic(fmt.Sprintf("blur.Kernel.Pad: size %d is even (kernel %d)", to, k.Size))
	}
	out := NewKernel(to)
	p := (to - k.Size) / 2
	for y := 0; y < k.Size; y++ {
		copy(out.W[(y+p)*to+p:(y+p)*to+p+k.Size], k.W[y*k.Size:(y+1)*k.Size])
	}
	return out
}

// Flip returns k rotated by 180 degrees, which turns a correlation kernel
// into the equivalent convolution kernel and back.
func (k Kernel) Flip() Kernel {
	out := NewKernel(k.Size)
	n := len(k.W)
	for i, v := range k.W {
		out.W[n-1-i] = v
	}
	return out
}

// Float32 returns the weights rounded to float32, as torch.FloatTensor(kernel)
// does before BasicSR filters with them.
func (k Kernel) Float32() []float32 {
	out := make([]float32, len(k.W))
	for i, v := range k.W {
		out[i] = float32(v)
	}
	return out
}

func (k Kernel) normalize() Kernel {
	s := k.Sum()
	for i := range k.W {
		k.W[i] /= s
	}
	return k
}

// sigmaMatrix2 is BasicSR's sigma_matrix2: U diag(sx², sy²) Uᵀ with U the
// rotation by theta, evaluated in numpy's order (D·Uᵀ first).
func sigmaMatrix2(sx, sy, theta float64) [2][2]float64 {
	c, s := math.Cos(theta), math.Sin(theta)
	u := [2][2]float64{{c, -s}, {s, c}}
	d0, d1 := sx*sx, sy*sy
	// du = D·Uᵀ: du[i][j] = D[i][i]·U[j][i].
	du := [2][2]float64{{d0 * u[0][0], d0 * u[1][0]}, {d1 * u[0][1], d1 * u[1][1]}}
	var m [2][2]float64
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			m[i][j] = u[i][0]*du[0][j] + u[i][1]*du[1][j]
		}
	}
	return m
}

// inverse2 returns the inverse of a 2x2 matrix.
func inverse2(m [2][2]float64) [2][2]float64 {
	det := m[0][0]*m[1][1] - m[0][1]*m[1][0]
	return [2][2]float64{{m[1][1] / det, -m[0][1] / det}, {-m[1][0] / det, m[0][0] / det}}
}

// meshOffset is the grid offset of index i in a kernel of odd size n:
// BasicSR's mesh_grid axis np.arange(-n//2 + 1, n//2 + 1).
func meshOffset(i, n int) float64 { return float64(i - n/2) }

// quadForm returns, for every grid point (x, y) of an n x n kernel, the
// quadratic form [x y]·inv·[x y]ᵀ evaluated as BasicSR's pdf2 does it:
// np.sum(np.dot(grid, inv) * grid, 2).
func quadForm(n int, inv [2][2]float64, f func(q float64) float64) Kernel {
	k := NewKernel(n)
	for i := 0; i < n; i++ {
		y := meshOffset(i, n)
		for j := 0; j < n; j++ {
			x := meshOffset(j, n)
			a := (x*inv[0][0] + y*inv[1][0]) * x
			b := (x*inv[0][1] + y*inv[1][1]) * y
			k.W[i*n+j] = f(a + b)
		}
	}
	return k.normalize()
}

func covariance(sx, sy, theta float64, isotropic bool) [2][2]float64 {
	if isotropic {
		return [2][2]float64{{sx * sx, 0}, {0, sx * sx}}
	}
	return sigmaMatrix2(sx, sy, theta)
}

func checkSize(op string, size int) {
	if size <= 0 || size%2 == 0 {
		panic(fmt.Sprintf("blur.%s: kernel size %d is not a positive odd number", op, size))
	}
}

// LowPass returns the isotropic Gaussian of sigma pixels cut at about 3
// sigma each side: the low-pass that fidelity comparisons apply to both
// images to ignore noise and compression.
func LowPass(sigma float64) Kernel {
	return Gaussian(2*int(math.Ceil(3*sigma))+1, sigma, sigma, 0, true)
}

// Gaussian returns BasicSR's bivariate_Gaussian kernel of odd size: the
// normalised exp(-½ pᵀΣ⁻¹p) with Σ = sigma_matrix2(sx, sy, theta). When
// isotropic is true only sx is used (Σ = sx² I), as in BasicSR.
func Gaussian(size int, sx, sy, theta float64, isotropic bool) Kernel {
	checkSize("Gaussian", size)
	inv := inverse2(covariance(sx, sy, theta, isotropic))
	return quadForm(size, inv, func(q float64) float64 { return math.Exp(-0.5 * q) })
}

// GeneralizedGaussian returns BasicSR's bivariate_generalized_Gaussian
// kernel: the normalised exp(-½ (pᵀΣ⁻¹p)^beta). beta = 1 is the Gaussian.
func GeneralizedGaussian(size int, sx, sy, theta, beta float64, isotropic bool) Kernel {
	checkSize("GeneralizedGaussian", size)
	inv := inverse2(covariance(sx, sy, theta, isotropic))
	return quadForm(size, inv, func(q float64) float64 { return math.Exp(-0.5 * math.Pow(q, beta)) })
}

// Plateau returns BasicSR's bivariate_plateau kernel: the normalised
// 1 / (1 + (pᵀΣ⁻¹p)^beta).
func Plateau(size int, sx, sy, theta, beta float64, isotropic bool) Kernel {
	checkSize("Plateau", size)
	inv := inverse2(covariance(sx, sy, theta, isotropic))
	return quadForm(size, inv, func(q float64) float64 { return 1 / (math.Pow(q, beta) + 1) })
}

// CircularLowpass returns BasicSR's circular_lowpass_kernel: the 2-D sinc
// (jinc) filter cutoff·J1(cutoff·r) / (2π r) with cutoff in radians (π is
// the Nyquist limit), centre value cutoff²/(4π), normalised to sum 1 and
// then zero-padded to padTo when padTo > size (padTo 0 means no padding).
func CircularLowpass(cutoff float64, size, padTo int) Kernel {
	checkSize("CircularLowpass", size)
	k := NewKernel(size)
	c := float64(size-1) / 2
	for i := 0; i < size; i++ {
		dy := float64(i) - c
		for j := 0; j < size; j++ {
			dx := float64(j) - c
			r := math.Sqrt(dy*dy + dx*dx)
			k.W[i*size+j] = cutoff * math.J1(cutoff*r) / (2 * math.Pi * r)
		}
	}
	h := (size - 1) / 2
	k.W[h*size+h] = cutoff * cutoff / (4 * math.Pi)
	k.normalize()
	if padTo > size {
		k = k.Pad(padTo)
	}
	return k
}
