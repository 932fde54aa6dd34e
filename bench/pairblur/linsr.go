package main

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
)

// upscaler is the least-squares linear upscaler by scale: each HR pixel of
// phase (py, px) is predicted from the size x size neighbourhood of its LR
// pixel, plus an offset, on the studio-range luma that Y-PSNR compares.
// Trained on a degradation's LR images of the pairs' HR images and applied
// to the real LR images, it is the simplest restoration "network" a
// degradation can train: what it learns to undo is the degradation's
// linear part, so how well it restores the real images is a cheap
// stand-in for the downstream question (which SR network restores the
// camera's images best), without an hour of training per degradation.
type upscaler struct {
	size, scale int
	// The normal equations share their matrix over the scale² phases
	// (the same LR neighbourhoods); only the right-hand sides differ.
	ata []float64
	atb [][]float64
	w   [][]float64
}

func newUpscaler(size, scale int) *upscaler {
	dim := size*size + 1
	u := &upscaler{size: size, scale: scale, ata: make([]float64, dim*dim), atb: make([][]float64, scale*scale)}
	for p := range u.atb {
		u.atb[p] = make([]float64, dim)
	}
	return u
}

// lumaStudio returns the BT.601 studio-range luma of an RGB image over 255
// (16/255 .. 235/255), the Y of BasicSR's test_y_channel before rounding.
func lumaStudio(m *raster.Image) *raster.Image {
	out := raster.New(1, m.H, m.W)
	r, g, b := m.Plane(0), m.Plane(1), m.Plane(2)
	for i := range out.Pix {
		out.Pix[i] = float32((16 + 65.481*float64(r[i]) + 128.553*float64(g[i]) + 24.966*float64(b[i])) / 255)
	}
	return out
}

// neighbourhood writes the size x size LR luma values around (y, x),
// coordinates clamped at the border, and 1 for the offset.
func (u *upscaler) neighbourhood(row []float64, lr *raster.Image, y, x int) {
	r, k := u.size/2, 0
	for dy := -r; dy <= r; dy++ {
		yy := min(max(y+dy, 0), lr.H-1)
		for dx := -r; dx <= r; dx++ {
			xx := min(max(x+dx, 0), lr.W-1)
			row[k] = float64(lr.At(0, yy, xx))
			k++
		}
	}
	row[k] = 1
}

// add adds every LR pixel of one pair (RGB images, hr scale times lr's
// size), a border of the filter's radius left out.
func (u *upscaler) add(lr, hr *raster.Image) error {
	if hr.H != u.scale*lr.H || hr.W != u.scale*lr.W {
		return fmt.Errorf("HR %dx%d is not %d times LR %dx%d", hr.W, hr.H, u.scale, lr.W, lr.H)
	}
	ly, hy := lumaStudio(lr), lumaStudio(hr)
	dim := u.size*u.size + 1
	row := make([]float64, dim)
	acc := make([]float64, dim*dim)
	b := u.size / 2
	for y := b; y < lr.H-b; y++ {
		for x := b; x < lr.W-b; x++ {
			u.neighbourhood(row, ly, y, x)
			for i := 0; i < dim; i++ {
				ri := row[i]
				a := acc[i*dim:]
				for j := i; j < dim; j++ {
					a[j] += ri * row[j]
				}
			}
			for py := 0; py < u.scale; py++ {
				for px := 0; px < u.scale; px++ {
					t := float64(hy.At(0, u.scale*y+py, u.scale*x+px))
					atb := u.atb[py*u.scale+px]
					for i, ri := range row {
						atb[i] += ri * t
					}
				}
			}
		}
	}
	for i, v := range acc {
		u.ata[i] += v
	}
	return nil
}

// solve factorises the shared matrix once and solves every phase.
func (u *upscaler) solve() error {
	dim := u.size*u.size + 1
	sym := mat.NewSymDense(dim, nil)
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			sym.SetSym(i, j, u.ata[i*dim+j])
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		return fmt.Errorf("the upscaler fit is singular (flat images?)")
	}
	u.w = make([][]float64, len(u.atb))
	for p, rhs := range u.atb {
		var w mat.VecDense
		if err := chol.SolveVecTo(&w, mat.NewVecDense(dim, append([]float64(nil), rhs...))); err != nil {
			return err
		}
		u.w[p] = w.RawVector().Data
	}
	return nil
}

// psnr upscales lr's luma and returns its Y-PSNR against hr's (border of
// the scale left out, 8-bit rounding as fidelity.PSNR does).
func (u *upscaler) psnr(lr, hr *raster.Image) float64 {
	ly := lumaStudio(lr)
	out := raster.New(1, hr.H, hr.W)
	row := make([]float64, u.size*u.size+1)
	for y := 0; y < lr.H; y++ {
		for x := 0; x < lr.W; x++ {
			u.neighbourhood(row, ly, y, x)
			for py := 0; py < u.scale; py++ {
				for px := 0; px < u.scale; px++ {
					var s float64
					for i, w := range u.w[py*u.scale+px] {
						s += w * row[i]
					}
					out.Set(0, u.scale*y+py, u.scale*x+px, float32(s))
				}
			}
		}
	}
	return fidelity.PSNR(out, lumaStudio(hr), fidelity.Options{CropBorder: u.scale})
}

// linearSR fits one upscaler to the pairs' real LR images (the ceiling, fit
// and measured on the same pairs) and one to each degradation's LR images
// of their HR images (draws variants each), then returns the mean Y-PSNR
// of each upscaler on the real LR images against the HR images: real
// first, then the degradations in order.
func linearSR(set *pairread.Set, pipes []degrade.Pipeline, names []string, draws int, seed uint64, size int) ([]float64, error) {
	ups := make([]*upscaler, len(pipes)+1)
	for j := range ups {
		ups[j] = newUpscaler(size, set.Scale)
	}
	for i := 0; i < set.Len(); i++ {
		pair := set.Pairs[i]
		hr, lr, err := set.Load(i)
		if err != nil {
			return nil, err
		}
		if err := ups[0].add(lr, hr); err != nil {
			return nil, fmt.Errorf("%s: %w", pair.HRPath, err)
		}
		for j, p := range pipes {
			it, err := degrade.Prepare(p, hr, seed, pair.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pair.HRPath, err)
			}
			for k := 0; k < draws; k++ {
				lq, _, err := it.Variant(k)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", pair.HRPath, names[j], err)
				}
				if err := ups[j+1].add(lq, hr); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", pair.HRPath, names[j], err)
				}
			}
		}
	}
	for _, u := range ups {
		if err := u.solve(); err != nil {
			return nil, err
		}
	}
	out := make([]float64, len(ups))
	for i := 0; i < set.Len(); i++ {
		hr, lr, err := set.Load(i)
		if err != nil {
			return nil, err
		}
		for j, u := range ups {
			out[j] += u.psnr(lr, hr) / float64(set.Len())
		}
	}
	return out, nil
}
