package bfrnet

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
)

// Predict returns the restored face, clamped to [0, 1], the size of lq.
// lq must have Config.InChannels planes; sides that are not multiples of
// Config.Multiple() are reflect-padded at the bottom and right for the
// network and cropped back. Faces should be aligned crops of
// Config.FaceSize pixels (ResizeFace). Predict runs in inference mode and
// only reads the model, so several goroutines may call it at once.
func (m *Model) Predict(lq *raster.Image) *raster.Image {
	c := m.Config
	if lq.C != c.InChannels {
		panic(fmt.Sprintf("bfrnet.Predict: image has %d planes, the model %d", lq.C, c.InChannels))
	}
	k := c.Multiple()
	ph, pw := (k-lq.H%k)%k, (k-lq.W%k)%k
	g := ag.NewGraph(false)
	x := ag.Const(tensor.FromData(lq.Pix, 1, lq.C, lq.H, lq.W))
	if ph != 0 || pw != 0 {
		if ph >= lq.H || pw >= lq.W {
			// Reflection needs more pixels than the padding: replicate.
			x = ag.Const(tensor.FromData(padEdge(lq, lq.H+ph, lq.W+pw).Pix, 1, lq.C, lq.H+ph, lq.W+pw))
		} else {
			x = g.Pad2dReflect(x, 0, ph, 0, pw)
		}
	}
	y := m.Forward(g, x).Value
	out := raster.New(lq.C, lq.H, lq.W)
	w := lq.W + pw
	for ch := 0; ch < lq.C; ch++ {
		for r := 0; r < lq.H; r++ {
			src := y.Data[(ch*(lq.H+ph)+r)*w : (ch*(lq.H+ph)+r)*w+lq.W]
			copy(out.Pix[(ch*lq.H+r)*lq.W:], src)
		}
	}
	return out.Clamp()
}

// padEdge returns img extended to h x w by repeating its last row and
// column.
func padEdge(img *raster.Image, h, w int) *raster.Image {
	out := raster.New(img.C, h, w)
	for c := 0; c < img.C; c++ {
		for y := 0; y < h; y++ {
			sy := min(y, img.H-1)
			for x := 0; x < w; x++ {
				out.Pix[(c*h+y)*w+x] = img.Pix[(c*img.H+sy)*img.W+min(x, img.W-1)]
			}
		}
	}
	return out
}

// ResizeFace returns img resized to size x size (Resize), as an aligned
// face is brought to the network's FaceSize; img itself when it has that
// size already. Non-square images are stretched.
func ResizeFace(img *raster.Image, size int) *raster.Image { return Resize(img, size, size) }

// Resize returns img resized to h x w with OpenCV's area interpolation
// when both sides shrink, bicubic interpolation (clamped to [0, 1])
// otherwise; img itself when it has that size.
func Resize(img *raster.Image, h, w int) *raster.Image {
	switch {
	case img.H == h && img.W == w:
		return img
	case img.H >= h && img.W >= w:
		return resize.OpenCV(img, h, w, resize.InterArea)
	}
	return resize.OpenCV(img, h, w, resize.InterCubic).Clamp()
}
