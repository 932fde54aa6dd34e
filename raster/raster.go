// Package raster defines the float32 planar image that degradiff's image
// operations work on.
//
// An Image holds C planes of H rows of W values, nominally in [0, 1]
// (operations such as bicubic resizing or noise may leave values outside;
// clamping is explicit). Colour images are RGB in that plane order.
package raster

import (
	"fmt"
	"math"
)

// Image is a planar float32 image: Pix[c*H*W + y*W + x].
type Image struct {
	C, H, W int
	Pix     []float32
}

// New returns a zeroed image with c planes of h x w.
func New(c, h, w int) *Image {
	if c <= 0 || h <= 0 || w <= 0 {
		panic(fmt.Sprintf("raster.New: invalid size %dx%dx%d", c, h, w))
	}
	return &Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
}

// Plane returns the values of plane c (shared, not copied).
func (m *Image) Plane(c int) []float32 {
	n := m.H * m.W
	return m.Pix[c*n : (c+1)*n]
}

// At returns the value of plane c at (x, y).
func (m *Image) At(c, y, x int) float32 { return m.Pix[(c*m.H+y)*m.W+x] }

// Set sets the value of plane c at (x, y).
func (m *Image) Set(c, y, x int, v float32) { m.Pix[(c*m.H+y)*m.W+x] = v }

// Clone returns a deep copy of m.
func (m *Image) Clone() *Image {
	return &Image{C: m.C, H: m.H, W: m.W, Pix: append([]float32(nil), m.Pix...)}
}

// Clamp limits every value to [0, 1] in place and returns m.
func (m *Image) Clamp() *Image {
	for i, v := range m.Pix {
		if v < 0 {
			m.Pix[i] = 0
		} else if v > 1 {
			m.Pix[i] = 1
		} else if v != v { // NaN
			m.Pix[i] = 0
		}
	}
	return m
}

// Round quantises every value to the nearest multiple of 1/255, rounding
// x*255 half to even like torch.round, as BasicSR does between degradation
// stages. It clamps to [0, 1] first.
func (m *Image) Round() *Image {
	m.Clamp()
	for i, v := range m.Pix {
		m.Pix[i] = float32(math.RoundToEven(float64(v)*255)) / 255
	}
	return m
}

// To8 returns v as an 8-bit level the way BasicSR's tensor2img and
// cv2.imencode store a float image: clamped to [0, 1], multiplied by 255 in
// float32 and rounded half to even. NaN gives 0.
func To8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.RoundToEven(float64(v * 255)))
}

// Crop returns a copy of the rectangle [y0, y0+h) x [x0, x0+w) of m.
func (m *Image) Crop(y0, x0, h, w int) *Image {
	if y0 < 0 || x0 < 0 || h <= 0 || w <= 0 || y0+h > m.H || x0+w > m.W {
		panic(fmt.Sprintf("raster.Crop: box (y %d, x %d, %dx%d) outside %dx%d image", y0, x0, h, w, m.H, m.W))
	}
	out := New(m.C, h, w)
	for c := 0; c < m.C; c++ {
		for y := 0; y < h; y++ {
			src := m.Pix[(c*m.H+y0+y)*m.W+x0:]
			copy(out.Pix[(c*h+y)*w:(c*h+y+1)*w], src[:w])
		}
	}
	return out
}

// SameSize reports whether a and b have the same planes and dimensions.
func SameSize(a, b *Image) bool { return a.C == b.C && a.H == b.H && a.W == b.W }
