package blur_test

import (
	"encoding/json"
	"fmt"

	"github.com/degradiff/degradiff/degrade/blur"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// A sampled kernel is logged as JSON and rebuilt from the log alone.
func ExampleBuild() {
	spec := blur.Spec{
		KernelList: []string{"iso", "aniso"},
		KernelProb: []float64{0.5, 0.5},
		BlurSigma:  [2]float64{0.2, 3},
		BetagRange: [2]float64{0.5, 4},
		BetapRange: [2]float64{1, 2},
		SincProb:   0.1,
	}
	k, p, err := spec.Sample(rng.New(42, "image_0001.png", "kernel1"))
	if err != nil {
		panic(err)
	}
	line, _ := json.Marshal(p) // into the manifest

	var logged blur.Params
	if err := json.Unmarshal(line, &logged); err != nil {
		panic(err)
	}
	again, err := blur.Build(logged)
	if err != nil {
		panic(err)
	}
	same := again.Size == k.Size
	for i := range k.W {
		same = same && again.W[i] == k.W[i]
	}
	fmt.Println(k.Size, same)
	// Output: 21 true
}

// Filtering with the identity pulse leaves the image unchanged; a box
// kernel averages the 3x3 neighbourhood with mirrored borders.
func ExampleFilter2D() {
	img := &raster.Image{C: 1, H: 1, W: 4, Pix: []float32{0, 3, 6, 9}}
	box := blur.NewKernel(3)
	for i := range box.W {
		box.W[i] = 1.0 / 9
	}
	fmt.Println(blur.Filter2D(img, blur.Pulse(21)).Pix)
	// The single row reflects onto itself: each output is the mean of
	// x-1, x, x+1 with index -1 -> 1 and 4 -> 2.
	fmt.Printf("%.3f\n", blur.Filter2D(img, box).Pix)
	// Output:
	// [0 3 6 9]
	// [2.000 3.000 6.000 7.000]
}
