// Package plot draws the few pictures degradiff writes into run folders and
// reports: line charts (loss curves) and captioned image grids, as PNG.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/raster"
)

// Series is one line of a chart.
type Series struct {
	Name string
	X, Y []float64
}

// Chart describes a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Series                []Series
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255},
	{214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255},
}

// Draw renders the chart at w x h pixels.
func (c Chart) Draw(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, top, bottom := 70, 20, 30, 45
	pw, ph := w-left-right, h-top-bottom
	if pw < 10 || ph < 10 {
		return img
	}
	// Data range.
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	ty := func(v float64) float64 {
		if c.LogY {
			return math.Log10(v)
		}
		return v
	}
	for _, s := range c.Series {
		for i := range s.X {
			y := ty(s.Y[i])
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	if xmin > xmax {
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax, ymin = ymax+0.5, ymin-0.5
	}
	pad := 0.05 * (ymax - ymin)
	ymin, ymax = ymin-pad, ymax+pad
	px := func(x float64) int { return left + int(float64(pw)*(x-xmin)/(xmax-xmin)) }
	py := func(y float64) int { return top + ph - int(float64(ph)*(y-ymin)/(ymax-ymin)) }
	grid := color.RGBA{225, 225, 225, 255}
	black := color.RGBA{0, 0, 0, 255}
	// Grid and tick labels.
	for i := 0; i <= 5; i++ {
		yv := ymin + (ymax-ymin)*float64(i)/5
		y := py(yv)
		hline(img, left, left+pw, y, grid)
		label := yv
		if c.LogY {
			label = math.Pow(10, yv)
		}
		text(img, 2, y+4, fmtNum(label), black)
		xv := xmin + (xmax-xmin)*float64(i)/5
		x := px(xv)
		vline(img, x, top, top+ph, grid)
		s := fmtNum(xv)
		text(img, x-3*len(s), top+ph+15, s, black)
	}
	hline(img, left, left+pw, top+ph, black)
	vline(img, left, top, top+ph, black)
	text(img, left, 18, c.Title, black)
	text(img, left+pw/2-3*len(c.XLabel), h-8, c.XLabel, black)
	if c.YLabel != "" {
		text(img, 2, 18, c.YLabel, black)
	}
	// Lines.
	for si, s := range c.Series {
		col := palette[si%len(palette)]
		prevOK := false
		var x0, y0 int
		for i := range s.X {
			y := ty(s.Y[i])
			if math.IsNaN(y) || math.IsInf(y, 0) {
				prevOK = false
				continue
			}
			x1, y1 := px(s.X[i]), py(y)
			if prevOK {
				line(img, x0, y0, x1, y1, col)
			} else {
				img.Set(x1, y1, col)
			}
			x0, y0, prevOK = x1, y1, true
		}
		if s.Name != "" {
			lx := left + pw - 150
			ly := top + 15 + 15*si
			hline(img, lx, lx+20, ly-4, col)
			text(img, lx+25, ly, s.Name, black)
		}
	}
	return img
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e5 || a < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// text draws s with its baseline at (x, y) in a 7x13 bitmap font.
func text(img draw.Image, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// Cell is one image of a grid with its caption.
type Cell struct {
	Image   *raster.Image
	Caption string
}

// Grid lays out rows of images, each scaled by an integer zoom (nearest
// neighbour, so pixels stay visible), with captions under them.
func Grid(rows [][]Cell, zoom int) *image.RGBA {
	if zoom < 1 {
		zoom = 1
	}
	const gap, capH = 6, 16
	width, height := gap, gap
	rowH := make([]int, len(rows))
	for r, row := range rows {
		w := gap
		for _, c := range row {
			if c.Image != nil {
				w += c.Image.W*zoom + gap
				rowH[r] = max(rowH[r], c.Image.H*zoom)
			}
		}
		width = max(width, w)
		height += rowH[r] + capH + gap
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := gap
	for r, row := range rows {
		x := gap
		for _, c := range row {
			if c.Image == nil {
				continue
			}
			src := imageio.ToImage(c.Image, 8)
			for yy := 0; yy < c.Image.H*zoom; yy++ {
				for xx := 0; xx < c.Image.W*zoom; xx++ {
					img.Set(x+xx, y+yy, src.At(xx/zoom, yy/zoom))
				}
			}
			text(img, x, y+rowH[r]+12, clip(c.Caption, c.Image.W*zoom/7), color.Black)
			x += c.Image.W*zoom + gap
		}
		y += rowH[r] + capH + gap
	}
	return img
}

func clip(s string, n int) string {
	if n < 1 {
		return ""
	}
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SavePNG writes img to path atomically.
func SavePNG(path string, img image.Image) error {
	m := imageio.FromImage(img)
	if err := imageio.Save(path, m, imageio.SaveOptions{}); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// Zoom enlarges m k times without interpolation, so that pixels stay
// visible.
func Zoom(m *raster.Image, k int) *raster.Image {
	if k <= 1 {
		return m
	}
	out := raster.New(m.C, m.H*k, m.W*k)
	for c := 0; c < m.C; c++ {
		src, dst := m.Plane(c), out.Plane(c)
		for y := 0; y < out.H; y++ {
			row := src[(y/k)*m.W : (y/k+1)*m.W]
			d := dst[y*out.W : (y+1)*out.W]
			for x := range d {
				d[x] = row[x/k]
			}
		}
	}
	return out
}
