package faceapi

import (
	"fmt"
	"image"
	"math"

	"github.com/degradiff/degradiff/raster"
)

// Image is an 8-bit RGB image: Pix[(y*W+x)*3+c], c = R, G, B. The networks
// read images in this form (face-api works on 0..255 pixel values).
type Image struct {
	W, H int
	Pix  []uint8
}

// NewImage returns a black w x h image.
func NewImage(w, h int) *Image {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("faceapi.NewImage: invalid size %dx%d", w, h))
	}
	return &Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
}

// FromImage converts a decoded image to 8-bit RGB (alpha is dropped; 16-bit
// samples keep their high byte).
func FromImage(m image.Image) *Image {
	b := m.Bounds()
	out := NewImage(b.Dx(), b.Dy())
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			r, g, bl, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*out.W + x) * 3
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return out
}

// FromRaster converts a planar [0, 1] image (3 planes RGB, or 1 plane gray)
// to 8-bit RGB with raster.To8's rounding.
func FromRaster(m *raster.Image) *Image {
	if m.C != 3 && m.C != 1 {
		panic(fmt.Sprintf("faceapi.FromRaster: %d planes, want 1 or 3", m.C))
	}
	out := NewImage(m.W, m.H)
	n := m.W * m.H
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			p := c
			if m.C == 1 {
				p = 0
			}
			out.Pix[i*3+c] = raster.To8(m.Pix[p*n+i])
		}
	}
	return out
}

// ToRaster returns m as a planar [0, 1] RGB image.
func (m *Image) ToRaster() *raster.Image {
	out := raster.New(3, m.H, m.W)
	n := m.W * m.H
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[c*n+i] = float32(m.Pix[i*3+c]) / 255
		}
	}
	return out
}

// Crop returns a copy of the rectangle of w x h pixels at (x, y), which must
// lie inside m.
func (m *Image) Crop(x, y, w, h int) *Image {
	if x < 0 || y < 0 || w <= 0 || h <= 0 || x+w > m.W || y+h > m.H {
		panic(fmt.Sprintf("faceapi: crop %dx%d at (%d, %d) outside the %dx%d image", w, h, x, y, m.W, m.H))
	}
	out := NewImage(w, h)
	for r := 0; r < h; r++ {
		copy(out.Pix[r*w*3:(r+1)*w*3], m.Pix[((y+r)*m.W+x)*3:])
	}
	return out
}

// pixels returns m as a float map of 0..255 values.
func (m *Image) pixels() *fmap {
	x := newMap(m.H, m.W, 3)
	for i, v := range m.Pix {
		x.D[i] = float32(v)
	}
	return x
}

// toBatch prepares an image the way face-api's NetInput.toBatchTensor does
// for a tensor input: zero-pad to a square (centred: round(diff/2) after and
// the rest before; otherwise all after), then, if the square is not size,
// resize it with tf.image.resizeBilinear (alignCorners and halfPixelCenters
// false). The values stay 0..255.
func toBatch(x *fmap, size int, centred bool) *fmap {
	x = padToSquare(x, centred)
	if x.H != size || x.W != size {
		x = resizeBilinear(x, size, size)
	}
	return x
}

// padToSquare zero-pads x to a square as face-api's padToSquare.
func padToSquare(x *fmap, centred bool) *fmap {
	if x.H == x.W {
		return x
	}
	diff := x.H - x.W
	if diff < 0 {
		diff = -diff
	}
	after := diff
	if centred {
		after = int(math.Floor(float64(diff)*0.5 + 0.5)) // JS Math.round
	}
	before := diff - after
	s := max(x.H, x.W)
	y := newMap(s, s, x.C)
	oy, ox := 0, 0
	if x.H > x.W {
		ox = before
	} else {
		oy = before
	}
	for r := 0; r < x.H; r++ {
		copy(y.D[((oy+r)*s+ox)*x.C:], x.D[r*x.W*x.C:(r+1)*x.W*x.C])
	}
	return y
}

// resizeBilinear resizes x to h x w like tfjs-backend-cpu's ResizeBilinear
// with alignCorners = false and halfPixelCenters = false: source coordinate
// = dst * in/out, interpolation in float64, results rounded to float32.
func resizeBilinear(x *fmap, h, w int) *fmap {
	y := newMap(h, w, x.C)
	ry := float64(x.H) / float64(h)
	rx := float64(x.W) / float64(w)
	c := x.C
	for r := 0; r < h; r++ {
		fy := ry * float64(r)
		y0 := max(0, int(math.Floor(fy)))
		dy := fy - float64(y0)
		y1 := min(x.H-1, int(math.Ceil(fy)))
		for col := 0; col < w; col++ {
			fx := rx * float64(col)
			x0 := max(0, int(math.Floor(fx)))
			dx := fx - float64(x0)
			x1 := min(x.W-1, int(math.Ceil(fx)))
			tl := x.D[(y0*x.W+x0)*c:]
			tr := x.D[(y0*x.W+x1)*c:]
			bl := x.D[(y1*x.W+x0)*c:]
			br := x.D[(y1*x.W+x1)*c:]
			out := y.D[(r*w+col)*c : (r*w+col+1)*c]
			for ch := range out {
				top := float64(tl[ch]) + float64((float64(tr[ch])-float64(tl[ch]))*dx)
				bot := float64(bl[ch]) + float64((float64(br[ch])-float64(bl[ch]))*dx)
				out[ch] = float32(top + float64((bot-top)*dy))
			}
		}
	}
	return y
}

// normalize returns (x - mean[c]) / 255 per channel, in float32 as face-api
// (tf.sub then tf.div).
func normalize(x *fmap, mean [3]float64) *fmap {
	y := newMap(x.H, x.W, 3)
	m := [3]float32{float32(mean[0]), float32(mean[1]), float32(mean[2])}
	for i, v := range x.D {
		y.D[i] = (v - m[i%3]) / 255
	}
	return y
}

// Point is a position in pixels.
type Point struct{ X, Y float64 }

// Rect is an axis-aligned box in pixels (or relative units): top-left
// corner and size.
type Rect struct{ X, Y, W, H float64 }

// Right returns the right edge x + w.
func (r Rect) Right() float64 { return r.X + r.W }

// Bottom returns the bottom edge y + h.
func (r Rect) Bottom() float64 { return r.Y + r.H }

// Area returns w*h.
func (r Rect) Area() float64 { return r.W * r.H }

// clipFloor clips r to a w x h image and floors it, as face-api's
// Box.clipAtImageBorders. The result may be empty.
func (r Rect) clipFloor(w, h int) (x, y, cw, ch int) {
	cx := math.Max(r.X, 0)
	cy := math.Max(r.Y, 0)
	nw := math.Min(r.Right()-cx, float64(w)-cx)
	nh := math.Min(r.Bottom()-cy, float64(h)-cy)
	return int(math.Floor(cx)), int(math.Floor(cy)), int(math.Floor(nw)), int(math.Floor(nh))
}

// cut returns the part of m inside r (clipped and floored like face-api's
// extractFaceTensors), or an error if nothing is left.
func (m *Image) cut(r Rect) (*Image, error) {
	x, y, w, h := r.clipFloor(m.W, m.H)
	if w <= 0 || h <= 0 || x >= m.W || y >= m.H {
		return nil, fmt.Errorf("faceapi: box %+v lies outside the %dx%d image", r, m.W, m.H)
	}
	w = min(w, m.W-x)
	h = min(h, m.H-y)
	return m.Crop(x, y, w, h), nil
}
