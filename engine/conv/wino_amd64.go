//go:build !noasm

package conv

import (
	"fmt"

	"github.com/degradiff/degradiff/internal/kernel"
)

// The AVX-512 tile routines handle one tile and 16 channels a step; c is
// a multiple of 16. Pointers are to the tile's first value, as in the Go
// routines (wino_tiles.go).

//go:noescape
func winoInputTileAVX512(p *float32, rs, c int, v *float32, ks int)

//go:noescape
func winoOutputTileAVX512(m *float32, ks, c int, bias, q *float32, rq int)

//go:noescape
func winoOutputGradTileAVX512(d *float32, rd, c int, dm *float32, ks int)

func init() {
	if kernel.Chosen() != kernel.AVX512 {
		return
	}
	inputTiles, outputTiles, outputGradTiles = inputTilesAVX512, outputTilesAVX512, outputGradTilesAVX512
	winoTilesFast = true
}

// checkTiles panics unless the n tiles' values, the furthest at offset
// last (plus one) of s, lie in s.
func checkTiles(name string, s []float32, last int) {
	if last > len(s) {
		panic(fmt.Sprintf("conv.%s: tiles reach %d values into a slice of %d", name, last, len(s)))
	}
}

func inputTilesAVX512(p []float32, rs, c, n int, v []float32, ks int) {
	if c%16 != 0 {
		inputTilesGo(p, rs, c, n, v, ks)
		return
	}
	checkTiles("inputTiles source", p, 3*rs+(2*n+1)*c+c)
	checkTiles("inputTiles result", v, 15*ks+n*c)
	for t := 0; t < n; t++ {
		winoInputTileAVX512(&p[2*t*c], rs, c, &v[t*c], ks)
	}
}

func outputTilesAVX512(m []float32, ks, c, n int, bias, q []float32, rq int) {
	if c%16 != 0 {
		outputTilesGo(m, ks, c, n, bias, q, rq)
		return
	}
	checkTiles("outputTiles products", m, 15*ks+n*c)
	checkTiles("outputTiles bias", bias, c)
	checkTiles("outputTiles result", q, rq+2*n*c)
	for t := 0; t < n; t++ {
		winoOutputTileAVX512(&m[t*c], ks, c, &bias[0], &q[2*t*c], rq)
	}
}

func outputGradTilesAVX512(d []float32, rd, c, n int, dm []float32, ks int) {
	if c%16 != 0 {
		outputGradTilesGo(d, rd, c, n, dm, ks)
		return
	}
	checkTiles("outputGradTiles gradient", d, rd+2*n*c)
	checkTiles("outputGradTiles result", dm, 15*ks+n*c)
	for t := 0; t < n; t++ {
		winoOutputGradTileAVX512(&d[2*t*c], rd, c, &dm[t*c], ks)
	}
}
