package srnet_test

import (
	"fmt"

	"github.com/degradiff/degradiff/models/srnet"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func ExampleModel_Predict() {
	m, err := srnet.New(srnet.DefaultConfig(), rng.New(1, "example"))
	if err != nil {
		panic(err)
	}
	lr := raster.New(3, 32, 40) // a trained model would come from srnet.Load
	sr := m.Predict(lr, srnet.PredictOptions{Tile: 16})
	fmt.Printf("%dx%d -> %dx%d, tiles reading %d pixels of context\n", lr.W, lr.H, sr.W, sr.H, m.Config.Radius())
	// Output: 40x32 -> 160x128, tiles reading 19 pixels of context
}
