package unet

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
	"github.com/degradiff/degradiff/rng"
)

// maxPeriod is diffusers' max_period of get_timestep_embedding.
const maxPeriod = 10000

// Forward returns the model output (the predicted noise for an epsilon
// model) for x [N, in_channels, H, W] at the timesteps t, one per sample
// (or a single one for all), as diffusers' UNet2DModel.forward. H and W must
// be multiples of Config.SizeMultiple; ForwardAnySize and Predict pad other
// sizes.
//
// On an inference graph (not recording) every intermediate value is
// released as soon as it is dead, including each skip activation after its
// concatenation, so the peak memory is the live activations of one path
// through the network. x itself is never released.
func (m *Model) Forward(g *ag.Graph, x *ag.Var, t []float32) *ag.Var {
	xs := x.Value.Shape
	mult := m.cfg.SizeMultiple()
	if len(xs) != 4 || xs[1] != m.cfg.InChannels {
		tensor.Fail("unet.Forward", fmt.Sprintf("want x [N, %d, H, W]", m.cfg.InChannels), xs)
	}
	if xs[2]%mult != 0 || xs[3]%mult != 0 || xs[2] <= 0 || xs[3] <= 0 {
		tensor.Fail("unet.Forward", fmt.Sprintf("H and W must be positive multiples of %d (ForwardAnySize pads other sizes)", mult), xs)
	}
	n := xs[0]
	if len(t) != n && len(t) != 1 {
		tensor.Fail("unet.Forward", fmt.Sprintf("%d timesteps for a batch of %d (want one per sample, or one for all)", len(t), n), xs)
	}
	if len(t) == 1 && n != 1 {
		ts := ag.NewSlice[float32](g, n)
		for i := range ts {
			ts[i] = t[0]
		}
		t = ts
	}

	tact := m.timeEmbedding(g, t)

	in := x
	if m.cfg.CenterInputSample {
		s := g.Scale(x, 2)
		in = g.AddScalar(s, -1)
		g.Release(s)
	}
	h := m.convIn.Forward(g, in)
	if in != x {
		g.Release(in)
	}
	m.hook("conv_in", h)

	// Down path: every block input is a skip activation, so only values
	// that are not skips (a resnet output followed by attention) die here.
	skips := append(ag.NewSlice[*ag.Var](g, m.layout.skips())[:0], h)
	for _, lv := range m.down {
		for j, r := range lv.resnets {
			h = m.resnet(g, r, h, tact)
			m.hook(r.spec.name, h)
			if j < len(lv.attns) {
				a := m.attention(g, lv.attns[j], h)
				g.Release(h)
				h = a
				m.hook(lv.attns[j].spec.name, h)
			}
			skips = append(skips, h)
		}
		if lv.resize != nil {
			h = lv.resize.Forward(g, h)
			skips = append(skips, h)
		}
		m.hook(lv.spec.name, h)
	}

	// Middle: its input is the last skip, kept for the first up block.
	mid := m.mid
	h = m.resnet(g, mid.resnets[0], h, tact)
	m.hook(mid.resnets[0].spec.name, h)
	if len(mid.attns) > 0 {
		a := m.attention(g, mid.attns[0], h)
		g.Release(h)
		h = a
		m.hook(mid.attns[0].spec.name, h)
	}
	r1 := m.resnet(g, mid.resnets[1], h, tact)
	g.Release(h)
	h = r1
	m.hook(mid.resnets[1].spec.name, h)
	m.hook(mid.spec.name, h)

	// Up path: each resnet takes concat([h, skip]) and the skip dies there.
	for _, lv := range m.up {
		for j, r := range lv.resnets {
			s := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			cat := g.Concat(1, h, s)
			g.Release(h, s)
			h = m.resnet(g, r, cat, tact)
			g.Release(cat)
			m.hook(r.spec.name, h)
			if j < len(lv.attns) {
				a := m.attention(g, lv.attns[j], h)
				g.Release(h)
				h = a
				m.hook(lv.attns[j].spec.name, h)
			}
		}
		if lv.resize != nil {
			u := upsampleConv(g, lv.resize, h)
			g.Release(h)
			h = u
		}
		m.hook(lv.spec.name, h)
	}
	if len(skips) != 0 {
		panic(fmt.Sprintf("unet.Forward: %d skip activations left over: inconsistent layout", len(skips)))
	}
	g.Release(tact)

	o := m.normOut.ForwardSiLU(g, h)
	g.Release(h)
	m.hook("conv_norm_out", o)
	y := m.convOut.Forward(g, o)
	g.Release(o)
	m.hook("conv_out", y)
	return y
}

