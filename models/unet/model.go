// Package unet is a pure-Go UNet denoiser configured and named exactly like
// diffusers' UNet2DModel (v0.21.1), on degradiff's autograd engine.
//
// A Config holds the keys of diffusers' config.json; New builds the network
// from it with PyTorch's default initialisation, and Load reads a diffusers
// checkpoint folder (config.json + diffusion_pytorch_model.safetensors, or a
// pipeline folder with unet/). Parameter names are the diffusers state-dict
// keys, so Save writes folders that diffusers' from_pretrained loads.
//
// The network: conv_in; a sinusoidal time projection and a two-layer time
// MLP; down blocks of ResNet blocks (each followed by self-attention in
// AttnDownBlock2D) and a stride-2 convolution; a middle block of ResNet,
// attention, ResNet; up blocks that concatenate the skip activations, with
// nearest-neighbour upsampling and a convolution; GroupNorm, SiLU, conv_out.
// Forward builds it on an ag.Graph: in training mode for backpropagation, or
// in inference mode, where every intermediate is released as soon as it is
// dead so that large images fit in memory.
package unet

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

// Model is a UNet2DModel. Its parameters are named as diffusers' state
// dict. A Model may be shared by goroutines that only read it (Forward on
// separate graphs, Predict); training mutates its parameters.
type Model struct {
	cfg    Config
	layout *layoutSpec

	convIn          *nn.Conv2d
	timeL1, timeL2  *nn.Linear
	down            []*level
	mid             *level
	up              []*level
	normOut         *nn.GroupNorm
	convOut         *nn.Conv2d
	params          []*ag.Var
	byName          map[string]*ag.Var
	attnNames       map[string]bool // module paths of the attention blocks
	inferenceGraphs graphCache

	// Hooks, when not nil, receives a copy of the output of every module
	// during Forward, keyed by its diffusers module path: "time_proj",
	// "time_embedding", "conv_in", "down_blocks.0.resnets.0",
	// "down_blocks.1.attentions.0", "down_blocks.0" (a block's output,
	// after its downsampler or upsampler), "mid_block.resnets.0",
	// "mid_block", "up_blocks.2", "conv_norm_out" (after the SiLU) and
	// "conv_out". It is meant for tests and debugging; it is not safe for
	// concurrent Forward calls.
	Hooks map[string]*tensor.Tensor

	// Dropout, when not nil and the config's dropout is positive, applies
	// dropout inside every ResNet block (training); masks are drawn from
	// this stream in a fixed order. When nil, dropout is the identity, as in
	// PyTorch's eval mode.
	Dropout *rng.Stream

	// Source records where a loaded model came from; zero for New.
	Source Source
}

// level is a down, middle or up block.
type level struct {
	spec    *levelSpec
	resnets []*resnetBlock
	attns   []*attnBlock
	resize  *nn.Conv2d // downsamplers.0.conv or upsamplers.0.conv; nil if none
}

// resnetBlock is diffusers' ResnetBlock2D with the "default" time
// embedding: the projected embedding is added after conv1.
type resnetBlock struct {
	spec         resnetSpec
	norm1, norm2 *nn.GroupNorm
	conv1, conv2 *nn.Conv2d
	timeProj     *nn.Linear
	shortcut     *nn.Conv2d // conv_shortcut (1x1) when the channels change
}

// attnBlock is diffusers' Attention with the deprecated attention-block
// layout: group norm, single-head-group q/k/v projections over the pixels,
// residual connection and rescale.
type attnBlock struct {
	spec                 attnSpec
	norm                 *nn.GroupNorm
	toQ, toK, toV, toOut *nn.Linear
}

// builder makes the layers: randomly initialised as PyTorch does when r is
// set, zero-filled (to be loaded) otherwise.
type builder struct {
	r      *rng.Stream
	eps    float32
	groups int
	params []*ag.Var
}

func (b *builder) conv(name string, cin, cout, k, stride, pad int) *nn.Conv2d {
	var c *nn.Conv2d
	if b.r != nil {
		c = nn.NewConv2d(name, cin, cout, k, stride, pad, true, b.r)
	} else {
		c = &nn.Conv2d{
			Weight: ag.Param(name+".weight", tensor.New(cout, cin, k, k)),
			Bias:   ag.Param(name+".bias", tensor.New(cout)),
			Stride: stride, Pad: pad,
		}
	}
	b.params = append(b.params, c.Params()...)
	return c
}

func (b *builder) linear(name string, in, out int) *nn.Linear {
	var l *nn.Linear
	if b.r != nil {
		l = nn.NewLinear(name, in, out, true, b.r)
	} else {
		l = &nn.Linear{
			Weight: ag.Param(name+".weight", tensor.New(out, in)),
			Bias:   ag.Param(name+".bias", tensor.New(out)),
		}
	}
	b.params = append(b.params, l.Params()...)
	return l
}

func (b *builder) norm(name string, ch int) *nn.GroupNorm {
	n := nn.NewGroupNorm(name, b.groups, ch, b.eps)
	b.params = append(b.params, n.Params()...)
	return n
}

