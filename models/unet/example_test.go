package unet_test

import (
	"fmt"
	"os"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/models/unet"
	"github.com/degradiff/degradiff/rng"
)

// A fresh model predicts noise for an image of any size.
func ExampleModel_Predict() {
	m, err := unet.New(unet.TinyConfig(), rng.New(1, "unet init"))
	if err != nil {
		panic(err)
	}
	x := tensor.New(1, 3, 37, 29) // not a multiple of 4: padded and cropped back
	eps := m.Predict(x, []float32{500})
	fmt.Println(m.NumParams(), "parameters; output", eps.Shape)
	// Output: 1113955 parameters; output [1 3 37 29]
}

// One training step's gradient: Forward on a recording graph, a loss, and
// Backward.
func ExampleModel_Forward() {
	m := unet.MustNew(unet.TinyConfig(), rng.New(1, "unet init"))
	g := ag.NewGraph(true)
	x := ag.Const(tensor.New(2, 3, 32, 32))
	noise := ag.Const(tensor.Full(0.5, 2, 3, 32, 32))
	loss := g.MSE(m.Forward(g, x, []float32{10, 900}), noise)
	g.Backward(loss)
	fmt.Println(m.Param("conv_out.weight").Grad.Shape)
	// Output: [3 32 3 3]
}

// Save writes a diffusers folder that Load (and diffusers'
// DDPMPipeline.from_pretrained) reads back.
func ExampleSave() {
	dir, err := os.MkdirTemp("", "unet-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	m := unet.MustNew(unet.TinyConfig(), rng.New(1, "unet init"))
	if err := unet.Save(dir, m, safetensors.F16); err != nil {
		panic(err)
	}
	if err := unet.WritePipeline(dir, nil); err != nil {
		panic(err)
	}
	back, err := unet.Load(dir)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.NumParams(), len(back.Source.SchedulerConfig) > 0)
	// Output: 1113955 true
}
