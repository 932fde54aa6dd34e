// Package srnet is the compact blind super-resolution network that degradiff
// trains on its pairs to show how realistic they are.
//
// The network is EDSR-baseline-like (Lim et al. 2017) with the single
// pixel-shuffle output of ESPCN and of the fast real-world models
// (Real-ESRGAN's SRVGGNetCompact), chosen by measurement for training on a
// few CPU cores:
//
//	feat = conv_first(x)                              3 -> F channels
//	h    = body.N(... body.0(feat))                   residual blocks
//	         body.i(h) = h + res_scale*conv2(relu(conv1(h)))
//	h    = conv_after_body(h) + feat                  long skip
//	y    = pixel_shuffle(conv_up(h), scale) + up(x)   F -> 3*scale² channels
//
// Every convolution is 3x3 with bias and all of them run at the LR
// resolution; the only work at HR resolution is the pixel shuffle and the
// global residual up(x), a bicubic (PyTorch's F.interpolate, A = -0.75) or
// nearest upsampling of the input, so the network learns only the
// correction of a plain upscale.
//
// Parameters are named as a PyTorch state dict of the same module tree
// ("conv_first.weight", "body.3.conv2.bias", ...) and initialised as
// PyTorch's defaults. A trained model is a folder with config.json and
// model.safetensors, plus model_ema.safetensors with the averaged weights
// when training kept them (see Save and Load).
package srnet

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/degradiff/degradiff/degrade/resize"
	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

// Arch is the architecture name in config.json.
const Arch = "srnet"

// The global residual modes of Config.Base.
const (
	BaseBicubic = "bicubic"
	BaseNearest = "nearest"
	BaseNone    = "none"
)

// Config is the architecture, stored as config.json.
type Config struct {
	Arch       string  `json:"arch" yaml:"arch"`
	Scale      int     `json:"scale" yaml:"scale"`             // upscaling factor
	InChannels int     `json:"in_channels" yaml:"in_channels"` // image channels (3)
	NumFeat    int     `json:"num_feat" yaml:"num_feat"`       // feature channels F
	NumBlock   int     `json:"num_block" yaml:"num_block"`     // residual blocks
	ResScale   float64 `json:"res_scale" yaml:"res_scale"`     // residual branch scale
	// Base is the upsampling added to the output: "bicubic", "nearest"
	// or "none".
	Base string `json:"base" yaml:"base"`
}

// DefaultConfig returns the x4 network degradiff trains by default: 48
// feature channels and 8 residual blocks, 375,456 parameters.
//
// The size was chosen by measurement on 2 CPU cores (shared with other
// jobs, so times are approximate): one training step on 16 patches of
// 48x48 took 0.32 s for 32 channels x 6 blocks, 0.71 s for 48 x 8 and
// 1.15 s for 64 x 8. Trained for the same time (1100, 500 and 300 steps)
// on Real-ESRGAN-degraded pairs of 84 HQ photos, they reached 21.11,
// 21.07 and 21.01 dB PSNR (Y) on 12 held-out pairs (bicubic: 20.91), so at
// short budgets a smaller network loses nothing; 48 x 8 keeps more
// capacity for the full budget while training at 22 patches a second.
// Larger networks (64 x 16 is the 1.2M-parameter SRResNet/EDSR baseline)
// are a config change away.
func DefaultConfig() Config {
	return Config{Arch: Arch, Scale: 4, InChannels: 3, NumFeat: 48, NumBlock: 8, ResScale: 1, Base: BaseBicubic}
}

// Validate reports the first unusable setting, naming its key.
func (c Config) Validate() error {
	switch {
	case c.Arch != Arch:
		return fmt.Errorf("srnet: arch %q, want %q", c.Arch, Arch)
	case c.Scale < 1 || c.Scale > 8:
		return fmt.Errorf("srnet: scale %d outside 1..8", c.Scale)
	case c.InChannels < 1:
		return fmt.Errorf("srnet: in_channels %d must be positive", c.InChannels)
	case c.NumFeat < 1:
		return fmt.Errorf("srnet: num_feat %d must be positive", c.NumFeat)
	case c.NumBlock < 0:
		return fmt.Errorf("srnet: num_block %d must not be negative", c.NumBlock)
	case !(c.ResScale > 0):
		return fmt.Errorf("srnet: res_scale %v must be positive", c.ResScale)
	}
	switch c.Base {
	case BaseBicubic, BaseNearest, BaseNone:
	default:
		return fmt.Errorf("srnet: base %q, want %s, %s or %s", c.Base, BaseBicubic, BaseNearest, BaseNone)
	}
	return nil
}

// Radius returns how far, in LR pixels, an output pixel's value reaches
// into the input: one pixel per 3x3 convolution, and two for the bicubic
// base. Tiles that overlap by at least Radius give exactly the result of
// the whole image.
func (c Config) Radius() int {
	r := c.NumBlock*2 + 3
	if c.Base == BaseBicubic {
		r = max(r, 2)
	}
	return r
}

// ParseConfig decodes a config.json, refusing unknown keys.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("srnet: config: %w", err)
	}
	return c, c.Validate()
}

// Block is a residual block without normalisation (EDSR).
type Block struct {
	Conv1, Conv2 *nn.Conv2d
}

