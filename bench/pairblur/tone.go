package main

import (
	"math"

	"github.com/degradiff/degradiff/raster"
)

// toneFit is how much of the misfit between the blur+bicubic images and
// the real LR images is global tone: a brightness offset or a contrast
// gain per image, which no blur or noise explains.
type toneFit struct {
	Sigma float64
	// Offset is the mean over pairs of each pair's mean Y of the real LR
	// image minus that of the degraded HR image; OffsetSD its standard
	// deviation over pairs, AbsOffset the mean of its absolute value.
	Offset, OffsetSD, AbsOffset float64
	// ChannelOffset is Offset for R, G and B.
	ChannelOffset [3]float64
	// Gain is the mean over pairs of the least-squares gain of real Y on
	// degraded Y (with an offset).
	Gain float64
	// PSNR is the plain mean Y-PSNR; Shifted after removing each pair's
	// offset; Linear after each pair's least-squares gain and offset.
	PSNR, Shifted, Linear float64

	n        int
	offsetSq float64 // sum of squared offsets, for OffsetSD
}

// lumaPlane returns the BT.601 luma (0..255) of a 3-plane image in [0, 1],
// rounded to 8 bits first, without a border of b pixels.
func lumaPlane(m *raster.Image, b int) []float64 {
	h, w := m.H-2*b, m.W-2*b
	out := make([]float64, 0, h*w)
	for y := b; y < m.H-b; y++ {
		for x := b; x < m.W-b; x++ {
			r, g, bl := float64(raster.To8(m.At(0, y, x))), float64(raster.To8(m.At(1, y, x))), float64(raster.To8(m.At(2, y, x)))
			out = append(out, 16+(65.481*r+128.553*g+24.966*bl)/255)
		}
	}
	return out
}

// channelMean returns the mean of plane c (0..255) without a border of b.
func channelMean(m *raster.Image, c, b int) float64 {
	s, n := 0.0, 0
	for y := b; y < m.H-b; y++ {
		for x := b; x < m.W-b; x++ {
			s += float64(raster.To8(m.At(c, y, x)))
			n++
		}
	}
	return s / float64(n)
}

func psnrOf(mse float64) float64 { return 10 * math.Log10(255*255/mse) }

// add accumulates one pair: lq is the degraded HR image, lr the real one.
func (f *toneFit) add(lq, lr *raster.Image, border int) {
	a, b := lumaPlane(lq, border), lumaPlane(lr, border)
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/n, mb/n
	var sab, saa, raw, shifted float64
	d := mb - ma
	for i := range a {
		e := b[i] - a[i]
		raw += e * e
		shifted += (e - d) * (e - d)
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
	}
	gain := 1.0
	if saa > 0 {
		gain = sab / saa
	}
	var linear float64
	for i := range a {
		e := b[i] - (mb + gain*(a[i]-ma))
		linear += e * e
	}
	f.PSNR += psnrOf(raw / n)
	f.Shifted += psnrOf(shifted / n)
	f.Linear += psnrOf(linear / n)
	f.Offset += d
	f.offsetSq += d * d
	f.AbsOffset += math.Abs(d)
	f.Gain += gain
	if lq.C == 3 {
		for c := 0; c < 3; c++ {
			f.ChannelOffset[c] += channelMean(lr, c, border) - channelMean(lq, c, border)
		}
	}
	f.n++
}

// finish turns the sums into means.
func (f *toneFit) finish() {
	n := float64(f.n)
	if n == 0 {
		return
	}
	f.Offset /= n
	f.OffsetSD = math.Sqrt(max(f.offsetSq/n-f.Offset*f.Offset, 0) * n / max(n-1, 1))
	f.AbsOffset /= n
	f.Gain /= n
	f.PSNR /= n
	f.Shifted /= n
	f.Linear /= n
	for c := range f.ChannelOffset {
		f.ChannelOffset[c] /= n
	}
}
