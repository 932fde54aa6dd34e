// Package degrade turns high-quality images into low-quality ones with the
// published degradation pipelines (bicubic, Real-ESRGAN, BSRGAN, GFPGAN
// faces), exactly as their reference code does, with every random draw
// logged.
//
// A Pipeline splits each degradation into three deterministic steps:
// PrepareHR (per HR image: mod-crop, sharpening, augmentation), Sample (the
// random parameters of one LR variant, from a keyed random stream) and Apply
// (the operations, given the parameters and a stream for per-pixel noise).
// The parameters are plain JSON-able values, so a manifest line is enough to
// replay a pair: Replay applies recorded parameters without sampling.
//
// The operations themselves live in the subpackages blur, resize, noise,
// jpeg and color.
package degrade

import (
	"encoding/json"
	"fmt"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Pipeline is a degradation model.
type Pipeline interface {
	// Config returns the configuration the pipeline was built from.
	Config() Config
	// PrepareHR returns the HR image that pairs with every LR variant:
	// mod-cropped to a multiple of the scale, and sharpened or augmented
	// where the pipeline does so. It draws from r only.
	PrepareHR(hr *raster.Image, r *rng.Stream) (*raster.Image, HRParams, error)
	// Sample draws the random parameters of one LR variant.
	Sample(r *rng.Stream) Params
	// Apply degrades a prepared HR image with parameters p, drawing
	// per-pixel noise from noise.
	Apply(hr *raster.Image, p Params, noise *rng.Stream) (*raster.Image, error)
}

// Params holds the sampled parameters of one variant of one pipeline type;
// exactly one field is set.
type Params struct {
	Bicubic    *BicubicParams    `json:"bicubic,omitempty"`
	RealESRGAN *RealESRGANParams `json:"realesrgan,omitempty"`
	BSRGAN     *BSRGANParams     `json:"bsrgan,omitempty"`
	Face       *FaceParams       `json:"face,omitempty"`
}

// HRParams records how the HR image was prepared.
type HRParams struct {
	// Crop is the mod-crop box [height, width] kept from the top-left.
	Crop [2]int `json:"crop"`
	// Sharpen: USM sharpening was applied.
	Sharpen bool `json:"sharpen,omitempty"`
	// Shift is a per-channel colour shift applied to the HR (0-1 scale).
	Shift *[3]float64 `json:"shift,omitempty"`
	// Gray: the HR was converted to grayscale.
	Gray bool `json:"gray,omitempty"`
}

// New builds the pipeline a configuration selects.
func New(c Config) (Pipeline, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Type {
	case "bicubic":
		return &bicubicPipeline{cfg: c}, nil
	case "realesrgan":
		return &realesrganPipeline{cfg: c}, nil
	case "bsrgan":
		return &bsrganPipeline{cfg: c}, nil
	case "face":
		return &facePipeline{cfg: c}, nil
	}
	return nil, fmt.Errorf("type: unknown pipeline %q", c.Type)
}

// Streams returns the keyed random streams of variant k of item name: one
// for the HR preparation (shared by all variants), one for the parameters
// and one for per-pixel noise. Separate streams keep each draw independent
// of how many draws the others make.
func Streams(seed uint64, name string, k int) (hr, params, noise *rng.Stream) {
	item := rng.New(seed, "degrade", name)
	v := item.Derive("variant", fmt.Sprint(k))
	return item.Derive("hr"), v.Derive("params"), v.Derive("noise")
}

// Record is the provenance of one LR variant: enough to replay it.
type Record struct {
	Source  string   `json:"source"`
	Seed    uint64   `json:"seed"`
	Variant int      `json:"variant"`
	Preset  string   `json:"preset"`
	Type    string   `json:"type"`
	Scale   int      `json:"scale"`
	HR      HRParams `json:"hr_prep"`
	Params  Params   `json:"params"`
	// NoiseKey is the key of the per-pixel noise stream.
	NoiseKey uint64 `json:"noise_key"`
	LRSize   [2]int `json:"lr_size"`
}

// Item is an HR image prepared for its LR variants: the HR preparation is
// the same for every variant, so it runs once.
type Item struct {
	// HR is the prepared HR image that pairs with every variant.
	HR   *raster.Image
	Prep HRParams

	p    Pipeline
	seed uint64
	name string
}

// Prepare runs the HR preparation of item name (mod-crop, sharpening,
// augmentation) from its keyed stream.
func Prepare(p Pipeline, hr *raster.Image, seed uint64, name string) (*Item, error) {
	hrS, _, _ := Streams(seed, name, 0)
	out, hp, err := p.PrepareHR(hr, hrS)
	if err != nil {
		return nil, err
	}
	return &Item{HR: out, Prep: hp, p: p, seed: seed, name: name}, nil
}

// Variant degrades the prepared HR image into LR variant k.
func (it *Item) Variant(k int) (*raster.Image, Record, error) {
	_, parS, noiseS := Streams(it.seed, it.name, k)
	params := it.p.Sample(parS)
	c := it.p.Config()
	rec := Record{
		Seed: it.seed, Variant: k, Preset: c.Preset, Type: c.Type,
		Scale: c.Scale, HR: it.Prep, Params: params, NoiseKey: noiseS.Key(),
	}
	lr, err := it.p.Apply(it.HR, params, noiseS)
	if err != nil {
		return nil, rec, err
	}
	rec.LRSize = [2]int{lr.H, lr.W}
	return lr, rec, nil
}

// Degrade runs the whole pipeline for variant k of item name: Prepare, then
// Variant. To make several variants of one image, Prepare it once.
func Degrade(p Pipeline, hr *raster.Image, seed uint64, name string, k int) (hrOut, lr *raster.Image, rec Record, err error) {
	it, err := Prepare(p, hr, seed, name)
	if err != nil {
		return nil, nil, rec, err
	}
	lr, rec, err = it.Variant(k)
	if err != nil {
		return nil, nil, rec, err
	}
	return it.HR, lr, rec, nil
}

// Replay rebuilds an LR image from a prepared HR image and a record, using
// only the recorded parameters and noise key (no parameter is re-sampled).
//
// A record comes from a file (replay's manifest line), so it may hold what
// no pipeline would have drawn; the operations assume sampled parameters
// and may panic on others, which is turned into an error here.
func Replay(p Pipeline, hr *raster.Image, rec Record) (m *raster.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("manifest record: parameters that this pipeline cannot apply (%v)", r)
		}
	}()
	return p.Apply(hr, rec.Params, rng.FromKey(rec.NoiseKey))
}

// ParseRecord decodes a manifest line.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("manifest record: %w", err)
	}
	return r, nil
}

// modCrop returns the top-left part of m whose sides are multiples of s.
func modCrop(m *raster.Image, s int) (*raster.Image, [2]int, error) {
	h, w := m.H-m.H%s, m.W-m.W%s
	if h < 4*s || w < 4*s {
		return nil, [2]int{}, fmt.Errorf("image %dx%d is too small for scale %d (needs at least %dx%d)", m.W, m.H, s, 4*s, 4*s)
	}
	if h == m.H && w == m.W {
		return m, [2]int{h, w}, nil
	}
	return m.Crop(0, 0, h, w), [2]int{h, w}, nil
}
