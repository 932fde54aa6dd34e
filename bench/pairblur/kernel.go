package main

import (
	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/raster"
)

// kernelFit is the least-squares linear filter, in LR pixels, that maps
// each pair's HR image downscaled without blur (MATLAB bicubic) to its
// real LR image, with an offset, over all pairs and channels together
// (package response). Unlike the Gaussian sweep it assumes no shape: its
// frequency response shows which frequencies the cameras keep and which
// they lose, next to the filter that maps the same downscaled images to
// Gaussian-blurred ones (Reference).
type kernelFit struct {
	*response.Filter
	// PSNR is the Y-PSNR of the filtered images against the real LR
	// images (mean over pairs; border of the scale left out, like the
	// sweep), Plain the same without the filter.
	PSNR, Plain float64
}

// fitKernels fits one filter from the downscaled HR images to each set of
// targets (the real LR images, the Gaussian-blurred ones, a degradation's
// LR images: targets[k][i] belongs to down[i]), then measures each fit's
// Y-PSNR.
func fitKernels(size, border int, down []*raster.Image, targets ...[]*raster.Image) ([]*kernelFit, error) {
	fits := make([]*kernelFit, len(targets))
	fo := fidelity.Options{CropBorder: border, TestY: true}
	for k, images := range targets {
		e, err := response.NewFitter(size)
		if err != nil {
			return nil, err
		}
		for i := range down {
			if err := e.Add(down[i], images[i], border); err != nil {
				return nil, err
			}
		}
		f := &kernelFit{}
		if f.Filter, err = e.Solve(); err != nil {
			return nil, err
		}
		for i := range down {
			f.PSNR += fidelity.PSNR(f.Apply(down[i]), images[i], fo) / float64(len(down))
			f.Plain += fidelity.PSNR(down[i], images[i], fo) / float64(len(down))
		}
		fits[k] = f
	}
	return fits, nil
}
