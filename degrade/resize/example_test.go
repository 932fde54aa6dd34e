package resize_test

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/raster"
)

// Real-ESRGAN's first-stage resize: a random mode by name and a scale
// factor; the output side is floor(in·factor).
func ExampleScale() {
	mode, err := resize.ParseMode("bicubic")
	if err != nil {
		panic(err)
	}
	img := raster.New(3, 512, 512)
	out := resize.Scale(img, 0.37, mode)
	fmt.Println(mode, out.H, out.W)
	// Output: bicubic 189 189
}

// Area resizing to an integer fraction of the size averages blocks.
func ExampleInterpolate() {
	img := &raster.Image{C: 1, H: 2, W: 4, Pix: []float32{
		1, 2, 3, 4,
		5, 6, 7, 8,
	}}
	fmt.Println(resize.Interpolate(img, 1, 2, resize.Area).Pix)
	// Output: [3.5 5.5]
}
