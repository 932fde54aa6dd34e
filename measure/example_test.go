package measure_test

import (
	"fmt"

	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/rng"
	"github.com/degradiff/degradiff/samples"
)

// Compare clean renders ("real") with noisy ones ("synthetic"). For
// folders, use measure.Dir(path) as the Source.
func Example() {
	var real, synth []measure.Image
	for i := 0; i < 12; i++ {
		scene := samples.Names[i%len(samples.Names)]
		clean, _ := samples.Render(scene, 96, 96, uint64(i))
		noisy, _ := samples.Render(scene, 96, 96, uint64(i+100))
		s := rng.New(uint64(i), "noise")
		for k := range noisy.Pix {
			noisy.Pix[k] += float32(12.0 / 255 * s.Norm())
		}
		real = append(real, measure.Image{Name: fmt.Sprint("clean", i), Image: clean})
		synth = append(synth, measure.Image{Name: fmt.Sprint("noisy", i), Image: noisy.Clamp()})
	}
	rep, err := measure.Gap(measure.Images(real), measure.Images(synth), measure.Options{SkipC2ST: true, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("patches per set:", rep.Real.Patches, rep.Synth.Patches)
	fmt.Println("KID above 0:", rep.KID.Mean > 0)
	for _, f := range rep.Features {
		if f.Name == "noise_luma" {
			fmt.Println("synthetic images too noisy:", f.Effect > 0)
		}
	}
	// Output:
	// patches per set: 96 96
	// KID above 0: true
	// synthetic images too noisy: true
}
