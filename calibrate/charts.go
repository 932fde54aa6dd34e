package calibrate

import (
	"fmt"
	"math"
	"sort"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/measure/features"
	"github.com/degradiff/degradiff/measure/response"
	"github.com/degradiff/degradiff/raster"
)

// Chart files of the output folder.
const (
	ProgressPNG   = "progress.png"
	HistogramsPNG = "histograms.png"
	SamplesPNG    = "samples.png"
	// ResponsePNG, of fits to pairs only, plots the frequency responses
	// of the cameras and of the degradation before and after.
	ResponsePNG = "response.png"
)

// drawProgress plots each evaluation's proxy and the best so far (for the
// objectives that are a PSNR, the PSNR itself, on a linear axis: it is
// negative as a proxy).
func drawProgress(path string, evals []Eval, objective string) error {
	each := plot.Series{Name: "evaluation"}
	best := plot.Series{Name: "best so far"}
	sign := 1.0
	ch := plot.Chart{Title: fmt.Sprintf("Proxy objective (%s) on the images fitted on", objective), XLabel: "evaluation (from 0)", YLabel: "proxy", LogY: true}
	if higherIsBetter(objective) {
		sign, ch.YLabel, ch.LogY = -1, "Y-PSNR (dB)", false
	}
	switch objective {
	case ObjectivePSNR:
		ch.Title = "Y-PSNR of the degraded HR crops against the real LR crops of the pairs fitted on"
	case ObjectiveResponse:
		ch.Title, ch.YLabel = "Distance of the degradation's frequency response from the cameras' on the pairs fitted on", "RMS log gain ratio"
	case ObjectiveLinearSR:
		ch.Title = "Y-PSNR on the real LR crops of a linear upscaler trained on the degraded crops"
	}
	b := math.Inf(1)
	for i, e := range evals {
		b = min(b, e.Proxy)
		each.X, each.Y = append(each.X, float64(i)), append(each.Y, sign*e.Proxy)
		best.X, best.Y = append(best.X, float64(i)), append(best.Y, sign*b)
	}
	ch.Series = []plot.Series{each, best}
	return plot.SavePNG(path, ch.Draw(800, 340))
}

// histFeatures returns the n features whose means differ most (in units
// of the real spread) between the real images and the first synthetic
// set, in feature order.
func histFeatures(real, synth [][]float64, n int) []int {
	mr, sr := moments(real)
	ms, _ := moments(synth)
	type fe struct {
		j int
		e float64
	}
	var list []fe
	for j := range features.Dim {
		if sr[j] > 1e-12 {
			list = append(list, fe{j, math.Abs(ms[j]-mr[j]) / sr[j]})
		}
	}
	sort.SliceStable(list, func(a, b int) bool { return list[a].e > list[b].e })
	var out []int
	for i := 0; i < n && i < len(list); i++ {
		out = append(out, list[i].j)
	}
	sort.Ints(out)
	return out
}

// drawHistograms writes one histogram chart per chosen feature (real,
// before, after), laid out in a grid.
func drawHistograms(path string, cols []int, sets [][][]float64, names []string) error {
	fn := features.Names()
	var cells [][]plot.Cell
	var row []plot.Cell
	for _, j := range cols {
		lo, hi := math.Inf(1), math.Inf(-1)
		var all []float64
		for _, s := range sets {
			for _, v := range s {
				all = append(all, v[j])
			}
		}
		sort.Float64s(all)
		lo, hi = all[len(all)/100], all[len(all)-1-len(all)/100]
		if hi <= lo {
			hi = lo + 1
		}
		const bins = 20
		w := (hi - lo) / bins
		ch := plot.Chart{Title: fn[j], XLabel: "value", YLabel: "share"}
		for k, s := range sets {
			counts := make([]float64, bins)
			for _, v := range s {
				b := int((v[j] - lo) / w)
				counts[min(max(b, 0), bins-1)]++
			}
			ser := plot.Series{Name: names[k]}
			for b, c := range counts {
				ser.X = append(ser.X, lo+(float64(b)+0.5)*w)
				ser.Y = append(ser.Y, c/float64(len(s)))
			}
			ch.Series = append(ch.Series, ser)
		}
		row = append(row, plot.Cell{Image: imageio.FromImage(ch.Draw(420, 240)), Caption: fn[j]})
		if len(row) == 2 {
			cells, row = append(cells, row), nil
		}
	}
	if len(row) > 0 {
		cells = append(cells, row)
	}
	return plot.SavePNG(path, plot.Grid(cells, 1))
}

// drawSamples writes rows of: an HQ crop (reduced to the LQ size), its LQ
// image before and after calibration, and a held-out real LQ image's
// centre at the same size, all enlarged without interpolation.
func (p *Problem) drawSamples(path string, before, after []*raster.Image, rows int) error {
	var cells [][]plot.Cell
	for r := 0; r < rows && r < len(p.Crops); r++ {
		i := r * len(p.Crops) / rows
		lq := after[i]
		k := max(1, 128/max(lq.H, 1))
		hr := resize.Interpolate(p.imgs[i], lq.H, lq.W, resize.Area).Clamp()
		row := []plot.Cell{
			{Image: plot.Zoom(hr, k), Caption: "HQ " + p.Crops[i].Name},
			{Image: plot.Zoom(before[i], k), Caption: "before (preset)"},
			{Image: plot.Zoom(lq, k), Caption: "after (calibrated)"},
		}
		if p.lrs != nil {
			row = append(row, plot.Cell{Image: plot.Zoom(p.lrs[i], k), Caption: "real LR, same scene"})
		} else if len(p.Held) > 0 {
			j := r * len(p.Held) / rows
			if m, err := p.Held.Load(j); err == nil {
				h, w := min(lq.H, m.H), min(lq.W, m.W)
				row = append(row, plot.Cell{Image: plot.Zoom(m.Crop((m.H-h)/2, (m.W-w)/2, h, w), k), Caption: "real " + p.Held[j].Name})
			}
		}
		cells = append(cells, row)
	}
	return plot.SavePNG(path, plot.Grid(cells, 1))
}

// drawResponse plots the gains of the cameras and of the degradation
// before and after against frequency, on the held-out pairs.
func drawResponse(path string, before, after *PairFit) error {
	series := func(name string, gains []float64) plot.Series {
		s := plot.Series{Name: name}
		for i, f := range response.Frequencies {
			s.X, s.Y = append(s.X, f), append(s.Y, gains[i])
		}
		return s
	}
	ch := plot.Chart{
		Title:  "Frequency response on the held-out pairs",
		XLabel: "cycles per LR pixel", YLabel: "gain",
		Series: []plot.Series{series("cameras", after.CameraGains), series("before", before.Gains), series("after", after.Gains)},
	}
	return plot.SavePNG(path, ch.Draw(800, 340))
}
