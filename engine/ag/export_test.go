package ag

import "math"

// PoisonPool fills every pooled buffer of g with NaN, so that a test can
// tell whether an operation reads memory it did not write.
func PoisonPool(g *Graph) {
	nan := float32(math.NaN())
	for _, bufs := range g.pool {
		for _, b := range bufs {
			for i := range b {
				b[i] = nan
			}
		}
	}
}
