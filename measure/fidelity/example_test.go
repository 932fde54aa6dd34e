package fidelity_test

import (
	"fmt"

	"github.com/degradiff/degradiff/measure/fidelity"
	"github.com/degradiff/degradiff/raster"
)

// Two gray images 10 levels apart: on RGB the error is 10 everywhere, on
// the Y channel 10·219/255. Flat images have no structure, so SSIM is its
// luminance term (2·y1·y2 + C1)/(y1² + y2² + C1).
func Example() {
	a, b := raster.New(3, 32, 32), raster.New(3, 32, 32)
	for i := range a.Pix {
		a.Pix[i] = 100.0 / 255
		b.Pix[i] = 110.0 / 255
	}
	fmt.Printf("PSNR RGB %.4f dB\n", fidelity.PSNR(a, b, fidelity.Options{CropBorder: 4}))
	fmt.Printf("PSNR Y   %.4f dB\n", fidelity.PSNR(a, b, fidelity.Options{CropBorder: 4, TestY: true}))
	fmt.Printf("SSIM Y   %.4f\n", fidelity.SSIM(a, b, fidelity.Options{CropBorder: 4, TestY: true}))
	// Output:
	// PSNR RGB 28.1308 dB
	// PSNR Y   29.4527 dB
	// SSIM Y   0.9967
}
