package srnet

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
)

// DefaultTile is the LR tile size Predict uses when PredictOptions.Tile is
// 0. At 256 pixels a tile's feature maps take a few tens of megabytes and
// the overlap costs about a third more work than the tile itself.
const DefaultTile = 256

// PredictOptions controls Predict.
type PredictOptions struct {
	// Tile is the side of the square LR tiles, in pixels: images up to
	// Tile x Tile run whole, larger ones tile by tile, so memory stays
	// bounded. 0 means DefaultTile; a negative value never tiles.
	Tile int
	// Overlap is the context each tile reads beyond its own pixels on
	// every side, in LR pixels; only the tile's own part of the result is
	// kept. 0 means Config.Radius(), which makes the tiled result equal to
	// the whole image's (up to float rounding); smaller values are faster
	// but may leave seams.
	Overlap int
}

// Predict returns the super-resolved lr, clamped to [0, 1]. lr must have
// Config.InChannels planes. It runs in inference mode, tile by tile for
// large images. Predict only reads the model, so several goroutines may
// call it at once.
func (m *Model) Predict(lr *raster.Image, opt PredictOptions) *raster.Image {
	return m.predict(lr, opt).Clamp()
}

// predict is Predict without the clamp.
func (m *Model) predict(lr *raster.Image, opt PredictOptions) *raster.Image {
	c := m.Config
	if lr.C != c.InChannels {
		panic(fmt.Sprintf("srnet.Predict: image has %d planes, the model %d", lr.C, c.InChannels))
	}
	tile, ov := opt.Tile, opt.Overlap
	if tile == 0 {
		tile = DefaultTile
	}
	if tile < 0 || (lr.H <= tile && lr.W <= tile) {
		tile = max(lr.H, lr.W)
	}
	if ov <= 0 {
		ov = c.Radius()
	}
	s := c.Scale
	out := raster.New(lr.C, lr.H*s, lr.W*s)
	g := ag.NewGraph(false)
	for y0 := 0; y0 < lr.H; y0 += tile {
		y1 := min(y0+tile, lr.H)
		for x0 := 0; x0 < lr.W; x0 += tile {
			x1 := min(x0+tile, lr.W)
			// The tile with its context, clipped to the image.
			iy0, ix0 := max(0, y0-ov), max(0, x0-ov)
			iy1, ix1 := min(lr.H, y1+ov), min(lr.W, x1+ov)
			in := lr
			if iy0 != 0 || ix0 != 0 || iy1 != lr.H || ix1 != lr.W {
				in = lr.Crop(iy0, ix0, iy1-iy0, ix1-ix0)
			}
			x := ag.Const(tensor.FromData(in.Pix, 1, in.C, in.H, in.W))
			y := m.Forward(g, x).Value
			// Copy the tile's own part of the result.
			ow := in.W * s
			for ch := 0; ch < out.C; ch++ {
				for r := (y0 - iy0) * s; r < (y1-iy0)*s; r++ {
					src := y.Data[(ch*in.H*s+r)*ow+(x0-ix0)*s : (ch*in.H*s+r)*ow+(x1-ix0)*s]
					orow := (ch*out.H+iy0*s+r)*out.W + x0*s
					copy(out.Pix[orow:orow+len(src)], src)
				}
			}
			g.Reset()
		}
	}
	return out
}
