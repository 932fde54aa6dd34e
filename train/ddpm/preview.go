package ddpm

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/degradiff/degradiff/diffusion/pipeline"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/plot"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// LossCurve draws RUN/loss.png from the log: the raw loss and its moving
// average.
func (t *Trainer) LossCurve() error {
	var raw, avg plot.Series
	raw.Name, avg.Name = "loss", "moving average (100)"
	var window []float64
	sum := 0.0
	err := t.Folder.ReadLog(func(line []byte) error {
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil || l.Step == 0 {
			return nil // other events
		}
		raw.X, raw.Y = append(raw.X, float64(l.Step)), append(raw.Y, l.Loss)
		window = append(window, l.Loss)
		sum += l.Loss
		if len(window) > 100 {
			sum -= window[0]
			window = window[1:]
		}
		avg.X, avg.Y = append(avg.X, float64(l.Step)), append(avg.Y, sum/float64(len(window)))
		return nil
	})
	if err != nil {
		return err
	}
	c := plot.Chart{Title: "DDPM training loss (" + t.Cfg.Prediction + " MSE)", XLabel: "step", YLabel: "loss", LogY: true, Series: []plot.Series{raw, avg}}
	return plot.SavePNG(filepath.Join(t.Folder.Dir, "loss.png"), c.Draw(800, 400))
}

// Preview runs img2img with the EMA weights on a centre crop of each
// held-out image at the configured strengths and writes a grid to
// RUN/previews/step-NNNNNNNN.png: the input, then one column per strength.
func (t *Trainer) Preview() error {
	if len(t.Data.Preview) == 0 || len(t.Cfg.PreviewStrength) == 0 {
		return nil
	}
	if t.ema != nil {
		t.ema.Swap()
		defer t.ema.Swap()
	}
	defer t.Model.FreeMemory()
	size := 2 * t.Cfg.Resolution
	var rows [][]plot.Cell
	for i := range t.Data.Preview {
		im := &t.Data.Preview[i]
		s := min(size, im.h, im.w)
		s -= s % t.Model.Config().SizeMultiple()
		if s < 8 {
			continue
		}
		x := tensor.New(1, 3, s, s)
		im.crop(x.Data, (im.h-s)/2, (im.w-s)/2, s, false)
		row := []plot.Cell{{Image: toRaster(x), Caption: "input"}}
		for _, strength := range t.Cfg.PreviewStrength {
			out, err := previewImg2Img(t.Model.Predict, t.schCfg, x, strength, t.Cfg.PreviewSteps, rng.New(t.Cfg.Seed, "preview", im.name))
			if err != nil {
				return fmt.Errorf("preview: %w", err)
			}
			row = append(row, plot.Cell{Image: toRaster(out), Caption: fmt.Sprintf("s=%g", strength)})
		}
		rows = append(rows, row)
	}
	p := filepath.Join(t.Folder.Dir, "previews", fmt.Sprintf("step-%08d.png", t.step))
	return plot.SavePNG(p, plot.Grid(rows, 2))
}

// previewImg2Img noises x (in [-1, 1]) to strength and denoises it with
// the default sampler in steps steps, drawing the noise from r.
func previewImg2Img(predict pipeline.Denoiser, schedulerJSON []byte, x *tensor.Tensor, strength float64, steps int, r *rng.Stream) (*tensor.Tensor, error) {
	p, err := pipeline.New(predict, schedulerJSON, pipeline.Options{Sampler: pipeline.DefaultSampler, Steps: steps})
	if err != nil {
		return nil, err
	}
	noise := tensor.New(x.Shape...)
	r.FillNormal(noise.Data, 1)
	out, _, err := p.Tensor(x, noise, strength, r)
	return out, err
}

// toRaster converts the first sample of a [-1, 1] tensor to an image.
func toRaster(x *tensor.Tensor) *raster.Image {
	h, w := x.Shape[2], x.Shape[3]
	m := raster.New(3, h, w)
	for i := range m.Pix {
		m.Pix[i] = x.Data[i]*0.5 + 0.5
	}
	return m.Clamp()
}
