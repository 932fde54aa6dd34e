// Package samples renders high-quality test images procedurally, so that the
// project's quick start, examples and tests need no third-party images.
//
// The scenes mix what degradations act on: sharp edges and thin lines
// (blur, ringing), smooth gradients (banding, JPEG blocking), fine periodic
// texture (aliasing) and saturated colours (chroma subsampling).
package samples

import (
	"fmt"
	"math"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Names lists the scenes Render knows.
var Names = []string{"shapes", "rings", "mandelbrot", "landscape", "bricks", "stripes"}

// Render returns scene name at h x w; seed varies the random scenes.
func Render(name string, h, w int, seed uint64) (*raster.Image, error) {
	if h < 8 || w < 8 {
		return nil, fmt.Errorf("samples: %dx%d is too small (8x8 at least)", w, h)
	}
	r := rng.New(seed, "samples", name)
	m := raster.New(3, h, w)
	var f func(y, x float64) (float64, float64, float64)
	switch name {
	case "shapes":
		f = shapes(r)
	case "rings":
		f = rings
	case "mandelbrot":
		f = mandelbrot
	case "landscape":
		f = landscape(r)
	case "bricks":
		f = bricks
	case "stripes":
		f = stripes
	default:
		return nil, fmt.Errorf("samples: unknown scene %q (have %v)", name, Names)
	}
	// 2x2 supersampling keeps the HQ image free of aliasing of its own.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var cr, cg, cb float64
			for _, d := range [4][2]float64{{0.25, 0.25}, {0.25, 0.75}, {0.75, 0.25}, {0.75, 0.75}} {
				a, b, c := f((float64(y)+d[0])/float64(h), (float64(x)+d[1])/float64(w))
				cr, cg, cb = cr+a, cg+b, cb+c
			}
			m.Set(0, y, x, float32(clamp01(cr/4)))
			m.Set(1, y, x, float32(clamp01(cg/4)))
			m.Set(2, y, x, float32(clamp01(cb/4)))
		}
	}
	return m, nil
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// shapes: random discs and rectangles with outlines over a gradient sky.
func shapes(r *rng.Stream) func(y, x float64) (float64, float64, float64) {
	type shape struct {
		disc             bool
		cy, cx, ry, rx   float64
		cr, cg, cb, edge float64
	}
	var ss []shape
	for i := 0; i < 12; i++ {
		ss = append(ss, shape{
			disc: r.Float64() < 0.5,
			cy:   r.Float64(), cx: r.Float64(),
			ry: 0.04 + 0.15*r.Float64(), rx: 0.04 + 0.15*r.Float64(),
			cr: r.Float64(), cg: r.Float64(), cb: r.Float64(),
			edge: 0.004 + 0.006*r.Float64(),
		})
	}
	return func(y, x float64) (float64, float64, float64) {
		cr, cg, cb := 0.55+0.35*y, 0.7+0.2*y, 0.95-0.1*y
		for _, s := range ss {
			var d float64 // signed distance-like measure, < 0 inside
			if s.disc {
				dy, dx := (y-s.cy)/s.ry, (x-s.cx)/s.rx
				d = (math.Sqrt(dy*dy+dx*dx) - 1) * math.Min(s.ry, s.rx)
			} else {
				d = math.Max(math.Abs(y-s.cy)-s.ry, math.Abs(x-s.cx)-s.rx)
			}
			switch {
			case d < -s.edge:
				cr, cg, cb = s.cr, s.cg, s.cb
			case d < 0:
				cr, cg, cb = 0.05, 0.05, 0.08
			}
		}
		return cr, cg, cb
	}
}

// rings: a zone plate, chirped concentric rings that alias under resizing.
func rings(y, x float64) (float64, float64, float64) {
	dy, dx := y-0.5, x-0.5
	v := 0.5 + 0.5*math.Cos(180*(dy*dy+dx*dx))
	return v, 0.3 + 0.6*v*x, 1 - v*0.8
}

// mandelbrot: fractal detail at every scale, smoothly coloured.
func mandelbrot(y, x float64) (float64, float64, float64) {
	cr, ci := -0.745+0.02*(x-0.5), 0.113+0.02*(y-0.5)
	zr, zi := 0.0, 0.0
	const maxIter = 300
	i := 0
	for ; i < maxIter && zr*zr+zi*zi < 64; i++ {
		zr, zi = zr*zr-zi*zi+cr, 2*zr*zi+ci
	}
	if i == maxIter {
		return 0.02, 0.02, 0.05
	}
	t := float64(i) - math.Log2(math.Log2(zr*zr+zi*zi)/2)
	return 0.5 + 0.5*math.Sin(0.1*t), 0.5 + 0.5*math.Sin(0.1*t+2), 0.5 + 0.5*math.Sin(0.1*t+4)
}

// landscape: layered hills of value noise under a sky with a sun.
func landscape(r *rng.Stream) func(y, x float64) (float64, float64, float64) {
	var phase [16]float64
	for i := range phase {
		phase[i] = 2 * math.Pi * r.Float64()
	}
	ridge := func(x float64, layer int) float64 {
		v := 0.0
		for o := 1; o <= 5; o++ {
			f := float64(o * o)
			v += math.Sin(f*3*x+phase[(layer*5+o)%16]) / f
		}
		return v
	}
	return func(y, x float64) (float64, float64, float64) {
		sun := math.Hypot(y-0.25, x-0.72)
		cr, cg, cb := 0.85-0.3*y, 0.75-0.2*y, 0.95-0.1*y
		if sun < 0.08 {
			cr, cg, cb = 1, 0.92, 0.6
		}
		for layer := 0; layer < 3; layer++ {
			h := 0.45 + 0.15*float64(layer) + 0.06*ridge(x, layer)
			if y > h {
				shade := 0.6 - 0.15*float64(layer)
				tex := 0.05 * math.Sin(400*x+30*y) * math.Sin(300*y)
				cr, cg, cb = 0.2*shade+tex, 0.55*shade+tex, 0.25*shade+tex
			}
		}
		return cr, cg, cb
	}
}

// bricks: a brick wall with mortar lines and per-brick tint.
func bricks(y, x float64) (float64, float64, float64) {
	rows := 14.0
	row := math.Floor(y * rows)
	off := 0.0
	if int(row)%2 == 1 {
		off = 0.5
	}
	bx := x*7 + off
	fy, fx := y*rows-row, bx-math.Floor(bx)
	if fy < 0.08 || fx < 0.04 {
		return 0.8, 0.78, 0.72
	}
	tint := 0.1 * math.Sin(13*row+7*math.Floor(bx))
	grain := 0.04 * math.Sin(500*x) * math.Sin(411*y)
	return 0.62 + tint + grain, 0.28 + tint/2 + grain, 0.2 + grain
}

// stripes: text-like thin dark strokes of varying widths on paper.
func stripes(y, x float64) (float64, float64, float64) {
	line := math.Floor(y * 24)
	fy := y*24 - line
	ink := false
	if fy > 0.3 && fy < 0.75 {
		word := math.Sin(37*line + 11*math.Floor(x*9))
		if word > -0.3 {
			w := 0.004 + 0.003*math.Sin(line)
			ink = math.Mod(x+0.013*line, 0.021) < w*2 || math.Abs(fy-0.52) < 0.03
		}
	}
	if ink {
		return 0.1, 0.1, 0.18
	}
	return 0.96, 0.94, 0.88
}
