package degrade

import (
	"fmt"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// BicubicParams records the (deterministic) bicubic downsampling.
type BicubicParams struct {
	Method string `json:"method"`
}

type bicubicPipeline struct{ cfg Config }

func (p *bicubicPipeline) Config() Config { return p.cfg }

func (p *bicubicPipeline) PrepareHR(hr *raster.Image, r *rng.Stream) (*raster.Image, HRParams, error) {
	out, box, err := modCrop(hr, p.cfg.Scale)
	return out, HRParams{Crop: box}, err
}

func (p *bicubicPipeline) Sample(r *rng.Stream) Params {
	return Params{Bicubic: &BicubicParams{Method: p.cfg.Bicubic.Method}}
}

func (p *bicubicPipeline) Apply(hr *raster.Image, params Params, ns *rng.Stream) (*raster.Image, error) {
	q := params.Bicubic
	if q == nil {
		return nil, fmt.Errorf("bicubic: parameters of another pipeline")
	}
	h, w := hr.H/p.cfg.Scale, hr.W/p.cfg.Scale
	var out *raster.Image
	var err error
	switch q.Method {
	case "matlab":
		out, err = matlabResize(hr, 1/float64(p.cfg.Scale))
	case "torch":
		out, err = interpSize(hr, "bicubic", h, w)
	case "opencv":
		out, err = cvResize(hr, "cubic", h, w)
	default:
		err = fmt.Errorf("unknown method %q", q.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("bicubic: %w", err)
	}
	if p.cfg.ResizeBack {
		if out, err = interpSize(out, "bicubic", hr.H, hr.W); err != nil {
			return nil, fmt.Errorf("bicubic: resize back: %w", err)
		}
	}
	return out.Round(), nil
}
