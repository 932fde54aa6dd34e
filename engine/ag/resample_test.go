package ag_test

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

func TestUpsampleNearest2x(t *testing.T) {
	for _, s := range [][]int{{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 2, 4, 3}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			x := agtest.Random(1, s...)
			got := ag.NewGraph(false).UpsampleNearest2x(ag.Const(x)).Value
			n, c, h, w := s[0], s[1], s[2], s[3]
			want := tensor.New(n, c, 2*h, 2*w)
			for p := 0; p < n*c; p++ {
				for oy := 0; oy < 2*h; oy++ {
					for ox := 0; ox < 2*w; ox++ {
						// PyTorch nearest: src = floor(dst * in/out).
						want.Data[(p*2*h+oy)*2*w+ox] = x.Data[(p*h+oy/2)*w+ox/2]
					}
				}
			}
			if !tensor.SameShape(got.Shape, want.Shape) || tensor.MaxAbsDiff(got, want) != 0 {
				t.Fatalf("got %v, want %v", got, want)
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.UpsampleNearest2x(in[0]) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-3})
		})
	}
}

func TestAvgPool2d(t *testing.T) {
	for _, c := range []struct {
		shape []int
		k     int
	}{
		{[]int{1, 2, 4, 4}, 2},
		{[]int{2, 3, 5, 7}, 2}, // odd sizes: last row and column dropped
		{[]int{1, 1, 7, 8}, 3},
		{[]int{1, 2, 3, 3}, 1},
		{[]int{1, 1, 6, 6}, 6},
	} {
		t.Run(fmt.Sprintf("%v_k%d", c.shape, c.k), func(t *testing.T) {
			x := agtest.Random(1, c.shape...)
			got := ag.NewGraph(false).AvgPool2d(ag.Const(x), c.k).Value
			n, ch, h, w, k := c.shape[0], c.shape[1], c.shape[2], c.shape[3], c.k
			ho, wo := h/k, w/k
			want := tensor.New(n, ch, ho, wo)
			for p := 0; p < n*ch; p++ {
				for oy := 0; oy < ho; oy++ {
					for ox := 0; ox < wo; ox++ {
						s := 0.0
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								s += float64(x.Data[(p*h+oy*k+ky)*w+ox*k+kx])
							}
						}
						want.Data[(p*ho+oy)*wo+ox] = float32(s / float64(k*k))
					}
				}
			}
			if !tensor.SameShape(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			if d := tensor.MaxAbsDiff(got, want); d > 1e-6 {
				t.Errorf("max |pool - naive| = %.3g, want <= 1e-6", d)
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.AvgPool2d(in[0], k) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-3})
		})
	}
	expectShapeError(t, "AvgPool2d", func() { ag.NewGraph(false).AvgPool2d(ag.Const(tensor.New(1, 1, 2, 5)), 3) })
}

// pixelShuffleRef is PyTorch's pixel_shuffle written out as its view and
// permute: [N, C, r, r, H, W] -> permute(0, 1, 4, 2, 5, 3) -> [N, C, H*r, W*r].
func pixelShuffleRef(x *tensor.Tensor, r int) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1]/(r*r), x.Shape[2], x.Shape[3]
	y := tensor.New(n, c, h*r, w*r)
	i := 0
	// Iterate the output in order over the permuted axes (n, c, h, i, w, j).
	for a := 0; a < n; a++ {
		for b := 0; b < c; b++ {
			for hh := 0; hh < h; hh++ {
				for ii := 0; ii < r; ii++ {
					for ww := 0; ww < w; ww++ {
						for jj := 0; jj < r; jj++ {
							y.Data[i] = x.Data[((((a*c+b)*r+ii)*r+jj)*h+hh)*w+ww]
							i++
						}
					}
				}
			}
		}
	}
	return y
}

