package experiment_test

import (
	"fmt"

	"github.com/degradiff/degradiff/experiment"
)

// The budgets differ in how many crops they use, how long they adapt the
// diffusion model and train the network, and how thoroughly they measure
// the gap.
func ExampleDefault() {
	for _, b := range experiment.Budgets {
		c, err := experiment.Default(b)
		if err != nil {
			panic(err)
		}
		c2st := "skipped"
		if !c.Gap.SkipC2ST {
			o := c.Gap.C2ST.WithDefaults()
			c2st = fmt.Sprintf("%d splits of %d steps", o.Splits, o.Steps)
		}
		a := c.Adapt
		fmt.Printf("%-5s crops %d px (at most %d, 0 = all); DDPM adapted %d steps of %d crops of %d px; SR %d steps of %d patches of %d px; C2ST %s\n",
			b, c.Crop, c.MaxCrops, a.Steps, a.BatchSize, a.Resolution, c.SR.Steps, c.SR.BatchSize, c.SR.PatchSize, c2st)
	}
	// Output:
	// tiny  crops 128 px (at most 4, 0 = all); DDPM adapted 3 steps of 2 crops of 16 px; SR 20 steps of 4 patches of 16 px; C2ST 2 splits of 4 steps
	// quick crops 256 px (at most 24, 0 = all); DDPM adapted 100 steps of 8 crops of 64 px; SR 300 steps of 8 patches of 48 px; C2ST 3 splits of 100 steps
	// full  crops 256 px (at most 0, 0 = all); DDPM adapted 1000 steps of 8 crops of 64 px; SR 6000 steps of 16 patches of 48 px; C2ST 5 splits of 300 steps
}
