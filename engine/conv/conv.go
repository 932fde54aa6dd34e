// Package conv computes 2-D convolutions (cross-correlations, as PyTorch's
// conv2d) of NCHW float32 data with zero padding, and their gradients.
package conv

// Shape describes a convolution: input N x Cin x H x W, weights
// Cout x Cin x K x K, the given stride and zero padding on every side.
type Shape struct {
	N, Cin, H, W int
	Cout, K      int
	Stride, Pad  int
}

// Out returns the output height and width.
func (s Shape) Out() (ho, wo int) {
	return (s.H+2*s.Pad-s.K)/s.Stride + 1, (s.W+2*s.Pad-s.K)/s.Stride + 1
}

// Forward sets y = conv(x, w) + bias. bias may be nil.
func Forward(s Shape, x, w, bias, y []float32) {
	ho, wo := s.Out()
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					var acc float32
					for ci := 0; ci < s.Cin; ci++ {
						for ky := 0; ky < s.K; ky++ {
							iy := oy*s.Stride + ky - s.Pad
							if iy < 0 || iy >= s.H {
								continue
							}
							for kx := 0; kx < s.K; kx++ {
								ix := ox*s.Stride + kx - s.Pad
								if ix < 0 || ix >= s.W {
									continue
								}
								acc += x[((n*s.Cin+ci)*s.H+iy)*s.W+ix] * w[((co*s.Cin+ci)*s.K+ky)*s.K+kx]
							}
						}
					}
					if bias != nil {
						acc += bias[co]
					}
					y[((n*s.Cout+co)*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
}

// BackwardData adds the gradient with respect to x, given dy, into dx.
func BackwardData(s Shape, dy, w, dx []float32) {
	ho, wo := s.Out()
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					g := dy[((n*s.Cout+co)*ho+oy)*wo+ox]
					for ci := 0; ci < s.Cin; ci++ {
						for ky := 0; ky < s.K; ky++ {
							iy := oy*s.Stride + ky - s.Pad
							if iy < 0 || iy >= s.H {
								continue
							}
							for kx := 0; kx < s.K; kx++ {
								ix := ox*s.Stride + kx - s.Pad
								if ix < 0 || ix >= s.W {
									continue
								}
								dx[((n*s.Cin+ci)*s.H+iy)*s.W+ix] += g * w[((co*s.Cin+ci)*s.K+ky)*s.K+kx]
							}
						}
					}
				}
			}
		}
	}
}

// BackwardWeight adds the gradients with respect to w and bias, given x and
// dy, into dw and db. db may be nil.
func BackwardWeight(s Shape, x, dy, dw, db []float32) {
	ho, wo := s.Out()
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					g := dy[((n*s.Cout+co)*ho+oy)*wo+ox]
					if db != nil {
						db[co] += g
					}
					for ci := 0; ci < s.Cin; ci++ {
						for ky := 0; ky < s.K; ky++ {
							iy := oy*s.Stride + ky - s.Pad
							if iy < 0 || iy >= s.H {
								continue
							}
							for kx := 0; kx < s.K; kx++ {
								ix := ox*s.Stride + kx - s.Pad
								if ix < 0 || ix >= s.W {
									continue
								}
								dw[((co*s.Cin+ci)*s.K+ky)*s.K+kx] += g * x[((n*s.Cin+ci)*s.H+iy)*s.W+ix]
							}
						}
					}
				}
			}
		}
	}
}
