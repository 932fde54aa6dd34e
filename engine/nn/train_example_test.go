package nn_test

import (
	"fmt"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// trainToyNet trains a two-layer conv net to reproduce a 3x3 box blur and
// returns the loss before and after.
func trainToyNet(steps int) (first, last float64) {
	r := rng.New(1, "toy")
	conv1 := nn.NewConv2d("conv1", 1, 8, 3, 1, 1, true, r)
	conv2 := nn.NewConv2d("conv2", 8, 1, 3, 1, 1, true, r)
	params := nn.Collect(conv1, conv2)
	opt, _ := optim.NewAdamW(params, optim.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	g := ag.NewGraph(true)
	x := tensor.New(8, 1, 12, 12)
	y := tensor.New(8, 1, 12, 12)
	for step := 0; step < steps; step++ {
		data := rng.New(2, "batch", fmt.Sprint(step))
		for i := range x.Data {
			x.Data[i] = float32(data.Float64())
		}
		blur(x, y)
		g.Reset()
		pred := conv2.Forward(g, g.SiLU(conv1.Forward(g, ag.Const(x))))
		loss := g.MSE(pred, ag.Const(y))
		if step == 0 {
			first = float64(loss.Value.Data[0])
		}
		last = float64(loss.Value.Data[0])
		g.Backward(loss)
		opt.Step()
		ag.ZeroGrad(params)
	}
	return first, last
}

// blur writes the 3x3 box blur (zero padding) of x into y.
func blur(x, y *tensor.Tensor) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	for b := 0; b < n; b++ {
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				s := float32(0)
				for di := -1; di <= 1; di++ {
					for dj := -1; dj <= 1; dj++ {
						if ii, jj := i+di, j+dj; ii >= 0 && ii < h && jj >= 0 && jj < w {
							s += x.Data[(b*h+ii)*w+jj]
						}
					}
				}
				y.Data[(b*h+i)*w+j] = s / 9
			}
		}
	}
}

// Example_train trains a small convolutional network end to end with the
// engine: layers, autograd, and AdamW.
func Example_train() {
	first, last := trainToyNet(300)
	fmt.Printf("loss fell below 1%% of its start: %v\n", last < first/100)
	// Output: loss fell below 1% of its start: true
}

func TestToyNetLearns(t *testing.T) {
	first, last := trainToyNet(300)
	// The blur is exactly representable by the net: after 300 steps the
	// loss must be below 1e-3 of an initial loss of about 0.05-0.3.
	if !(last < 1e-3) || !(last < first/100) {
		t.Fatalf("loss %.4g -> %.4g: the toy net did not learn", first, last)
	}
}
