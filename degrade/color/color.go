// Package color implements the colour degradations of GFPGAN's
// FFHQDegradationDataset on planar RGB images: conversion to grayscale,
// the per-channel colour shift (color_jitter) and the brightness, contrast,
// saturation and hue jitter in random order (color_jitter_pt) built from
// torchvision's functional tensor operations.
//
// Every random operation comes as a pair: a Sample function that draws a
// JSON-serialisable Params value from an rng.Stream, and an Apply function
// that is deterministic given the image and the Params, so a manifest line
// can reproduce the result. Arithmetic follows the float32 order of the
// PyTorch reference so that results agree with it to float32 rounding.
package color

import (
	"fmt"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Luma weights of torchvision's rgb_to_grayscale (as float32, the precision
// the reference multiplies in).
const (
	grayR float32 = 0.2989
	grayG float32 = 0.587
	grayB float32 = 0.114
)

// Gray returns the single-plane luminance of a 3-plane RGB image as
// torchvision's rgb_to_grayscale computes it: 0.2989 R + 0.587 G + 0.114 B,
// evaluated left to right in float32. A 1-plane image is copied.
func Gray(img *raster.Image) *raster.Image {
	switch img.C {
	case 1:
		return img.Clone()
	case 3:
	default:
		panic(fmt.Sprintf("color.Gray: image has %d planes, want 1 or 3", img.C))
	}
	out := raster.New(1, img.H, img.W)
	grayInto(out.Pix, img)
	return out
}

// grayInto writes the luminance of the RGB image img into dst (len H*W).
func grayInto(dst []float32, img *raster.Image) {
	n := img.H * img.W
	r, g, b := img.Pix[:n], img.Pix[n:2*n], img.Pix[2*n:3*n]
	dst = dst[:n]
	for i := range dst {
		// Explicit conversions keep each product rounded to float32, as in
		// the reference, and stop the compiler fusing them into FMAs.
		dst[i] = float32(float32(grayR*r[i])+float32(grayG*g[i])) + float32(grayB*b[i])
	}
}

// Grayscale returns a 3-plane image whose planes all hold Gray(img), like
// rgb_to_grayscale(img, num_output_channels=3).
func Grayscale(img *raster.Image) *raster.Image {
	g := Gray(img)
	out := raster.New(3, img.H, img.W)
	for c := 0; c < 3; c++ {
		copy(out.Plane(c), g.Pix)
	}
	return out
}

// GrayParams records whether the random grayscale conversion happened.
type GrayParams struct {
	Gray bool `json:"gray"`
}

// SampleGray draws the random grayscale decision of GFPGAN's "to gray" step:
// Gray is true with probability prob.
func SampleGray(s *rng.Stream, prob float64) GrayParams {
	return GrayParams{Gray: s.Float64() < prob}
}

// ApplyGray returns Grayscale(img) when p.Gray is set and a copy of img
// otherwise.
func ApplyGray(img *raster.Image, p GrayParams) *raster.Image {
	if !p.Gray {
		return img.Clone()
	}
	return Grayscale(img)
}

// ShiftParams holds the per-channel offsets of GFPGAN's color_jitter, in
// image units (the 0-255 shift divided by 255), in R, G, B plane order.
type ShiftParams struct {
	Shift [3]float64 `json:"shift"`
}

// SampleShift draws three independent offsets uniform in
// [-shift/255, shift/255], with shift on the 0-255 scale as in GFPGAN's
// color_jitter_shift option (default 20). The offsets are rounded to float32
// as the reference's astype(np.float32) does.
func SampleShift(s *rng.Stream, shift float64) ShiftParams {
	var p ShiftParams
	lim := shift / 255
	for c := range p.Shift {
		p.Shift[c] = float64(float32(s.Uniform(-lim, lim)))
	}
	return p
}

// ApplyShift adds p.Shift[c] to plane c and clips to [0, 1]. The image must
// have 3 planes.
func ApplyShift(img *raster.Image, p ShiftParams) *raster.Image {
	if img.C != 3 {
		panic(fmt.Sprintf("color.ApplyShift: image has %d planes, want 3", img.C))
	}
	out := img.Clone()
	for c := 0; c < 3; c++ {
		d := float32(p.Shift[c])
		pl := out.Plane(c)
		for i, v := range pl {
			pl[i] = clamp01(v + d)
		}
	}
	return out
}

// clamp01 limits v to [0, 1] like torch.clamp (NaN stays NaN).
func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
