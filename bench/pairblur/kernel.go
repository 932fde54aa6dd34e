package main

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/raster"
)

// kernelFit is the least-squares linear filter, in LR pixels, that maps
// each pair's HR image downscaled without blur (MATLAB bicubic) to its
// real LR image, with an offset, over all pairs and channels together.
// Unlike the Gaussian sweep it assumes no shape: its frequency response
// shows which frequencies the cameras keep and which they lose, next to
// the filter that maps the same downscaled images to Gaussian-blurred
// ones (Reference).
type kernelFit struct {
	Size int
	// Weights is the filter, row by row; Offset the constant (0..1).
	Weights []float64
	Offset  float64
	// PSNR is the Y-PSNR of the filtered images against the real LR
	// images (mean over pairs; border of the scale left out, like the
	// sweep), Plain the same without the filter.
	PSNR, Plain float64
}

// normalEq accumulates the normal equations of a least-squares fit with
// an offset.
type normalEq struct {
	ata *mat.SymDense
	atb []float64
	n   int
}

func newNormalEq(dim int) *normalEq {
	return &normalEq{ata: mat.NewSymDense(dim+1, nil), atb: make([]float64, dim+1)}
}

// addImage adds every pixel of every plane of target, predicted from the
// size x size neighbourhood of the same pixel of source, border b left out.
func (e *normalEq) addImage(source, target *raster.Image, size, b int) {
	r := size / 2
	b = max(b, r)
	dim := size*size + 1
	row := make([]float64, dim)
	// Summing the outer products into a plain array and folding it into
	// the SymDense once per image keeps the inner loop free of calls.
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
				t := float64(target.At(c, y, x))
				for i := 0; i < dim; i++ {
					ri := row[i]
					e.atb[i] += ri * t
					a := acc[i*dim:]
					for j := i; j < dim; j++ {
						a[j] += ri * row[j]
					}
				}
				e.n++
			}
		}
	}
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			e.ata.SetSym(i, j, e.ata.At(i, j)+acc[i*dim+j])
		}
	}
}

// solve returns the weights and the offset.
func (e *normalEq) solve() ([]float64, float64, error) {
	var chol mat.Cholesky
	if ok := chol.Factorize(e.ata); !ok {
		return nil, 0, fmt.Errorf("the kernel fit is singular (flat images?)")
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, mat.NewVecDense(len(e.atb), e.atb)); err != nil {
		return nil, 0, err
	}
	out := make([]float64, len(e.atb)-1)
	for i := range out {
		out[i] = w.AtVec(i)
	}
	return out, w.AtVec(len(e.atb) - 1), nil
}

// filterImage applies the fitted filter (and offset) to m, clamping
// coordinates at the border.
func filterImage(m *raster.Image, w []float64, offset float64, size int) *raster.Image {
	r := size / 2
	out := raster.New(m.C, m.H, m.W)
	for c := 0; c < m.C; c++ {
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				s, k := offset, 0
				for dy := -r; dy <= r; dy++ {
					yy := min(max(y+dy, 0), m.H-1)
					for dx := -r; dx <= r; dx++ {
						xx := min(max(x+dx, 0), m.W-1)
						s += w[k] * float64(m.At(c, yy, xx))
						k++
					}
				}
				out.Set(c, y, x, float32(s))
			}
		}
	}
	return out
}

// response returns the filter's gain at frequency f (cycles per LR pixel),
// the mean of its gains along x and along y: 1 at 0 for a filter that
// keeps the mean, and the Nyquist frequency is 0.5.
func response(w []float64, size int, f float64) float64 {
	r := size / 2
	var gain float64
	for axis := 0; axis < 2; axis++ {
		var re, im float64
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				d := dx
				if axis == 1 {
					d = dy
				}
				a := 2 * math.Pi * f * float64(d)
				v := w[(dy+r)*size+dx+r]
				re += v * math.Cos(a)
				im -= v * math.Sin(a)
			}
		}
		gain += math.Hypot(re, im) / 2
	}
	return gain
}

// fitKernels fits one filter from the downscaled HR images to each set of
// targets (the real LR images, the Gaussian-blurred ones, a degradation's
// LR images: targets[k][i] belongs to down[i]), then measures each fit's
// Y-PSNR.
func fitKernels(size, border int, down []*raster.Image, targets ...[]*raster.Image) ([]*kernelFit, error) {
	fits := make([]*kernelFit, len(targets))
	fo := fidelity.Options{CropBorder: border, TestY: true}
	for k, images := range targets {
		e := newNormalEq(size * size)
		for i := range down {
			e.addImage(down[i], images[i], size, border)
		}
		f := &kernelFit{Size: size}
		var err error
		if f.Weights, f.Offset, err = e.solve(); err != nil {
			return nil, err
		}
		for i := range down {
			f.PSNR += fidelity.PSNR(filterImage(down[i], f.Weights, f.Offset, size), images[i], fo) / float64(len(down))
			f.Plain += fidelity.PSNR(down[i], images[i], fo) / float64(len(down))
		}
		fits[k] = f
	}
	return fits, nil
}
