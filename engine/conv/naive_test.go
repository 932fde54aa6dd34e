package conv

// The straightforward loops, kept as the test oracle.

// naiveForward sets y = conv(x, w) + bias. bias may be nil.
func naiveForward(s Shape, x, w, bias, y []float32) {
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

// naiveBackwardData adds the gradient with respect to x, given dy, into dx.
func naiveBackwardData(s Shape, dy, w, dx []float32) {
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

// naiveBackwardWeight adds the gradients with respect to w and bias, given x and
// dy, into dw and db. db may be nil.
func naiveBackwardWeight(s Shape, x, dy, dw, db []float32) {
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
