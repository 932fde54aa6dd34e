// Package srtest scores a super-resolution method on a folder of test
// pairs: PSNR and SSIM (package fidelity) of each super-resolved LR image
// against its HR image, with BasicSR's conventions (the scale cropped from
// the border, the Y channel by default). degradiff sr test and the bench
// score networks with it.
package srtest

import (
	"context"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
)

// Options configures Run.
type Options struct {
	// Scale is the super-resolution factor, also the border cropped.
	Scale int
	// RGB compares the RGB planes instead of the Y channel.
	RGB bool
	// Baseline also scores Bicubic upscaling.
	Baseline bool
	// Each, when set, is called with every super-resolved image (to save
	// it); an error stops the run.
	Each func(i int, pair pairread.Pair, sr *raster.Image) error
	// Done, when set, is called after each pair (a progress bar).
	Done func()
}

// Score is the measure of one pair; the Bicubic ones are set with
// Options.Baseline.
type Score struct {
	Name                     string
	PSNR, SSIM               float64
	BicubicPSNR, BicubicSSIM float64
}

// Bicubic upscales lr by scale (degrade/resize's bicubic, A = -0.75),
// clamped to [0, 1]: the baseline of every network.
func Bicubic(lr *raster.Image, scale int) *raster.Image {
	return resize.Interpolate(lr, lr.H*scale, lr.W*scale, resize.Bicubic).Clamp()
}

// Fidelity returns the fidelity options of Options.
func (o Options) Fidelity() fidelity.Options {
	return fidelity.Options{CropBorder: o.Scale, TestY: !o.RGB}
}

// Run super-resolves the LR image of every pair of set with sr and scores
// it, in pair order. A cancelled ctx stops it with ctx's error.
func Run(ctx context.Context, set *pairread.Set, sr func(lr *raster.Image) *raster.Image, opt Options) ([]Score, error) {
	fo := opt.Fidelity()
	scores := make([]Score, 0, set.Len())
	for i, p := range set.Pairs {
		if err := ctx.Err(); err != nil {
			return scores, err
		}
		hr, lr, err := set.Load(i)
		if err != nil {
			return scores, err
		}
		out := sr(lr)
		sc := Score{Name: p.Name, PSNR: fidelity.PSNR(out, hr, fo), SSIM: fidelity.SSIM(out, hr, fo)}
		if opt.Baseline {
			up := Bicubic(lr, opt.Scale)
			sc.BicubicPSNR, sc.BicubicSSIM = fidelity.PSNR(up, hr, fo), fidelity.SSIM(up, hr, fo)
		}
		scores = append(scores, sc)
		if opt.Each != nil {
			if err := opt.Each(i, p, out); err != nil {
				return scores, err
			}
		}
		if opt.Done != nil {
			opt.Done()
		}
	}
	return scores, nil
}