// timeEmbedding returns SiLU(time_embedding(time_proj(t))), the activated
// embedding every ResNet block projects.
func (m *Model) timeEmbedding(g *ag.Graph, t []float32) *ag.Var {
	tp := g.TimestepEmbedding(t, m.cfg.BlockOutChannels[0], m.cfg.FlipSinToCos, float32(m.cfg.FreqShift), maxPeriod)
	m.hook("time_proj", tp)
	e1 := m.timeL1.Forward(g, tp)
	g.Release(tp)
	e2 := g.SiLU(e1)
	g.Release(e1)
	emb := m.timeL2.Forward(g, e2)
	g.Release(e2)
	m.hook("time_embedding", emb)
	act := g.SiLU(emb)
	g.Release(emb)
	return act
}

// resnet is ResnetBlock2D.forward with time_embedding_norm "default":
// conv2(dropout(silu(norm2(conv1(silu(norm1(x))) + proj(temb))))) plus the
// (projected) input, divided by output_scale_factor. x is not released.
func (m *Model) resnet(g *ag.Graph, r *resnetBlock, x, tact *ag.Var) *ag.Var {
	n := x.Value.Shape[0]
	h := r.norm1.ForwardSiLU(g, x)
	p := r.timeProj.Forward(g, tact)
	var h2 *ag.Var
	if c := r.conv1; n == 1 && c.Bias != nil {
		// One sample: add the projection to conv1's bias rather than
		// to its output, saving a pass over the activation.
		b := g.Add(c.Bias, g.Reshape(p, r.spec.out))
		h2 = g.Conv2d(h, c.Weight, b, c.Stride, c.Pad)
		g.Release(b, p)
	} else {
		h1 := c.Forward(g, h)
		p4 := g.Reshape(p, n, r.spec.out, 1, 1) // shares p's buffer
		h2 = g.Add(h1, p4)
		g.Release(h1, p4)
	}
	g.Release(h)
	h3 := r.norm2.ForwardSiLU(g, h2)
	g.Release(h2)
	h3 = m.dropout(g, h3)
	h4 := r.conv2.Forward(g, h3)
	g.Release(h3)
	sc := x
	if r.shortcut != nil {
		sc = r.shortcut.Forward(g, x)
	}
	out := g.Add(sc, h4)
	g.Release(h4)
	if sc != x {
		g.Release(sc)
	}
	if r.spec.scale != 1 {
		s := g.Scale(out, float32(1/r.spec.scale))
		g.Release(out)
		out = s
	}
	return out
}

// attention is diffusers' Attention (AttnProcessor) on a feature map with
// group_norm, residual_connection and rescale_output_factor: the pixels are
// the tokens. x is not released.
func (m *Model) attention(g *ag.Graph, a *attnBlock, x *ag.Var) *ag.Var {
	xs := x.Value.Shape
	n, c, hh, ww := xs[0], xs[1], xs[2], xs[3]
	hn := a.norm.Forward(g, x)
	tok := g.Permute(g.Reshape(hn, n, c, hh*ww), 0, 2, 1) // [N, HW, C]
	g.Release(hn)
	q := a.toQ.Forward(g, tok)
	k := a.toK.Forward(g, tok)
	v := a.toV.Forward(g, tok)
	g.Release(tok)
	o := g.Attention(q, k, v, a.spec.heads)
	g.Release(q, k, v)
	p := a.toOut.Forward(g, o)
	g.Release(o)
	pt := g.Permute(p, 0, 2, 1) // [N, C, HW]
	g.Release(p)
	y := g.Add(g.Reshape(pt, n, c, hh, ww), x)
	g.Release(pt)
	if a.spec.rescale != 1 {
		s := g.Scale(y, float32(1/a.spec.rescale))
		g.Release(y)
		y = s
	}
	return y
}

// dropoutGrain is the number of mask values drawn per sub-stream, so that
// masks are drawn in parallel yet do not depend on the worker count.
const dropoutGrain = 1 << 14

