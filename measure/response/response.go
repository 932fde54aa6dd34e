// Package response measures which spatial frequencies a degradation keeps:
// it fits, by least squares, the linear filter that maps images downscaled
// without blur to their degraded (or real) counterparts, and reports the
// filter's gain per frequency.
//
// Fitted to a camera's real pairs the filter shows what the camera keeps,
// boosts (in-camera sharpening) and loses, whatever the shape of its blur;
// fitted to a degradation's LR images of the same HR images it shows the
// degradation's response, so the two can be compared (Distance). Noise and
// compression that do not depend on the scene do not bias the fit: they
// are uncorrelated with the source images.
package response

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/degradiff/degradiff/raster"
)

// Frequencies are the frequencies, in cycles per pixel of the filtered
// images, at which Distance compares gains: 0.05 to the Nyquist frequency
// 0.5 in steps of 0.05.
var Frequencies = []float64{0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50}

// Filter is a square linear filter with an offset.
type Filter struct {
	Size int
	// Weights is the filter, row by row; Offset the constant added
	// (image values 0..1).
	Weights []float64
	Offset  float64
}

// Fitter accumulates the normal equations of a least-squares filter fit.
type Fitter struct {
	size int
	ata  []float64 // (dim+1)^2, upper triangle used
	atb  []float64
	n    int
}

// NewFitter returns a Fitter of an odd size x size filter.
func NewFitter(size int) (*Fitter, error) {
	if size < 1 || size > 15 || size%2 == 0 {
		return nil, fmt.Errorf("response: filter size %d is not odd in 1..15", size)
	}
	dim := size*size + 1
	return &Fitter{size: size, ata: make([]float64, dim*dim), atb: make([]float64, dim)}, nil
}

// Add adds every pixel of every plane of target, predicted from the size x
// size neighbourhood of the same pixel of source; a border of b pixels
// (at least the filter's radius) is left out. source and target must have
// the same size.
func (f *Fitter) Add(source, target *raster.Image, b int) error {
	if !raster.SameSize(source, target) {
		return fmt.Errorf("response: source %dx%dx%d and target %dx%dx%d differ in size", source.C, source.H, source.W, target.C, target.H, target.W)
	}
	size := f.size
	r := size / 2
	b = max(b, r)
	dim := size*size + 1
	row := make([]float64, dim)
	// Summing one image's outer products apart and folding them in once
	// keeps the sums of a long fit from drowning small terms.
	acc := make([]float64, dim*dim)
	for c := 0; c < source.C; c++ {
		for y := b; y < source.H-b; y++ {
			for x := b; x < source.W-b; x++ {
				k := 0
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						row[k] = float64(source.At(c, y+dy, x+dx))
						k++
					}
				}
				row[k] = 1
				addOuter(acc, row)
				addScaled(f.atb, row, float64(target.At(c, y, x)))
				f.n++
			}
		}
	}
	addTo(f.ata, acc)
	return nil
}

// addOuter adds the upper triangle of row's outer product with itself to
// acc (len(row) squared values, row-major): one row of a least-squares
// fit's normal matrix.
func addOuter(acc, row []float64) {
	dim := len(row)
	for i, ri := range row {
		a := acc[i*dim:]
		for j := i; j < dim; j++ {
			a[j] += ri * row[j]
		}
	}
}

// addScaled adds t times row to dst: one row of a right-hand side.
func addScaled(dst, row []float64, t float64) {
	for i, ri := range row {
		dst[i] += ri * t
	}
}

// addTo adds src to dst element by element.
func addTo(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// Merge adds the equations of g (a Fitter of the same size) to f, so that
// parts of a fit can be accumulated in parallel.
func (f *Fitter) Merge(g *Fitter) {
	addTo(f.ata, g.ata)
	addTo(f.atb, g.atb)
	f.n += g.n
}

// ErrSingular is returned by Solve when the images added do not determine
// the filter (too few pixels, or flat images).
var ErrSingular = errors.New("response: the filter fit is singular (too few pixels or flat images)")

// factorise returns the Cholesky factorisation of the normal equations'
// matrix (dim x dim, upper triangle of ata used), or ErrSingular.
func factorise(ata []float64, dim int) (*mat.Cholesky, error) {
	sym := mat.NewSymDense(dim, nil)
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			sym.SetSym(i, j, ata[i*dim+j])
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		return nil, ErrSingular
	}
	return &chol, nil
}

