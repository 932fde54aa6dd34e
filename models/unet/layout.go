package unet

import "fmt"

// resnetSpec describes one ResnetBlock2D.
type resnetSpec struct {
	name    string // module path, e.g. "down_blocks.0.resnets.1"
	in, out int
	scale   float64 // output_scale_factor
}

// attnSpec describes one deprecated-layout attention block.
type attnSpec struct {
	name           string
	ch             int // channels of the feature map (query_dim)
	heads, headDim int // inner dim = heads*headDim
	rescale        float64
}

// levelSpec is one down or up block.
type levelSpec struct {
	name    string // "down_blocks.i" or "up_blocks.i"
	resnets []resnetSpec
	attns   []attnSpec // nil for blocks without attention
	resize  bool       // has a downsampler (down) or upsampler (up)
	ch      int        // output channels
}

// layoutSpec is the whole network, derived from a Config exactly as
// diffusers' UNet2DModel.__init__ derives it.
type layoutSpec struct {
	down []levelSpec
	mid  levelSpec // resnets[0], attns (0 or 1), resnets[1]
	up   []levelSpec
}

// layout derives the module structure of c and checks that every group
// normalisation and attention fits its channels.
func (c Config) layout() (*layoutSpec, error) {
	n := len(c.BlockOutChannels)
	groups := c.NormNumGroups
	checkNorm := func(name string, ch int) error {
		if ch%groups != 0 {
			return fmt.Errorf("unet: config: norm_num_groups: %d groups do not divide the %d channels of %s", groups, ch, name)
		}
		return nil
	}
	attn := func(name string, ch int, rescale float64) (attnSpec, error) {
		headDim := ch
		if c.AttentionHeadDim != nil {
			headDim = *c.AttentionHeadDim
		}
		heads := ch / headDim
		if heads < 1 {
			return attnSpec{}, fmt.Errorf("unet: config: attention_head_dim: %d exceeds the %d channels of %s", headDim, ch, name)
		}
		return attnSpec{name: name, ch: ch, heads: heads, headDim: headDim, rescale: rescale}, checkNorm(name+".group_norm", ch)
	}
	resnet := func(name string, in, out int, scale float64) (resnetSpec, error) {
		if err := checkNorm(name+".norm1", in); err != nil {
			return resnetSpec{}, err
		}
		return resnetSpec{name: name, in: in, out: out, scale: scale}, checkNorm(name+".norm2", out)
	}

	l := &layoutSpec{}
	out := c.BlockOutChannels[0]
	if err := checkNorm("conv_norm_out", out); err != nil {
		return nil, err
	}
	for i, typ := range c.DownBlockTypes {
		in := out
		out = c.BlockOutChannels[i]
		lv := levelSpec{name: fmt.Sprintf("down_blocks.%d", i), resize: i < n-1, ch: out}
		hasAttn := blockKind(typ) == AttnDownBlock2D
		for j := 0; j < c.LayersPerBlock; j++ {
			rin := out
			if j == 0 {
				rin = in
			}
			r, err := resnet(fmt.Sprintf("%s.resnets.%d", lv.name, j), rin, out, 1)
			if err != nil {
				return nil, err
			}
			lv.resnets = append(lv.resnets, r)
			if hasAttn {
				a, err := attn(fmt.Sprintf("%s.attentions.%d", lv.name, j), out, 1)
				if err != nil {
					return nil, err
				}
				lv.attns = append(lv.attns, a)
			}
		}
		l.down = append(l.down, lv)
	}

	midCh := c.BlockOutChannels[n-1]
	l.mid = levelSpec{name: "mid_block", ch: midCh}
	for j := 0; j < 2; j++ {
		r, err := resnet(fmt.Sprintf("mid_block.resnets.%d", j), midCh, midCh, c.MidBlockScaleFactor)
		if err != nil {
			return nil, err
		}
		l.mid.resnets = append(l.mid.resnets, r)
	}
	if c.AddAttention {
		a, err := attn("mid_block.attentions.0", midCh, c.MidBlockScaleFactor)
		if err != nil {
			return nil, err
		}
		l.mid.attns = []attnSpec{a}
	}

	rev := make([]int, n)
	for i, ch := range c.BlockOutChannels {
		rev[n-1-i] = ch
	}
	out = rev[0]
	layers := c.LayersPerBlock + 1
	for i, typ := range c.UpBlockTypes {
		prev := out
		out = rev[i]
		in := rev[min(i+1, n-1)]
		lv := levelSpec{name: fmt.Sprintf("up_blocks.%d", i), resize: i < n-1, ch: out}
		hasAttn := blockKind(typ) == AttnUpBlock2D
		for j := 0; j < layers; j++ {
			skip := out
			if j == layers-1 {
				skip = in
			}
			rin := out
			if j == 0 {
				rin = prev
			}
			r, err := resnet(fmt.Sprintf("%s.resnets.%d", lv.name, j), rin+skip, out, 1)
			if err != nil {
				return nil, err
			}
			lv.resnets = append(lv.resnets, r)
			if hasAttn {
				a, err := attn(fmt.Sprintf("%s.attentions.%d", lv.name, j), out, 1)
				if err != nil {
					return nil, err
				}
				lv.attns = append(lv.attns, a)
			}
		}
		l.up = append(l.up, lv)
	}
	return l, nil
}

// skips returns the number of skip activations of the down path: conv_in's
// output, and the output of every down resnet (or its attention) and
// downsampler.
func (l *layoutSpec) skips() int {
	n := 1
	for _, lv := range l.down {
		n += len(lv.resnets)
		if lv.resize {
			n++
		}
	}
	return n
}