// dropout zeroes each value of h with probability cfg.Dropout and scales
// the rest by 1/(1-p), as torch.nn.Dropout in training mode, when m.Dropout
// is set. It releases h when it replaces it.
func (m *Model) dropout(g *ag.Graph, h *ag.Var) *ag.Var {
	p := m.cfg.Dropout
	if m.Dropout == nil || p == 0 {
		return h
	}
	mask := g.AllocUninit(h.Value.Shape...)
	// One draw from the caller's stream keys this mask; fixed chunks get
	// their own sub-streams.
	l := dropoutLoop{mask: mask.Data, p: p, keep: float32(1 / (1 - p)), key: m.Dropout.Uint64()}
	parallel.Loop((len(l.mask)+dropoutGrain-1)/dropoutGrain, 1, l)
	mv := g.Result(mask)
	out := g.Mul(h, mv)
	g.Release(h, mv)
	return out
}

// dropoutLoop draws the mask values of chunks [lo, hi), dropoutGrain
// values each: 0 with probability p, keep otherwise, chunk ci from the
// sub-stream of the stream keyed key named ci in decimal.
type dropoutLoop struct {
	mask []float32
	p    float64
	keep float32
	key  uint64
}

func (l *dropoutLoop) Run(lo, hi int) {
	base := rng.FromKey(l.key)
	var name [20]byte
	for ci := lo; ci < hi; ci++ {
		s := base.Derive(string(strconv.AppendInt(name[:0], int64(ci), 10)))
		for i := ci * dropoutGrain; i < min((ci+1)*dropoutGrain, len(l.mask)); i++ {
			if s.Float64() < l.p {
				l.mask[i] = 0
			} else {
				l.mask[i] = l.keep
			}
		}
	}
}

// hook stores a copy of v under name when m.Hooks is set.
func (m *Model) hook(name string, v *ag.Var) {
	if m.Hooks != nil {
		m.Hooks[name] = v.Value.Clone()
	}
}

// ForwardAnySize is Forward for any H and W: it pads x to the next
// multiples of Config.SizeMultiple, splitting the padding between the two
// sides, with reflect padding (PyTorch's "reflect") or, where an image is
// too small to reflect that far, by repeating its edge; then it crops the
// output back to H×W.
func (m *Model) ForwardAnySize(g *ag.Graph, x *ag.Var, t []float32) *ag.Var {
	xs := x.Value.Shape
	tensor.Check(len(xs) == 4 && xs[2] > 0 && xs[3] > 0, "unet.ForwardAnySize", "want x [N, C, H, W] with H, W > 0", xs)
	h, w := xs[2], xs[3]
	mult := m.cfg.SizeMultiple()
	ph, pw := (mult-h%mult)%mult, (mult-w%mult)%mult
	if ph == 0 && pw == 0 {
		return m.Forward(g, x, t)
	}
	top, left := ph/2, pw/2
	xp := padAxis(g, x, 2, top, ph-top)
	xq := padAxis(g, xp, 3, left, pw-left)
	if xp != x && xp != xq {
		g.Release(xp)
	}
	y := m.Forward(g, xq, t)
	if xq != x {
		g.Release(xq)
	}
	out := g.Crop2d(y, top, left, h, w)
	g.Release(y)
	return out
}

// padAxis pads axis 2 (H) or 3 (W) of x by lo before and hi after: by
// reflection when both fit inside the axis, else by repeating the edge.
func padAxis(g *ag.Graph, x *ag.Var, axis, lo, hi int) *ag.Var {
	if lo == 0 && hi == 0 {
		return x
	}
	xs := x.Value.Shape
	n := xs[axis]
	if lo < n && hi < n {
		if axis == 2 {
			return g.Pad2dReflect(x, lo, hi, 0, 0)
		}
		return g.Pad2dReflect(x, 0, 0, lo, hi)
	}
	edge := func(i int) *ag.Var {
		if axis == 2 {
			return g.Crop2d(x, i, 0, 1, xs[3])
		}
		return g.Crop2d(x, 0, i, xs[2], 1)
	}
	first, last := edge(0), edge(n-1)
	parts := ag.NewSlice[*ag.Var](g, lo+hi+1)[:0]
	for range lo {
		parts = append(parts, first)
	}
	parts = append(parts, x)
	for range hi {
		parts = append(parts, last)
	}
	out := g.Concat(axis, parts...)
	g.Release(first, last)
	return out
}

