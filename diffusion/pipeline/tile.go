package pipeline

import (
	"math"

	"github.com/degradiff/degradiff/engine/tensor"
)

// Tiled wraps a denoiser so that it runs over overlapping tile x tile
// windows of its input and blends their predictions with a smooth window
// (a raised cosine over the overlap), which keeps memory bounded on large
// images. Because every denoising step blends the tiles' predictions, the
// sample stays consistent across tile borders and no seam builds up.
func Tiled(model Denoiser, tile, overlap int) Denoiser {
	return func(x *tensor.Tensor, t []float32) *tensor.Tensor {
		n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		if h <= tile && w <= tile {
			return model(x, t)
		}
		ys, xs := tileStarts(h, tile, overlap), tileStarts(w, tile, overlap)
		th, tw := min(tile, h), min(tile, w)
		out := tensor.New(x.Shape...)
		weight := make([]float32, h*w)
		win := window(th, tw, overlap)
		sub := tensor.New(n, c, th, tw)
		for _, y0 := range ys {
			for _, x0 := range xs {
				for b := 0; b < n; b++ {
					for ch := 0; ch < c; ch++ {
						for y := 0; y < th; y++ {
							src := x.Data[((b*c+ch)*h+y0+y)*w+x0:]
							copy(sub.Data[((b*c+ch)*th+y)*tw:((b*c+ch)*th+y+1)*tw], src[:tw])
						}
					}
				}
				pred := model(sub, t)
				for b := 0; b < n; b++ {
					for ch := 0; ch < c; ch++ {
						for y := 0; y < th; y++ {
							dst := out.Data[((b*c+ch)*h+y0+y)*w+x0:]
							p := pred.Data[((b*c+ch)*th+y)*tw:]
							wr := win[y*tw:]
							for xx := 0; xx < tw; xx++ {
								dst[xx] += wr[xx] * p[xx]
							}
						}
					}
				}
				for y := 0; y < th; y++ {
					for xx := 0; xx < tw; xx++ {
						weight[(y0+y)*w+x0+xx] += win[y*tw+xx]
					}
				}
			}
		}
		for b := 0; b < n*c; b++ {
			plane := out.Data[b*h*w : (b+1)*h*w]
			for i := range plane {
				plane[i] /= weight[i]
			}
		}
		return out
	}
}

// tileStarts returns tile origins covering [0, n) with at least overlap
// pixels shared between neighbours, the last tile flush with the end.
func tileStarts(n, tile, overlap int) []int {
	if n <= tile {
		return []int{0}
	}
	stride := tile - overlap
	count := (n - overlap + stride - 1) / stride
	count = max(count, 2)
	starts := make([]int, count)
	for i := range starts {
		// Spread the tiles evenly so every overlap is at least overlap.
		starts[i] = int(math.Round(float64(i) * float64(n-tile) / float64(count-1)))
	}
	return starts
}

// window is the blending weight of a tile: 1 inside, a raised cosine
// falling towards (but never reaching) 0 over the outer overlap pixels.
func window(h, w, overlap int) []float32 {
	ramp := func(i, n int) float64 {
		d := min(i, n-1-i)
		if overlap <= 0 || d >= overlap {
			return 1
		}
		return 0.5 - 0.5*math.Cos(math.Pi*(float64(d)+0.5)/float64(overlap))
	}
	win := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			win[y*w+x] = float32(ramp(y, h) * ramp(x, w))
		}
	}
	return win
}