// Solve returns the least-squares filter.
func (f *Fitter) Solve() (*Filter, error) {
	dim := len(f.atb)
	if f.n < dim {
		return nil, ErrSingular
	}
	chol, err := factorise(f.ata, dim)
	if err != nil {
		return nil, err
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, mat.NewVecDense(dim, append([]float64(nil), f.atb...))); err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	out := &Filter{Size: f.size, Weights: make([]float64, dim-1), Offset: w.AtVec(dim - 1)}
	for i := range out.Weights {
		out.Weights[i] = w.AtVec(i)
	}
	return out, nil
}

// Apply filters m (and adds the offset), clamping coordinates at the
// border.
func (w *Filter) Apply(m *raster.Image) *raster.Image {
	r := w.Size / 2
	out := raster.New(m.C, m.H, m.W)
	for c := 0; c < m.C; c++ {
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				s, k := w.Offset, 0
				for dy := -r; dy <= r; dy++ {
					yy := min(max(y+dy, 0), m.H-1)
					for dx := -r; dx <= r; dx++ {
						xx := min(max(x+dx, 0), m.W-1)
						s += w.Weights[k] * float64(m.At(c, yy, xx))
						k++
					}
				}
				out.Set(c, y, x, float32(s))
			}
		}
	}
	return out
}

// Gain returns the filter's gain at frequency freq (cycles per pixel), the
// mean of its gains along x and along y: 1 at 0 for a filter that keeps
// the mean.
func (w *Filter) Gain(freq float64) float64 {
	r := w.Size / 2
	var gain float64
	for axis := 0; axis < 2; axis++ {
		var re, im float64
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				d := dx
				if axis == 1 {
					d = dy
				}
				a := 2 * math.Pi * freq * float64(d)
				v := w.Weights[(dy+r)*w.Size+dx+r]
				re += v * math.Cos(a)
				im -= v * math.Sin(a)
			}
		}
		gain += math.Hypot(re, im) / 2
	}
	return gain
}

// Gains returns the gains at Frequencies.
func (w *Filter) Gains() []float64 {
	out := make([]float64, len(Frequencies))
	for i, f := range Frequencies {
		out[i] = w.Gain(f)
	}
	return out
}

// minGain bounds the gains Distance takes the logarithm of: a filter that
// removes a frequency entirely would otherwise be infinitely far from one
// that keeps 1% of it, a difference no downstream network could see.
const minGain = 0.02

// Distance is the root mean square, over Frequencies, of the natural
// logarithm of the ratio of a's gain to b's (each at least 0.02): 0 for
// the same response, about 0.1 when a keeps 10% more or less of every
// frequency. A logarithm, because a restoration network trained on a
// degradation learns to undo its gain by the inverse factor: losing 0.05
// instead of 0.20 of a frequency is a fourfold error there.
func Distance(a, b *Filter) float64 {
	var sum float64
	for _, f := range Frequencies {
		d := math.Log(max(a.Gain(f), minGain) / max(b.Gain(f), minGain))
		sum += d * d
	}
	return math.Sqrt(sum / float64(len(Frequencies)))
}

// Luma returns the BT.601 luma (0.299 R + 0.587 G + 0.114 B) of an RGB
// image as a one-plane image; other images are returned as they are.
func Luma(m *raster.Image) *raster.Image {
	if m.C != 3 {
		return m
	}
	out := raster.New(1, m.H, m.W)
	r, g, b := m.Plane(0), m.Plane(1), m.Plane(2)
	for i := range out.Pix {
		out.Pix[i] = 0.299*r[i] + 0.587*g[i] + 0.114*b[i]
	}
	return out
}