// Predict runs the model in inference mode on x [N, in_channels, H, W] of
// any size (see ForwardAnySize) at timesteps t and returns a new tensor.
// It is safe for concurrent use; each concurrent call keeps its own buffer
// pool between calls (FreeMemory drops them). It panics if x does not have
// the model's input channels.
func (m *Model) Predict(x *tensor.Tensor, t []float32) *tensor.Tensor {
	g := m.inferenceGraphs.get()
	defer m.inferenceGraphs.put(g)
	return m.ForwardAnySize(g, ag.Const(x), t).Value.Clone()
}

// FreeMemory drops the buffer pools that Predict keeps between calls.
func (m *Model) FreeMemory() { m.inferenceGraphs.clear() }

// graphCache holds idle inference graphs, whose pools make repeated
// Predict calls allocation-free.
type graphCache struct {
	mu   sync.Mutex
	free []*ag.Graph
}

func (c *graphCache) get() *ag.Graph {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := len(c.free); k > 0 {
		g := c.free[k-1]
		c.free = c.free[:k-1]
		return g
	}
	return ag.NewGraph(false)
}

func (c *graphCache) put(g *ag.Graph) {
	g.Reset()
	c.mu.Lock()
	c.free = append(c.free, g)
	c.mu.Unlock()
}

func (c *graphCache) clear() {
	c.mu.Lock()
	c.free = nil
	c.mu.Unlock()
}

// upsampleTaps lists, for output phase a (row or column parity) and tap u
// of the folded 2x2 kernel, the rows (or columns) of the 3x3 kernel that
// land on it: output row 2i+a of a 3x3 convolution of the nearest-upsampled
// input reads input rows i-1+a and i+a, the middle one twice or once.
var upsampleTaps = [2][2][]int{{{0}, {1, 2}}, {{0, 1}, {2}}}

// upsampleConv returns c(UpsampleNearest2x(x)) for the upsamplers' 3x3,
// stride 1, pad 1 convolution c. It runs as one 2x2 convolution of x (pad
// 1) with 4·Cout outputs, one set per output phase, whose weights sum the
// 3x3 taps that see the same input pixel: 16/36 of the multiply-adds and no
// upsampled copy, forward and backward. Inference and training graphs take
// the same path, so they compute the same values.
func upsampleConv(g *ag.Graph, c *nn.Conv2d, x *ag.Var) *ag.Var {
	ws := c.Weight.Value.Shape
	if c.Stride != 1 || c.Pad != 1 || ws[2] != 3 || ws[3] != 3 {
		u := g.UpsampleNearest2x(x)
		y := c.Forward(g, u)
		g.Release(u)
		return y
	}
	wv := upsampleFold(g, c.Weight)
	var bv *ag.Var
	if c.Bias != nil {
		bv = upsampleBias(g, c.Bias)
	}
	p := g.Conv2d(x, wv, bv, 1, 1) // [N, 4·Cout, H+1, W+1]
	g.Release(wv, bv)
	y := upsampleInterleave(g, p)
	g.Release(p)
	return y
}

// upsampleFold returns the [4·Cout, Cin, 2, 2] weights of upsampleConv from
// the [Cout, Cin, 3, 3] weights w: phase (a, b) holds the outputs
// (2a+b)·Cout + o.
func upsampleFold(g *ag.Graph, w *ag.Var) *ag.Var {
	ws := w.Value.Shape
	m := ws[0] * ws[1] // kernels per phase
	out := g.AllocUninit(4*ws[0], ws[1], 2, 2)
	wd, od := w.Value.Data, out.Data
	for k := range m {
		t := wd[k*9 : k*9+9]
		// The rows that phase a's tap u sums (upsampleTaps), indexed 2a+u.
		rows := [4][3]float32{
			{t[0], t[1], t[2]},
			{t[3] + t[6], t[4] + t[7], t[5] + t[8]},
			{t[0] + t[3], t[1] + t[4], t[2] + t[5]},
			{t[6], t[7], t[8]},
		}
		for a := range 2 {
			d0 := od[((2*a)*m+k)*4:][:4]   // phase (a, 0)
			d1 := od[((2*a+1)*m+k)*4:][:4] // phase (a, 1)
			for u := range 2 {
				r := &rows[2*a+u]
				d0[2*u], d0[2*u+1] = r[0], r[1]+r[2]
				d1[2*u], d1[2*u+1] = r[0]+r[1], r[2]
			}
		}
	}
	y := g.Result(out, w)
	if y.RequiresGrad() {
		n := ag.New[foldNode](g)
		*n = foldNode{w: w, y: y}
		g.RecordNode(y, n)
	}
	return y
}

