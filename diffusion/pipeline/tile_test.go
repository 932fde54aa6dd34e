package pipeline

import (
	"testing"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/samples"
)

// local is a denoiser whose output at a pixel depends only on its 3x3
// neighbourhood, so tiles with enough overlap must reproduce it exactly.
func local(x *tensor.Tensor, ts []float32) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := tensor.New(x.Shape...)
	for p := 0; p < n*c; p++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				s := float32(0)
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						yy, xc := min(max(y+dy, 0), h-1), min(max(xx+dx, 0), w-1)
						s += x.Data[(p*h+yy)*w+xc]
					}
				}
				out.Data[(p*h+y)*w+xx] = 0.1*s/9 + 0.01*ts[0]/1000
			}
		}
	}
	return out
}

func TestTiledMatchesWhole(t *testing.T) {
	m, _ := samples.Render("rings", 150, 130, 0)
	x := tensor.FromData(m.Pix, 1, 3, m.H, m.W)
	whole := local(x, []float32{300})
	tiled := Tiled(local, 64, 16)(x, []float32{300})
	// Inside each tile the local model sees the same neighbourhood as on
	// the whole image; only a tile's outermost pixel sees the tile's edge
	// padding, and the blending window gives it a weight of about 0.002.
	if d := tensor.MaxAbsDiff(whole, tiled); d > 1e-3 {
		t.Fatalf("tiled differs from whole by %g", d)
	}
	// Tiles cover the image with the requested overlap.
	st := tileStarts(150, 64, 16)
	for i := 1; i < len(st); i++ {
		if st[i-1]+64-st[i] < 16 {
			t.Fatalf("tiles %v overlap less than 16", st)
		}
	}
	if st[len(st)-1]+64 != 150 {
		t.Fatalf("last tile %v does not end at the border", st)
	}
}