// Model is the network.
type Model struct {
	Config        Config
	ConvFirst     *nn.Conv2d
	Body          []Block
	ConvAfterBody *nn.Conv2d
	ConvUp        *nn.Conv2d
}

// New builds a model with PyTorch's default initialisation drawn from r
// (each parameter from its own sub-stream, see package nn).
func New(c Config, r *rng.Stream) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := c.NumFeat
	m := &Model{
		Config:        c,
		ConvFirst:     nn.NewConv2d("conv_first", c.InChannels, f, 3, 1, 1, true, r),
		ConvAfterBody: nn.NewConv2d("conv_after_body", f, f, 3, 1, 1, true, r),
		ConvUp:        nn.NewConv2d("conv_up", f, c.InChannels*c.Scale*c.Scale, 3, 1, 1, true, r),
	}
	for i := 0; i < c.NumBlock; i++ {
		p := fmt.Sprintf("body.%d.", i)
		m.Body = append(m.Body, Block{
			Conv1: nn.NewConv2d(p+"conv1", f, f, 3, 1, 1, true, r),
			Conv2: nn.NewConv2d(p+"conv2", f, f, 3, 1, 1, true, r),
		})
	}
	return m, nil
}

// Params returns the parameters in module order.
func (m *Model) Params() []*ag.Var {
	ps := m.ConvFirst.Params()
	for _, b := range m.Body {
		ps = append(ps, b.Conv1.Params()...)
		ps = append(ps, b.Conv2.Params()...)
	}
	ps = append(ps, m.ConvAfterBody.Params()...)
	return append(ps, m.ConvUp.Params()...)
}

// Forward returns the upscaled x: x is [N, InChannels, H, W] in [0, 1],
// the result [N, InChannels, Scale*H, Scale*W], not clamped. In inference
// mode (a graph that does not record) intermediates are released as soon
// as they are used, so memory holds about three feature maps at a time.
// The bicubic base is computed from x's values as a constant: no gradient
// flows to x through it.
func (m *Model) Forward(g *ag.Graph, x *ag.Var) *ag.Var {
	xs := x.Value.Shape
	c := m.Config
	tensor.Check(len(xs) == 4 && xs[1] == c.InChannels, "srnet.Forward", fmt.Sprintf("want x [N, %d, H, W]", c.InChannels), xs)
	feat := m.ConvFirst.Forward(g, x)
	h := feat
	for _, b := range m.Body {
		t := b.Conv1.Forward(g, h)
		a := g.ReLU(t)
		g.Release(t)
		u := b.Conv2.Forward(g, a)
		g.Release(a)
		if c.ResScale != 1 {
			s := g.Scale(u, float32(c.ResScale))
			g.Release(u)
			u = s
		}
		next := g.Add(h, u)
		g.Release(u)
		if h != feat {
			g.Release(h)
		}
		h = next
	}
	t := m.ConvAfterBody.Forward(g, h)
	if h != feat {
		g.Release(h)
	}
	h = g.Add(t, feat)
	g.Release(t, feat)
	up := m.ConvUp.Forward(g, h)
	g.Release(h)

	n, ch, hh, ww, s := xs[0], c.InChannels, xs[2], xs[3], c.Scale
	switch c.Base {
	case BaseNearest:
		// Adding x to each of the scale² sub-pixel channels before the
		// shuffle is nearest upsampling, with its gradient.
		r := g.Reshape(up, n, ch, s*s, hh, ww)
		sum := g.Add(r, g.Reshape(x, n, ch, 1, hh, ww))
		g.Release(r)
		out := g.PixelShuffle(g.Reshape(sum, n, ch*s*s, hh, ww), s)
		g.Release(sum)
		return out
	case BaseBicubic:
		hr := g.PixelShuffle(up, s)
		g.Release(up)
		base := g.Result(BicubicUp(x.Value, s, g.AllocUninit(n, ch, hh*s, ww*s))) // a constant
		out := g.Add(hr, base)
		g.Release(hr)
		return out
	default:
		out := g.PixelShuffle(up, s)
		g.Release(up)
		return out
	}
}

// BicubicUp sets dst [N, C, s*H, s*W] to the bicubic upsampling of x
// [N, C, H, W] by s, as F.interpolate(x, scale_factor=s, mode="bicubic",
// align_corners=False), and returns it; dst may be nil.
func BicubicUp(x *tensor.Tensor, s int, dst *tensor.Tensor) *tensor.Tensor {
	xs := x.Shape
	tensor.Check(len(xs) == 4, "srnet.BicubicUp", "want x [N, C, H, W]", xs)
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	if dst == nil {
		dst = tensor.New(n, c, h*s, w*s)
	}
	tensor.Check(tensor.SameShape(dst.Shape, []int{n, c, h * s, w * s}), "srnet.BicubicUp", "dst must be [N, C, s*H, s*W]", xs, dst.Shape)
	per, perOut := c*h*w, c*h*s*w*s
	for i := 0; i < n; i++ {
		img := &raster.Image{C: c, H: h, W: w, Pix: x.Data[i*per : (i+1)*per]}
		up := resize.Interpolate(img, h*s, w*s, resize.Bicubic)
		copy(dst.Data[i*perOut:(i+1)*perOut], up.Pix)
	}
	return dst
}
