package response

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/raster"
)

// Upscaler is the least-squares linear upscaler by Scale: each HR pixel of
// phase (py, px) is predicted from the size x size neighbourhood of its LR
// pixel, plus an offset, on the studio-range luma that Y-PSNR compares.
// Trained on a degradation's LR images of the pairs' HR images and applied
// to the real LR images, it is the simplest restoration "network" a
// degradation can train: what it learns to undo is the degradation's
// linear part, so how well it restores the real images is a cheap
// stand-in for the downstream question (which SR network restores the
// camera's images best), without an hour of training per degradation.
type Upscaler struct {
	Size, Scale int
	// The normal equations share their matrix over the scale² phases
	// (the same LR neighbourhoods); only the right-hand sides differ.
	ata []float64
	atb [][]float64
	// W holds each phase's weights (row-major neighbourhood, then the
	// offset), set by Solve.
	W [][]float64
}

// NewUpscaler returns an Upscaler by scale (1..8) from an odd size x size
// neighbourhood (1..9).
func NewUpscaler(size, scale int) (*Upscaler, error) {
	if size < 1 || size > 9 || size%2 == 0 {
		return nil, fmt.Errorf("response: upscaler neighbourhood %d is not odd in 1..9", size)
	}
	if scale < 1 || scale > 8 {
		return nil, fmt.Errorf("response: upscaler scale %d is outside 1..8", scale)
	}
	dim := size*size + 1
	u := &Upscaler{Size: size, Scale: scale, ata: make([]float64, dim*dim), atb: make([][]float64, scale*scale)}
	for p := range u.atb {
		u.atb[p] = make([]float64, dim)
	}
	return u, nil
}

// LumaStudio returns the BT.601 studio-range luma of an RGB image over 255
// (16/255 .. 235/255), the Y of BasicSR's test_y_channel before rounding.
func LumaStudio(m *raster.Image) *raster.Image {
	out := raster.New(1, m.H, m.W)
	r, g, b := m.Plane(0), m.Plane(1), m.Plane(2)
	for i := range out.Pix {
		out.Pix[i] = float32((16 + 65.481*float64(r[i]) + 128.553*float64(g[i]) + 24.966*float64(b[i])) / 255)
	}
	return out
}

// neighbourhood writes the size x size LR luma values around (y, x),
// coordinates clamped at the border, and 1 for the offset.
func (u *Upscaler) neighbourhood(row []float64, lr *raster.Image, y, x int) {
	r, k := u.Size/2, 0
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

// Add adds every LR pixel of one pair (RGB images, hr Scale times lr's
// size), a border of the neighbourhood's radius left out.
func (u *Upscaler) Add(lr, hr *raster.Image) error {
	if hr.H != u.Scale*lr.H || hr.W != u.Scale*lr.W {
		return fmt.Errorf("HR %dx%d is not %d times LR %dx%d", hr.W, hr.H, u.Scale, lr.W, lr.H)
	}
	ly, hy := LumaStudio(lr), LumaStudio(hr)
	dim := u.Size*u.Size + 1
	row := make([]float64, dim)
	acc := make([]float64, dim*dim)
	b := u.Size / 2
	for y := b; y < lr.H-b; y++ {
		for x := b; x < lr.W-b; x++ {
			u.neighbourhood(row, ly, y, x)
			addOuter(acc, row)
			for py := 0; py < u.Scale; py++ {
				for px := 0; px < u.Scale; px++ {
					addScaled(u.atb[py*u.Scale+px], row, float64(hy.At(0, u.Scale*y+py, u.Scale*x+px)))
				}
			}
		}
	}
	addTo(u.ata, acc)
	return nil
}

// Merge adds the equations of v (an Upscaler of the same size and scale)
// to u, so that parts of a fit can be accumulated in parallel.
func (u *Upscaler) Merge(v *Upscaler) {
	addTo(u.ata, v.ata)
	for p := range v.atb {
		addTo(u.atb[p], v.atb[p])
	}
}

// Solve factorises the shared matrix once and solves every phase.
func (u *Upscaler) Solve() error {
	dim := u.Size*u.Size + 1
	chol, err := factorise(u.ata, dim)
	if err != nil {
		return err
	}
	u.W = make([][]float64, len(u.atb))
	for p, rhs := range u.atb {
		var w mat.VecDense
		if err := chol.SolveVecTo(&w, mat.NewVecDense(dim, append([]float64(nil), rhs...))); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		u.W[p] = w.RawVector().Data
	}
	return nil
}

// Apply upscales lr's studio-range luma (an RGB image) with the fitted
// weights: a one-plane image Scale times lr's size.
func (u *Upscaler) Apply(lr *raster.Image) *raster.Image {
	ly := LumaStudio(lr)
	out := raster.New(1, u.Scale*lr.H, u.Scale*lr.W)
	row := make([]float64, u.Size*u.Size+1)
	for y := 0; y < lr.H; y++ {
		for x := 0; x < lr.W; x++ {
			u.neighbourhood(row, ly, y, x)
			for py := 0; py < u.Scale; py++ {
				for px := 0; px < u.Scale; px++ {
					var s float64
					for i, w := range u.W[py*u.Scale+px] {
						s += w * row[i]
					}
					out.Set(0, u.Scale*y+py, u.Scale*x+px, float32(s))
				}
			}
		}
	}
	return out
}

// PSNR returns the Y-PSNR of lr upscaled against hr (RGB images), border
// pixels of hr left out, 8-bit rounding as fidelity.PSNR does.
func (u *Upscaler) PSNR(lr, hr *raster.Image, border int) float64 {
	return fidelity.PSNR(u.Apply(lr), LumaStudio(hr), fidelity.Options{CropBorder: border})
}
