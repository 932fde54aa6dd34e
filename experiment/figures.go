package experiment

import (
	"path/filepath"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/pairset"
	"github.com/degradiff/degradiff/raster"
)

// centre returns the centred size x size part of m (all of it when
// smaller).
func centre(m *raster.Image, size int) *raster.Image {
	h, w := min(size, m.H), min(size, m.W)
	return m.Crop((m.H-h)/2, (m.W-w)/2, h, w)
}

// drawSamples writes samples.png: a row per sample test image (real LQ,
// bicubic upsampling, each source's network, ground truth), then a row
// with one HQ crop, each source's LQ image of it and a real LQ image.
// Images that cannot be read are left out of the figure.
func (r *runner) drawSamples() error {
	s := r.cfg.Scale
	var rows [][]plot.Cell
	for _, i := range sampleIndices(r.test.Len(), r.cfg.SampleImages) {
		p := r.test.Pairs[i]
		hr, lr, err := r.test.Load(i)
		if err != nil {
			return err
		}
		y, x, d := displayBox(hr.H, hr.W, s)
		row := []plot.Cell{{Image: plot.Zoom(lr.Crop(y/s, x/s, d/s, d/s), s), Caption: "LQ " + p.Name}}
		for _, src := range append([]string{Upscale}, r.cfg.Sources...) {
			m, _, err := imageio.Load(filepath.Join(r.sampleDir(src), filepath.FromSlash(p.Name)+".png"), imageio.Options{})
			if err != nil {
				continue
			}
			caption := "SR " + src
			if src == Upscale {
				caption = "bicubic up"
			}
			row = append(row, plot.Cell{Image: m, Caption: caption})
		}
		row = append(row, plot.Cell{Image: hr.Crop(y, x, d, d), Caption: "ground truth"})
		rows = append(rows, row)
	}
	if row := r.lqRow(); len(row) > 0 {
		rows = append(rows, row)
	}
	return plot.SavePNG(filepath.Join(r.out, SamplesPNG), plot.Grid(rows, 1))
}

// lqRow shows the first HQ crop, reduced, each source's first LQ variant of
// it and the centre of the first real LQ image, at the same size.
func (r *runner) lqRow() []plot.Cell {
	first := r.crops.Crops[0].Name
	lrSize := r.cfg.Crop / r.cfg.Scale
	k := max(1, 128/lrSize)
	var row []plot.Cell
	if hr, _, err := imageio.Load(filepath.Join(r.pairsDir(r.cfg.Sources[0]), pairset.HRDir, filepath.FromSlash(first)+".png"), imageio.Options{}); err == nil {
		row = append(row, plot.Cell{Image: resize.Interpolate(hr, lrSize*k, lrSize*k, resize.Area).Clamp(), Caption: "HQ crop"})
	}
	for _, src := range r.cfg.Sources {
		p := filepath.Join(r.pairsDir(src), pairset.LRDir, filepath.FromSlash(pairset.VariantName(first, 0))+".png")
		if m, _, err := imageio.Load(p, imageio.Options{}); err == nil {
			row = append(row, plot.Cell{Image: plot.Zoom(m, k), Caption: src})
		}
	}
	if m, err := r.real.Load(0); err == nil {
		row = append(row, plot.Cell{Image: plot.Zoom(centre(m, lrSize), k), Caption: "real " + r.real.Name(0)})
	}
	return row
}