func (b *builder) resnet(s resnetSpec, tembDim int) *resnetBlock {
	r := &resnetBlock{spec: s}
	r.norm1 = b.norm(s.name+".norm1", s.in)
	r.conv1 = b.conv(s.name+".conv1", s.in, s.out, 3, 1, 1)
	r.timeProj = b.linear(s.name+".time_emb_proj", tembDim, s.out)
	r.norm2 = b.norm(s.name+".norm2", s.out)
	r.conv2 = b.conv(s.name+".conv2", s.out, s.out, 3, 1, 1)
	if s.in != s.out {
		r.shortcut = b.conv(s.name+".conv_shortcut", s.in, s.out, 1, 1, 0)
	}
	return r
}

func (b *builder) attn(s attnSpec) *attnBlock {
	inner := s.heads * s.headDim
	return &attnBlock{
		spec:  s,
		norm:  b.norm(s.name+".group_norm", s.ch),
		toQ:   b.linear(s.name+".to_q", s.ch, inner),
		toK:   b.linear(s.name+".to_k", s.ch, inner),
		toV:   b.linear(s.name+".to_v", s.ch, inner),
		toOut: b.linear(s.name+".to_out.0", inner, s.ch),
	}
}

// level builds a block; attentions come first as in diffusers' module
// registration order, which fixes the state-dict order.
func (b *builder) level(s *levelSpec, tembDim int, resize func(name string, ch int) *nn.Conv2d) *level {
	lv := &level{spec: s}
	for _, a := range s.attns {
		lv.attns = append(lv.attns, b.attn(a))
	}
	for _, r := range s.resnets {
		lv.resnets = append(lv.resnets, b.resnet(r, tembDim))
	}
	if s.resize {
		lv.resize = resize(s.name, s.ch)
	}
	return lv
}

// New returns a model for cfg with every weight initialised as PyTorch's
// defaults do (Conv2d and Linear: uniform in ±1/sqrt(fan_in); GroupNorm: 1
// and 0), drawn from sub-streams of r named after each parameter. A nil r
// gives zero weights, for loading.
func New(cfg Config, r *rng.Stream) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lay, err := cfg.layout()
	if err != nil {
		return nil, err
	}
	c0 := cfg.BlockOutChannels[0]
	tembDim := 4 * c0
	b := &builder{r: r, eps: float32(cfg.NormEps), groups: cfg.NormNumGroups}
	m := &Model{cfg: cloneConfig(cfg), layout: lay}
	m.convIn = b.conv("conv_in", cfg.InChannels, c0, 3, 1, 1)
	m.timeL1 = b.linear("time_embedding.linear_1", c0, tembDim)
	m.timeL2 = b.linear("time_embedding.linear_2", tembDim, tembDim)
	downPad := cfg.DownsamplePadding
	for i := range lay.down {
		m.down = append(m.down, b.level(&lay.down[i], tembDim, func(name string, ch int) *nn.Conv2d {
			return b.conv(name+".downsamplers.0.conv", ch, ch, 3, 2, downPad)
		}))
	}
	for i := range lay.up {
		m.up = append(m.up, b.level(&lay.up[i], tembDim, func(name string, ch int) *nn.Conv2d {
			return b.conv(name+".upsamplers.0.conv", ch, ch, 3, 1, 1)
		}))
	}
	m.mid = b.level(&lay.mid, tembDim, nil)
	m.normOut = b.norm("conv_norm_out", c0)
	m.convOut = b.conv("conv_out", c0, cfg.OutChannels, 3, 1, 1)

	m.params = b.params
	m.byName = make(map[string]*ag.Var, len(m.params))
	for _, p := range m.params {
		if m.byName[p.Name] != nil {
			panic(fmt.Sprintf("unet.New: parameter %q built twice", p.Name))
		}
		m.byName[p.Name] = p
	}
	m.attnNames = map[string]bool{}
	for _, lv := range append(append(append([]*level(nil), m.down...), m.mid), m.up...) {
		for _, a := range lv.attns {
			m.attnNames[a.spec.name] = true
		}
	}
	return m, nil
}

// MustNew is New for configurations known to be valid (the presets); it
// panics on error.
func MustNew(cfg Config, r *rng.Stream) *Model {
	m, err := New(cfg, r)
	if err != nil {
		panic(err)
	}
	return m
}

// Config returns a copy of the model's configuration.
func (m *Model) Config() Config { return cloneConfig(m.cfg) }

// Params returns the trainable parameters in diffusers' state-dict order.
func (m *Model) Params() []*ag.Var { return m.params }

// Param returns the parameter with the given state-dict key, or nil.
func (m *Model) Param(name string) *ag.Var { return m.byName[name] }

// NumParams returns the number of scalar parameters.
func (m *Model) NumParams() int {
	return nn.Count(m.params)
}

// cloneConfig deep-copies the slices and pointers of c.
func cloneConfig(c Config) Config {
	c.DownBlockTypes = append([]string(nil), c.DownBlockTypes...)
	c.UpBlockTypes = append([]string(nil), c.UpBlockTypes...)
	c.BlockOutChannels = append([]int(nil), c.BlockOutChannels...)
	if c.AttentionHeadDim != nil {
		c.AttentionHeadDim = intPtr(*c.AttentionHeadDim)
	}
	if c.ClassEmbedType != nil {
		s := *c.ClassEmbedType
		c.ClassEmbedType = &s
	}
	if c.NumClassEmbeds != nil {
		c.NumClassEmbeds = intPtr(*c.NumClassEmbeds)
	}
	return c
}
