// Package bfrnet is the compact blind face restoration (BFR) network that
// degradiff trains on aligned face pairs: an LQ face already resized to the
// size of its HQ face (scale 1, as GFPGAN trains) in, the restored face out.
//
// The network is a small U-Net without normalisation (EDSR-style residual
// blocks), with the additive skips of GFPGAN's clean U-Net decoder and a
// global residual, so that it learns only the correction of its input:
//
//	h = lrelu(conv_first(x))                         3 -> F*m[0] channels
//	for level i < L-1:                               encoder
//	    h = enc.i.*(h); skip[i] = h                  residual blocks
//	    h = lrelu(down.i(h))                         3x3 stride 2: half the size, F*m[i+1] channels
//	h = body.*(h)                                    residual blocks at 1/2^(L-1) of the size
//	for level i = L-2 ... 0:                         decoder
//	    h = lrelu(up.i(upsample2x(h))) + skip[i]     nearest upsampling, 3x3 conv to F*m[i]
//	    h = dec.i.*(h)
//	y = x + conv_last(h)                             F*m[0] -> 3
//
// with m = ChannelMult and L = len(m) levels; a residual block is
// h + res_scale*conv2(lrelu(conv1(h))), every convolution 3x3 with bias,
// lrelu a leaky ReLU of slope 0.2 (GFPGAN's). With the default two
// downsamplings, an output pixel depends on about 100x100 input pixels
// (most of it through the blocks at a quarter of the size): on a 128-pixel
// face, both eyes with their brows, or the mouth with the nose.
//
// Parameters are named as a PyTorch state dict of the same module tree
// ("conv_first.weight", "enc.0.0.conv1.bias", "down.1.weight",
// "body.3.conv2.weight", "up.0.bias", "conv_last.weight") and initialised
// as PyTorch's defaults. A trained model is a folder with config.json and
// model.safetensors, plus model_ema.safetensors with the averaged weights
// (package modeldir, as srnet's).
package bfrnet

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// Arch is the architecture name in config.json.
const Arch = "bfrnet"

// LeakySlope is the negative slope of every leaky ReLU.
const LeakySlope = 0.2

// Config is the architecture, stored as config.json.
type Config struct {
	Arch       string `json:"arch" yaml:"arch"`
	InChannels int    `json:"in_channels" yaml:"in_channels"` // image channels: 3 (RGB)
	// NumFeat is the number of channels at full resolution; level i has
	// NumFeat*ChannelMult[i].
	NumFeat     int   `json:"num_feat" yaml:"num_feat"`
	ChannelMult []int `json:"channel_mult" yaml:"channel_mult"`
	// LevelBlocks is the number of residual blocks of each level above the
	// lowest, in the encoder and again in the decoder.
	LevelBlocks int `json:"level_blocks" yaml:"level_blocks"`
	// NumBlock is the number of residual blocks at the lowest resolution.
	NumBlock int     `json:"num_block" yaml:"num_block"`
	ResScale float64 `json:"res_scale" yaml:"res_scale"` // residual branch scale
	// FaceSize is the side of the aligned faces the network restores
	// (those it was trained on): test and apply resize faces to it.
	FaceSize int `json:"face_size" yaml:"face_size"`
}

// DefaultConfig returns the network degradiff trains by default: 32
// channels at full resolution, 64 and 128 after the two downsamplings, one
// residual block per level on each side and 4 at a quarter of the size,
// 1,551,747 parameters, for 128x128 faces.
//
// Measured on 2 CPU cores shared with other jobs (so times are
// approximate): the forward and backward pass on 8 faces of 128x128
// (BenchmarkTrainStep) takes 0.9 s with these settings and 0.33 s with 16
// channels (388,803 parameters); a whole training step of "degradiff bfr
// train" (with batch assembly, AdamW and the EMA) takes 0.8 to 1.2 s, so
// bfrtrain's default 3,600 steps (about 29,000 faces) take about an hour.
// Smaller (num_feat 16) or larger networks are a config change away.
func DefaultConfig() Config {
	return Config{Arch: Arch, InChannels: 3, NumFeat: 32, ChannelMult: []int{1, 2, 4}, LevelBlocks: 1, NumBlock: 4, ResScale: 1, FaceSize: 128}
}

