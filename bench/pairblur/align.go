package main

import (
	"math"
	"sort"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/raster"
)

// alignFit is the blur sweep again, with each pair's degraded image also
// shifted by whole HR pixels (up to MaxShift each way) to where it fits
// the real LR image best. A least-squares blur fit absorbs misregistration:
// averaging over a wider kernel hides a sub-pixel shift, so the sigma that
// explains misregistered pairs is wider than the lens's. Comparing the two
// sweeps tells how much of the fitted blur is the registration's.
type alignFit struct {
	MaxShift int
	// Sigmas holds, per sigma, the mean over pairs of the Y-PSNR at that
	// pair's best shift for the sigma.
	Sigmas []fit
	// BestSigmas is each pair's best sigma over sigmas and shifts
	// (sorted); Shifts the shift (dx, dy, HR px) at each pair's best,
	// in pair order.
	BestSigmas []float64
	Shifts     [][2]int
	// Unshifted counts the pairs whose best shift is (0, 0).
	Unshifted int
}

// newAlignFit prepares the aligned sweep over sigmas.
func newAlignFit(maxShift int, sigmas []float64) *alignFit {
	a := &alignFit{MaxShift: maxShift, Sigmas: make([]fit, len(sigmas))}
	for j, s := range sigmas {
		a.Sigmas[j].Sigma = s
	}
	return a
}

// margin is the HR border left out of the comparison so that every shift
// stays inside the image: MaxShift rounded up to whole LR pixels.
func (a *alignFit) margin(scale int) int {
	return (a.MaxShift + scale - 1) / scale * scale
}

// add sweeps one pair: hr its HR image, lr the real LR image, lrLow the
// real LR image low-passed by lowPass; weight the pair's share of the mean.
func (a *alignFit) add(hr, lr, lrLow *raster.Image, scale int, lowPass blur.Kernel, weight float64) {
	m := a.margin(scale)
	h, w := hr.H-2*m, hr.W-2*m
	// The real LR images are cropped to the LR pixels the shifted HR
	// crops map to; the low-passed one before cropping, like the plain
	// sweep's.
	lrCrop := lr.Crop(m/scale, m/scale, h/scale, w/scale)
	lrLowCrop := lrLow.Crop(m/scale, m/scale, h/scale, w/scale)
	fo := fidelity.Options{CropBorder: scale, TestY: true}
	bestSigma, bestPSNR, bestShift := 0.0, math.Inf(-1), [2]int{}
	for j := range a.Sigmas {
		s := a.Sigmas[j].Sigma
		blurred := hr
		if s > 0 {
			blurred = blur.Filter2D(hr, blur.FspecialGaussian(2*int(4*s+0.5)+1, s))
		}
		sigmaBest, sigmaShift := math.Inf(-1), [2]int{}
		var sigmaLQ *raster.Image
		for dy := -a.MaxShift; dy <= a.MaxShift; dy++ {
			for dx := -a.MaxShift; dx <= a.MaxShift; dx++ {
				lq := resize.Imresize(blurred.Crop(m+dy, m+dx, h, w), 1/float64(scale), true).Round()
				if p := fidelity.PSNR(lq, lrCrop, fo); p > sigmaBest {
					sigmaBest, sigmaShift, sigmaLQ = p, [2]int{dx, dy}, lq
				}
			}
		}
		f := &a.Sigmas[j]
		f.PSNR += sigmaBest * weight
		f.LowPSNR += fidelity.PSNR(blur.Filter2D(sigmaLQ, lowPass), lrLowCrop, fo) * weight
		if sigmaBest > bestPSNR {
			bestSigma, bestPSNR, bestShift = s, sigmaBest, sigmaShift
		}
	}
	a.BestSigmas = append(a.BestSigmas, bestSigma)
	a.Shifts = append(a.Shifts, bestShift)
	if bestShift == [2]int{} {
		a.Unshifted++
	}
}

// finish sorts the best sigmas.
func (a *alignFit) finish() { sort.Float64s(a.BestSigmas) }
