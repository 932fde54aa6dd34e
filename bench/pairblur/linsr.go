package main

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/pairset/pairread"
	"github.com/degradiff/degradiff/raster"
)

// linearSR fits one linear upscaler (response.Upscaler, the simplest
// restorer a source can train) to the real LR images and one to each
// degradation's, a stand-in for the SR bench's networks. It fits one upscaler to the pairs' real LR images (the ceiling, fit
// and measured on the same pairs) and one to each degradation's LR images
// of their HR images (draws variants each), then returns the mean Y-PSNR
// of each upscaler on the real LR images against the HR images: real
// first, then the degradations in order.
func linearSR(set *pairread.Set, pipes []degrade.Pipeline, names []string, draws int, seed uint64, size int) ([]float64, error) {
	ups := make([]*response.Upscaler, len(pipes)+1)
	for j := range ups {
		var err error
		if ups[j], err = response.NewUpscaler(size, set.Scale); err != nil {
			return nil, err
		}
	}
	for i := 0; i < set.Len(); i++ {
		pair := set.Pairs[i]
		hr, lr, err := set.Load(i)
		if err != nil {
			return nil, err
		}
		if err := ups[0].Add(lr, hr); err != nil {
			return nil, fmt.Errorf("%s: %w", pair.HRPath, err)
		}
		for j, p := range pipes {
			err := eachVariant(p, hr, seed, pair.Name, draws, func(_ int, lq *raster.Image) error { return ups[j+1].Add(lq, hr) })
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", pair.HRPath, names[j], err)
			}
		}
	}
	for _, u := range ups {
		if err := u.Solve(); err != nil {
			return nil, err
		}
	}
	out := make([]float64, len(ups))
	for i := 0; i < set.Len(); i++ {
		hr, lr, err := set.Load(i)
		if err != nil {
			return nil, err
		}
		for j, u := range ups {
			out[j] += u.PSNR(lr, hr, set.Scale) / float64(set.Len())
		}
	}
	return out, nil
}