// Multiple returns the number every image side must be a multiple of:
// 2^(levels-1). Predict pads other images.
func (c Config) Multiple() int { return 1 << max(len(c.ChannelMult)-1, 0) }

// Validate reports the first unusable setting, naming its key.
func (c Config) Validate() error {
	switch {
	case c.Arch != Arch:
		return fmt.Errorf("bfrnet: arch %q, want %q", c.Arch, Arch)
	case c.InChannels != 3:
		// Images are always decoded to RGB (package imageio).
		return fmt.Errorf("bfrnet: in_channels %d must be 3 (images are read as RGB)", c.InChannels)
	case c.NumFeat < 1:
		return fmt.Errorf("bfrnet: num_feat %d must be positive", c.NumFeat)
	case len(c.ChannelMult) < 1 || len(c.ChannelMult) > 6:
		return fmt.Errorf("bfrnet: channel_mult %v must have 1 to 6 levels", c.ChannelMult)
	case c.LevelBlocks < 0:
		return fmt.Errorf("bfrnet: level_blocks %d must not be negative", c.LevelBlocks)
	case c.NumBlock < 0:
		return fmt.Errorf("bfrnet: num_block %d must not be negative", c.NumBlock)
	case !(c.ResScale > 0) || math.IsInf(c.ResScale, 1):
		return fmt.Errorf("bfrnet: res_scale %v must be positive and finite", c.ResScale)
	case c.FaceSize < c.Multiple() || c.FaceSize%c.Multiple() != 0 || c.FaceSize > 4096:
		return fmt.Errorf("bfrnet: face_size %d must be a multiple of %d (2^downsamplings) up to 4096", c.FaceSize, c.Multiple())
	}
	for i, m := range c.ChannelMult {
		if m < 1 || c.NumFeat*m > 4096 {
			return fmt.Errorf("bfrnet: channel_mult[%d] %d must be at least 1 and num_feat*channel_mult at most 4096", i, m)
		}
	}
	return nil
}

// ParseConfig decodes a config.json, refusing unknown keys.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("bfrnet: config: %w", err)
	}
	return c, c.Validate()
}

// Block is a residual block without normalisation.
type Block struct {
	Conv1, Conv2 *nn.Conv2d
}

func newBlock(name string, ch int, r *rng.Stream) Block {
	return Block{
		Conv1: nn.NewConv2d(name+".conv1", ch, ch, 3, 1, 1, true, r),
		Conv2: nn.NewConv2d(name+".conv2", ch, ch, 3, 1, 1, true, r),
	}
}

// Model is the network.
type Model struct {
	Config    Config
	ConvFirst *nn.Conv2d
	Enc       [][]Block    // Enc[i]: the blocks of level i, i < L-1
	Down      []*nn.Conv2d // Down[i]: level i to i+1
	Body      []Block
	Up        []*nn.Conv2d // Up[i]: level i+1 to i
	Dec       [][]Block
	ConvLast  *nn.Conv2d
}

// New builds a model with PyTorch's default initialisation drawn from r
// (each parameter from its own sub-stream, see package nn).
func New(c Config, r *rng.Stream) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ch := func(i int) int { return c.NumFeat * c.ChannelMult[i] }
	L := len(c.ChannelMult)
	m := &Model{
		Config:    c,
		ConvFirst: nn.NewConv2d("conv_first", c.InChannels, ch(0), 3, 1, 1, true, r),
		ConvLast:  nn.NewConv2d("conv_last", ch(0), c.InChannels, 3, 1, 1, true, r),
	}
	for i := 0; i < L-1; i++ {
		var enc, dec []Block
		for j := 0; j < c.LevelBlocks; j++ {
			enc = append(enc, newBlock(fmt.Sprintf("enc.%d.%d", i, j), ch(i), r))
			dec = append(dec, newBlock(fmt.Sprintf("dec.%d.%d", i, j), ch(i), r))
		}
		m.Enc = append(m.Enc, enc)
		m.Dec = append(m.Dec, dec)
		m.Down = append(m.Down, nn.NewConv2d(fmt.Sprintf("down.%d", i), ch(i), ch(i+1), 3, 2, 1, true, r))
		m.Up = append(m.Up, nn.NewConv2d(fmt.Sprintf("up.%d", i), ch(i+1), ch(i), 3, 1, 1, true, r))
	}
	for j := 0; j < c.NumBlock; j++ {
		m.Body = append(m.Body, newBlock(fmt.Sprintf("body.%d", j), ch(L-1), r))
	}
	return m, nil
}

