package jpeg_test

import (
	"fmt"

	"github.com/degradiff/degradiff/degrade/jpeg"
	"github.com/degradiff/degradiff/raster"
)

func ExampleCompress() {
	img := raster.New(3, 16, 16)
	for i := range img.Pix {
		img.Pix[i] = 0.5
	}
	c := jpeg.Compress(img, 90)
	fmt.Println("factor:", c.Factor, "luma DC:", c.Y[0][0], "blocks:", len(c.Y), len(c.Cb))
	out := c.Decompress()
	fmt.Printf("%.5f\n", out.At(0, 0, 0))
	// Output:
	// factor: 0.2 luma DC: -1 blocks: 4 1
	// 0.50039
}
