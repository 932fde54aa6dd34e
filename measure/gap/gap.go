// Package gap measures the distance between two samples of feature
// vectors, for example the degradation features (package
// measure/features) of real and of synthetic low-quality images.
//
// KID is the kernel inception distance of Bińkowski et al. (2018,
// "Demystifying MMD GANs"), computed as torch-fidelity computes it: the
// unbiased estimator of the squared maximum mean discrepancy under the
// cubic polynomial kernel k(a, b) = (a·b/d + 1)³, averaged over random
// subsets drawn without replacement, with the standard deviation over the
// subsets. Unlike the Fréchet distance it is unbiased, so it can be compared
// across sample sizes, and it can be slightly negative when the samples
// come from the same distribution.
//
// FrechetDistance is the Fréchet (2-Wasserstein) distance between Gaussians
// fitted to the two samples (Heusel et al. 2017, as pytorch-fid computes
// FID): |μx−μy|² + tr Σx + tr Σy − 2 tr (Σx^½ Σy Σx^½)^½.
//
// Both are sensitive to the scale of each feature. Features measured in
// different units should first go through Standardize, which z-scores every
// feature with the mean and standard deviation of the two samples pooled, so
// that each feature counts about equally and the result does not depend on
// which sample is called x.
//
// All arithmetic is float64, and results do not depend on the number of
// goroutines.
package gap

import (
	"errors"
	"fmt"
	"math"

	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/rng"
)

// KIDOptions configures KID.
type KIDOptions struct {
	// Subsets is the number of random subsets (torch-fidelity's
	// kid_subsets); 0 means 100.
	Subsets int `json:"subsets" yaml:"subsets"`
	// SubsetSize is the number of vectors drawn from each sample for a
	// subset (kid_subset_size). 0 means min(1000, n/2, m/2) for samples of
	// n and m vectors: torch-fidelity's 1000 where the samples allow it, and
	// never the whole sample, so that the subsets differ and the standard
	// deviation says how much the estimate varies.
	SubsetSize int `json:"subset_size" yaml:"subset_size"`
	// Seed keys the random choice of subsets.
	Seed uint64 `json:"seed" yaml:"seed"`
}

// Resolve returns o with its defaults filled in for samples of n and m
// vectors.
func (o KIDOptions) Resolve(n, m int) KIDOptions {
	if o.Subsets == 0 {
		o.Subsets = 100
	}
	if o.SubsetSize == 0 {
		o.SubsetSize = min(1000, n/2, m/2)
	}
	return o
}

// ErrTooFew reports samples too small for the requested statistic.
var ErrTooFew = errors.New("gap: too few samples")

// KID returns the mean and the standard deviation (population, as numpy's
// std) over opt.Subsets subsets of the unbiased MMD² estimate between x and
// y under the kernel (a·b/d + 1)³. Each subset draws opt.SubsetSize
// vectors from x and as many from y, without replacement. It panics if the
// vectors do not all have the same non-zero length.
func KID(x, y [][]float64, opt KIDOptions) (mean, std float64, err error) {
	d := dims("KID", x, y)
	if opt.Subsets < 0 || opt.SubsetSize < 0 {
		return 0, 0, fmt.Errorf("gap: KID: invalid subsets %d or subset size %d", opt.Subsets, opt.SubsetSize)
	}
	opt = opt.Resolve(len(x), len(y))
	subsets, size := opt.Subsets, opt.SubsetSize
	if size < 2 || size > len(x) || size > len(y) {
		return 0, 0, fmt.Errorf("%w: KID subsets of %d from samples of %d and %d vectors (need 2 <= size <= each sample)",
			ErrTooFew, size, len(x), len(y))
	}
	r := rng.New(opt.Seed, "measure/gap", "KID")
	xs := make([]float64, size*d)
	ys := make([]float64, size*d)
	mmds := make([]float64, subsets)
	for i := range mmds {
		gather(xs, x, r.Perm(len(x))[:size])
		gather(ys, y, r.Perm(len(y))[:size])
		mmds[i] = MMD2(xs, ys, size, d)
	}
	for _, v := range mmds {
		mean += v
	}
	mean /= float64(subsets)
	for _, v := range mmds {
		std += (v - mean) * (v - mean)
	}
	std = math.Sqrt(std / float64(subsets))
	return mean, std, nil
}