// Params returns the parameters in module order (conv_first, enc, down,
// body, up, dec, conv_last).
func (m *Model) Params() []*ag.Var {
	ps := m.ConvFirst.Params()
	blocks := func(bs []Block) {
		for _, b := range bs {
			ps = append(ps, b.Conv1.Params()...)
			ps = append(ps, b.Conv2.Params()...)
		}
	}
	for _, e := range m.Enc {
		blocks(e)
	}
	for _, d := range m.Down {
		ps = append(ps, d.Params()...)
	}
	blocks(m.Body)
	for _, u := range m.Up {
		ps = append(ps, u.Params()...)
	}
	for _, d := range m.Dec {
		blocks(d)
	}
	return append(ps, m.ConvLast.Params()...)
}

// block applies a residual block to h, releasing h (in inference mode)
// unless keep is set.
func (m *Model) block(g *ag.Graph, b Block, h *ag.Var, keep bool) *ag.Var {
	t := b.Conv1.Forward(g, h)
	a := g.LeakyReLU(t, LeakySlope)
	g.Release(t)
	u := b.Conv2.Forward(g, a)
	g.Release(a)
	if s := m.Config.ResScale; s != 1 {
		v := g.Scale(u, float32(s))
		g.Release(u)
		u = v
	}
	out := g.Add(h, u)
	g.Release(u)
	if !keep {
		g.Release(h)
	}
	return out
}

// convAct is lrelu(conv(x)), releasing x (in inference mode).
func convAct(g *ag.Graph, c *nn.Conv2d, x *ag.Var) *ag.Var {
	t := c.Forward(g, x)
	g.Release(x)
	a := g.LeakyReLU(t, LeakySlope)
	g.Release(t)
	return a
}

// Forward returns the restored x: x is [N, InChannels, H, W] in [0, 1]
// with H and W multiples of Config.Multiple(), the result has x's shape
// and is not clamped. In inference mode (a graph that does not record)
// intermediates are released as soon as they are used, so memory holds
// the skips and a few feature maps.
func (m *Model) Forward(g *ag.Graph, x *ag.Var) *ag.Var {
	xs := x.Value.Shape
	c := m.Config
	k := c.Multiple()
	tensor.Check(len(xs) == 4 && xs[1] == c.InChannels && xs[2]%k == 0 && xs[3]%k == 0, "bfrnet.Forward",
		fmt.Sprintf("want x [N, %d, H, W] with H and W multiples of %d", c.InChannels, k), xs)
	t := m.ConvFirst.Forward(g, x)
	h := g.LeakyReLU(t, LeakySlope)
	g.Release(t)
	skips := make([]*ag.Var, len(m.Down))
	for i := range m.Down {
		for _, b := range m.Enc[i] {
			h = m.block(g, b, h, false)
		}
		skips[i] = h
		t := m.Down[i].Forward(g, h) // h lives on as the skip
		h = g.LeakyReLU(t, LeakySlope)
		g.Release(t)
	}
	for _, b := range m.Body {
		h = m.block(g, b, h, false)
	}
	for i := len(m.Up) - 1; i >= 0; i-- {
		u := g.UpsampleNearest2x(h)
		g.Release(h)
		a := convAct(g, m.Up[i], u)
		h = g.Add(a, skips[i])
		g.Release(a, skips[i])
		for _, b := range m.Dec[i] {
			h = m.block(g, b, h, false)
		}
	}
	d := m.ConvLast.Forward(g, h)
	g.Release(h)
	out := g.Add(x, d)
	g.Release(d)
	return out
}