// pixelUnshuffleRef is PyTorch's pixel_unshuffle written out: [N, C, H, r,
// W, r] -> permute(0, 1, 3, 5, 2, 4) -> [N, C*r*r, H, W].
func pixelUnshuffleRef(x *tensor.Tensor, r int) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2]/r, x.Shape[3]/r
	y := tensor.New(n, c*r*r, h, w)
	i := 0
	for a := 0; a < n; a++ {
		for b := 0; b < c; b++ {
			for ii := 0; ii < r; ii++ {
				for jj := 0; jj < r; jj++ {
					for hh := 0; hh < h; hh++ {
						for ww := 0; ww < w; ww++ {
							y.Data[i] = x.Data[((((a*c+b)*h+hh)*r+ii)*w+ww)*r+jj]
							i++
						}
					}
				}
			}
		}
	}
	return y
}

func TestPixelShuffle(t *testing.T) {
	for _, c := range []struct {
		shape []int // of the low-resolution tensor [N, C*r*r, H, W]
		r     int
	}{
		{[]int{1, 4, 2, 3}, 2},
		{[]int{2, 18, 3, 2}, 3},
		{[]int{1, 3, 2, 2}, 1},
		{[]int{1, 32, 3, 5}, 4},
	} {
		t.Run(fmt.Sprintf("%v_r%d", c.shape, c.r), func(t *testing.T) {
			r := c.r
			x := agtest.Random(1, c.shape...)
			up := ag.NewGraph(false).PixelShuffle(ag.Const(x), r).Value
			want := pixelShuffleRef(x, r)
			if !tensor.SameShape(up.Shape, want.Shape) || tensor.MaxAbsDiff(up, want) != 0 {
				t.Fatalf("PixelShuffle: got %v, want %v", up, want)
			}
			down := ag.NewGraph(false).PixelUnshuffle(ag.Const(up), r).Value
			if wantDown := pixelUnshuffleRef(up, r); !tensor.SameShape(down.Shape, wantDown.Shape) || tensor.MaxAbsDiff(down, wantDown) != 0 {
				t.Fatalf("PixelUnshuffle: got %v, want %v", down, wantDown)
			}
			if tensor.MaxAbsDiff(down, x) != 0 {
				t.Fatalf("PixelUnshuffle(PixelShuffle(x)) != x")
			}
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelShuffle(in[0], r) },
				[]*tensor.Tensor{x}, agtest.Options{Tol: 1e-3})
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelUnshuffle(in[0], r) },
				[]*tensor.Tensor{up}, agtest.Options{Tol: 1e-3})
		})
	}
	expectShapeError(t, "PixelShuffle", func() { ag.NewGraph(false).PixelShuffle(ag.Const(tensor.New(1, 6, 2, 2)), 2) })
	expectShapeError(t, "PixelUnshuffle", func() { ag.NewGraph(false).PixelUnshuffle(ag.Const(tensor.New(1, 1, 4, 5)), 2) })
}

func TestResampleDeterministic(t *testing.T) {
	x := []*tensor.Tensor{agtest.Random(5, 2, 8, 33, 65)}
	for name, f := range map[string]agtest.Func{
		"UpsampleNearest2x": func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.UpsampleNearest2x(in[0]) },
		"AvgPool2d":         func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.AvgPool2d(in[0], 3) },
		"PixelShuffle":      func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelShuffle(in[0], 2) },
		"PixelUnshuffle":    func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.PixelUnshuffle(g.UpsampleNearest2x(in[0]), 2) },
	} {
		t.Run(name, func(t *testing.T) { bitIdenticalAtProcs(t, f, x) })
	}
}

func ExampleGraph_PixelShuffle() {
	g := ag.NewGraph(false)
	// Four channels of one pixel become one channel of 2x2 pixels.
	x := ag.Const(tensor.FromData([]float32{0, 1, 2, 3}, 1, 4, 1, 1))
	y := g.PixelShuffle(x, 2)
	fmt.Println(y.Shape(), y.Value.Data)
	fmt.Println(g.PixelUnshuffle(y, 2).Value.Data)
	// Output:
	// [1 1 2 2] [0 1 2 3]
	// [0 1 2 3]
}