// gather copies rows idx of src into the row-major matrix dst.
func gather(dst []float64, src [][]float64, idx []int) {
	d := len(dst) / len(idx)
	for i, j := range idx {
		copy(dst[i*d:(i+1)*d], src[j])
	}
}

// dims checks that all vectors of x and y have the same non-zero length
// and returns it.
func dims(op string, x, y [][]float64) int {
	d := -1
	for _, s := range [][][]float64{x, y} {
		for i, v := range s {
			if d < 0 {
				d = len(v)
			}
			if len(v) != d || d == 0 {
				panic(fmt.Sprintf("gap.%s: vector %d has length %d, want %d (non-zero, same for all)", op, i, len(v), d))
			}
		}
	}
	if d < 0 {
		return 0
	}
	return d
}

// mmdRows is the number of kernel rows per work item of MMD2.
const mmdRows = 16

// MMD2 returns the unbiased estimate of the squared MMD between the m x d
// row-major samples x and y under the kernel k(a, b) = (a·b/d + 1)³
// (Bińkowski et al. 2018, eq. 3; torch-fidelity's mmd2 with
// mmd_est="unbiased"):
//
//	Σ_{i≠j} [k(xi,xj) + k(yi,yj)] / (m(m−1)) − 2 Σ_{i,j} k(xi,yj) / m²
//
// It panics if m < 2 or the slices are not m x d.
func MMD2(x, y []float64, m, d int) float64 {
	if m < 2 || d < 1 || len(x) != m*d || len(y) != m*d {
		panic(fmt.Sprintf("gap.MMD2: %d and %d values for %d x %d samples (m >= 2 needed)", len(x), len(y), m, d))
	}
	// Row blocks: the off-diagonal sums of Kxx and Kyy use their symmetry
	// (j > i, doubled); Kxy uses every pair. Block sums are added in order.
	blocks := (m + mmdRows - 1) / mmdRows
	part := make([][3]float64, blocks)
	gamma := 1 / float64(d)
	parallel.For(blocks, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			var sxx, syy, sxy float64
			for i := b * mmdRows; i < min((b+1)*mmdRows, m); i++ {
				xi, yi := x[i*d:(i+1)*d], y[i*d:(i+1)*d]
				sxx += kernelRow(xi, x[(i+1)*d:], d, gamma)
				syy += kernelRow(yi, y[(i+1)*d:], d, gamma)
				sxy += kernelRow(xi, y, d, gamma)
			}
			part[b] = [3]float64{sxx, syy, sxy}
		}
	})
	var sxx, syy, sxy float64
	for _, p := range part {
		sxx += p[0]
		syy += p[1]
		sxy += p[2]
	}
	fm := float64(m)
	return 2*(sxx+syy)/(fm*(fm-1)) - 2*sxy/(fm*fm)
}

// kernelRow returns Σ_j (a·rows_j·gamma + 1)³ over the d-vectors in rows.
func kernelRow(a, rows []float64, d int, gamma float64) float64 {
	a = a[:d]
	s := 0.0
	for len(rows) >= d {
		r := rows[:d]
		rows = rows[d:]
		// Four partial sums: independent chains the CPU can overlap.
		var p0, p1, p2, p3 float64
		j := 0
		for ; j+4 <= d; j += 4 {
			p0 += a[j] * r[j]
			p1 += a[j+1] * r[j+1]
			p2 += a[j+2] * r[j+2]
			p3 += a[j+3] * r[j+3]
		}
		for ; j < d; j++ {
			p0 += a[j] * r[j]
		}
		t := (p0 + p1) + (p2 + p3)
		t = t*gamma + 1
		s += t * t * t
	}
	return s
}

