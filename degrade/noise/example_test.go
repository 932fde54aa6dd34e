package noise_test

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/degradiff/degradiff/degrade/noise"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// A manifest keeps the sampled parameters; replaying them with the stream
// as it was after sampling reproduces the noisy image.
func ExampleRandomGaussian() {
	img := raster.New(3, 4, 4)
	r := noise.GaussianRange{Sigma: [2]float64{1, 30}, GrayProb: 0.4, Clip: true, Rounds: true}

	s := rng.New(42, "img_001.png", "degrade")
	out, p := noise.RandomGaussian(img, r, s)
	line, _ := json.Marshal(p)

	// Replay: sample again to bring a fresh stream to the same position,
	// then apply the parameters read back from the manifest line.
	var q noise.GaussianParams
	_ = json.Unmarshal(line, &q)
	s2 := rng.New(42, "img_001.png", "degrade")
	noise.SampleGaussian(s2, r)
	again := noise.AddGaussian(img, q, s2)
	fmt.Println("reproduced:", slices.Equal(out.Pix, again.Pix))
	// Output: reproduced: true
}
