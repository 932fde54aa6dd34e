package color_test

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/color"
	"github.com/degradiff/degradiff/raster"
)

func ExampleAdjustHue() {
	red := raster.New(3, 1, 1)
	red.Set(0, 0, 0, 1)
	green := color.AdjustHue(red, 1.0/3) // a third of a turn
	fmt.Printf("%.3f %.3f %.3f\n", green.At(0, 0, 0), green.At(1, 0, 0), green.At(2, 0, 0))
	// Output: 0.000 1.000 0.000
}

func ExampleApplyJitter() {
	img := raster.New(3, 1, 1)
	img.Set(0, 0, 0, 0.2)
	img.Set(1, 0, 0, 0.4)
	img.Set(2, 0, 0, 0.6)
	p := color.JitterParams{Ops: []color.JitterOp{
		{Op: color.OpBrightness, Factor: 0.5},
		{Op: color.OpSaturation, Factor: 0},
	}}
	out := color.ApplyJitter(img, p)
	fmt.Printf("%.4f %.4f %.4f\n", out.At(0, 0, 0), out.At(1, 0, 0), out.At(2, 0, 0))
	// Output: 0.1815 0.1815 0.1815
}