// FrechetDistance returns the Fréchet distance between Gaussians with the
// means and unbiased covariances (ddof 1, as numpy's cov) of x and y:
//
//	|μx−μy|² + tr Σx + tr Σy − 2 tr (Σx^½ Σy Σx^½)^½
//
// The square roots come from symmetric eigendecompositions (cyclic Jacobi,
// float64): Σx^½ Σy Σx^½ is symmetric and positive semi-definite and has
// the eigenvalues of Σx Σy, so no square root of a non-symmetric matrix is
// needed. Eigenvalues that rounding leaves slightly negative count as 0,
// and so does a result that rounding leaves slightly below 0. It returns
// ErrTooFew when a sample has fewer than 2 vectors, and panics if the
// vectors do not all have the same non-zero length.
func FrechetDistance(x, y [][]float64) (float64, error) {
	d := dims("FrechetDistance", x, y)
	if len(x) < 2 || len(y) < 2 {
		return 0, fmt.Errorf("%w: Fréchet distance needs 2 vectors per sample, have %d and %d", ErrTooFew, len(x), len(y))
	}
	mx, cx := meanCov(x, d)
	my, cy := meanCov(y, d)
	dm := 0.0
	for i := range mx {
		dm += (mx[i] - my[i]) * (mx[i] - my[i])
	}
	tr := 0.0
	for i := 0; i < d; i++ {
		tr += cx[i*d+i] + cy[i*d+i]
	}
	s := sqrtPSD(cx, d)
	m := mul(s, mul(cy, s, d), d)
	symmetrize(m, d)
	vals, _ := eigenSym(m, d, false)
	trSqrt := 0.0
	for _, v := range vals {
		trSqrt += math.Sqrt(max(v, 0))
	}
	return max(dm+tr-2*trSqrt, 0), nil
}

// meanCov returns the mean and the unbiased covariance (row-major d x d)
// of the vectors in x, summing in the order of x.
func meanCov(x [][]float64, d int) (mean, cov []float64) {
	n := float64(len(x))
	mean = make([]float64, d)
	for _, v := range x {
		for i, a := range v {
			mean[i] += a
		}
	}
	for i := range mean {
		mean[i] /= n
	}
	cov = make([]float64, d*d)
	// Rows of the covariance are independent: one worker per block of rows.
	parallel.For(d, max(1, 64*1024/max(len(x)*d, 1)), func(lo, hi int) {
		c := make([]float64, d)
		for i := lo; i < hi; i++ {
			row := cov[i*d : (i+1)*d]
			for _, v := range x {
				ci := v[i] - mean[i]
				for j := i; j < d; j++ {
					c[j] = v[j] - mean[j]
				}
				for j := i; j < d; j++ {
					row[j] += ci * c[j]
				}
			}
			for j := i; j < d; j++ {
				row[j] /= n - 1
			}
		}
	})
	for i := 0; i < d; i++ {
		for j := 0; j < i; j++ {
			cov[i*d+j] = cov[j*d+i]
		}
	}
	return mean, cov
}

// Standardize returns copies of x and y in which every feature is z-scored
// with the mean and the standard deviation (population) of x and y pooled.
// A feature that is constant over the pooled sample becomes 0 everywhere.
// It panics if the vectors do not all have the same length.
func Standardize(x, y [][]float64) (xs, ys [][]float64) {
	d := dims("Standardize", x, y)
	n := float64(len(x) + len(y))
	mean := make([]float64, d)
	for _, s := range [][][]float64{x, y} {
		for _, v := range s {
			for i, a := range v {
				mean[i] += a
			}
		}
	}
	for i := range mean {
		mean[i] /= n
	}
	scale := make([]float64, d)
	for _, s := range [][][]float64{x, y} {
		for _, v := range s {
			for i, a := range v {
				scale[i] += (a - mean[i]) * (a - mean[i])
			}
		}
	}
	for i, v := range scale {
		sd := math.Sqrt(v / n)
		// A relative threshold: a feature that varies only by rounding is
		// constant.
		if sd <= 1e-12*max(1, math.Abs(mean[i])) {
			scale[i] = 0
		} else {
			scale[i] = 1 / sd
		}
	}
	apply := func(s [][]float64) [][]float64 {
		out := make([][]float64, len(s))
		flat := make([]float64, len(s)*d)
		for k, v := range s {
			o := flat[k*d : (k+1)*d : (k+1)*d]
			for i, a := range v {
				o[i] = (a - mean[i]) * scale[i]
			}
			out[k] = o
		}
		return out
	}
	return apply(x), apply(y)
}
