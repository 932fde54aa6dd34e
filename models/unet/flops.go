package unet

// FLOPs returns the floating-point operations (2 per multiply-add) of one
// forward pass on a batch-1 h x w input (sides multiples of SizeMultiple),
// counting the convolutions, the attention projections and products, and
// the time embedding; normalisations and activations, which are linear in
// the size and minor, are left out. Upsampling is counted as the nominal
// nearest-x2 then 3x3 convolution of diffusers; degradiff folds it into a
// 2x2 convolution that needs 16/36 of those operations.
func (c Config) FLOPs(h, w int) (float64, error) {
	l, err := c.layout()
	if err != nil {
		return 0, err
	}
	conv := func(in, out, k, oh, ow int) float64 { return 2 * float64(in*out*k*k) * float64(oh*ow) }
	temb := 4 * c.BlockOutChannels[0]
	resnet := func(r resnetSpec, hh, ww int) float64 {
		f := conv(r.in, r.out, 3, hh, ww) + conv(r.out, r.out, 3, hh, ww) + 2*float64(temb*r.out)
		if r.in != r.out {
			f += conv(r.in, r.out, 1, hh, ww)
		}
		return f
	}
	attn := func(a attnSpec, hh, ww int) float64 {
		tokens := float64(hh * ww)
		inner := float64(a.heads * a.headDim)
		proj := 2 * tokens * float64(a.ch) * inner * 4 // q, k, v and out
		return proj + 2*2*tokens*tokens*inner          // scores and weighted values
	}
	c0 := c.BlockOutChannels[0]
	total := conv(c.InChannels, c0, 3, h, w) + 2*float64(c0*temb+temb*temb)
	hh, ww := h, w
	for _, lv := range l.down {
		for i, r := range lv.resnets {
			total += resnet(r, hh, ww)
			if lv.attns != nil {
				total += attn(lv.attns[i], hh, ww)
			}
		}
		if lv.resize {
			hh, ww = hh/2, ww/2
			total += conv(lv.ch, lv.ch, 3, hh, ww)
		}
	}
	for _, r := range l.mid.resnets {
		total += resnet(r, hh, ww)
	}
	for _, a := range l.mid.attns {
		total += attn(a, hh, ww)
	}
	for _, lv := range l.up {
		for i, r := range lv.resnets {
			total += resnet(r, hh, ww)
			if lv.attns != nil {
				total += attn(lv.attns[i], hh, ww)
			}
		}
		if lv.resize {
			hh, ww = 2*hh, 2*ww
			total += conv(lv.ch, lv.ch, 3, hh, ww)
		}
	}
	total += conv(c0, c.OutChannels, 3, h, w)
	return total, nil
}