// foldNode is the tape node of upsampleFold.
type foldNode struct{ w, y *ag.Var }

func (n *foldNode) Backward(g *ag.Graph) {
	ws := n.w.Value.Shape
	m := ws[0] * ws[1]
	gw, gy := g.GradOf(n.w).Data, n.y.Grad.Data
	for a := range 2 {
		for b := range 2 {
			for k := range m {
				dst := gw[k*9 : k*9+9]
				src := gy[((2*a+b)*m+k)*4:][:4]
				for u := range 2 {
					for v := range 2 {
						for _, r := range upsampleTaps[a][u] {
							for _, s := range upsampleTaps[b][v] {
								dst[3*r+s] += src[2*u+v]
							}
						}
					}
				}
			}
		}
	}
}

// upsampleBias returns the bias b repeated for the four phases.
func upsampleBias(g *ag.Graph, b *ag.Var) *ag.Var {
	co := len(b.Value.Data)
	out := g.AllocUninit(4 * co)
	for p := range 4 {
		copy(out.Data[p*co:(p+1)*co], b.Value.Data)
	}
	y := g.Result(out, b)
	if y.RequiresGrad() {
		n := ag.New[repeatNode](g)
		*n = repeatNode{b: b, y: y}
		g.RecordNode(y, n)
	}
	return y
}

// repeatNode is the tape node of upsampleBias.
type repeatNode struct{ b, y *ag.Var }

func (n *repeatNode) Backward(g *ag.Graph) {
	gb := g.GradOf(n.b)
	co := len(gb.Data)
	for p := range 4 {
		for o, v := range n.y.Grad.Data[p*co : (p+1)*co] {
			gb.Data[o] += v
		}
	}
}

// upsampleInterleave returns y [N, Cout, 2H, 2W] from the phase outputs p
// [N, 4·Cout, H+1, W+1]: y[n, o, 2i+a, 2j+b] = p[n, (2a+b)·Cout+o, i+a, j+b].
func upsampleInterleave(g *ag.Graph, p *ag.Var) *ag.Var {
	ps := p.Value.Shape
	l := interleaveLoop{co: ps[1] / 4, h: ps[2] - 1, w: ps[3] - 1}
	planes := ps[0] * l.co
	out := g.AllocUninit(ps[0], l.co, 2*l.h, 2*l.w)
	l.p, l.y = p.Value.Data, out.Data
	parallel.Loop(planes, 1, l)
	y := g.Result(out, p)
	if y.RequiresGrad() {
		l.p, l.y = nil, nil
		n := ag.New[interleaveNode](g)
		*n = interleaveNode{p: p, y: y, l: l, planes: planes}
		g.RecordNode(y, n)
	}
	return y
}

// interleaveNode is the tape node of upsampleInterleave.
type interleaveNode struct {
	p, y   *ag.Var
	l      interleaveLoop
	planes int
}

func (n *interleaveNode) Backward(g *ag.Graph) {
	l := n.l
	l.p, l.y, l.grad = g.GradOf(n.p).Data, n.y.Grad.Data, true
	parallel.Loop(n.planes, 1, l)
}

// interleaveLoop copies the phase planes p [N, 4·co, h+1, w+1] into the
// output planes [lo, hi) of y [N, co, 2h, 2w] or, with grad, adds the
// gradients y back into p.
type interleaveLoop struct {
	co, h, w int
	p, y     []float32
	grad     bool
}

func (l *interleaveLoop) Run(lo, hi int) {
	co, h, w := l.co, l.h, l.w
	ph, pw := h+1, w+1
	for t := lo; t < hi; t++ {
		ni, o := t/co, t%co
		yt := l.y[t*4*h*w : (t+1)*4*h*w]
		for a := range 2 {
			for b := range 2 {
				pl := l.p[((ni*4+2*a+b)*co+o)*ph*pw:][:ph*pw]
				for i := range h {
					pp, yy := pl[(i+a)*pw+b:][:w], yt[(2*i+a)*2*w+b:][:2*w-1]
					if l.grad {
						for j := range pp {
							pp[j] += yy[2*j]
						}
					} else {
						for j, v := range pp {
							yy[2*j] = v
						}
					}
				}
			}
		}
	}
}
