package c2st

import (
	"math"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/rng"
)

// leak is the negative slope of the leaky ReLUs.
const leak = 0.2

var fcIn = 2

// net is the classifier: three 3x3 convolutions (the last two with stride
// 2), leaky ReLUs, global average pooling and a linear logit. Global
// pooling makes it a detector of local statistics (noise, blur, blocking,
// colour), which is what distinguishes degradations, not of content.
type net struct {
	c1, c2, c3 *nn.Conv2d
	fc         *nn.Linear
}

var expHe = false

func heInit(c *nn.Conv2d, r *rng.Stream) {
	w := c.Weight.Value
	fanIn := w.Shape[1] * w.Shape[2] * w.Shape[3]
	std := math.Sqrt(2 / ((1 + leak*leak) * float64(fanIn)))
	s := r.Derive(c.Weight.Name, "he")
	for i := range w.Data {
		w.Data[i] = float32(std * s.Norm())
	}
	if c.Bias != nil {
		clear(c.Bias.Value.Data)
	}
}

func newNet(width int, r *rng.Stream) *net {
	m := newNet0(width, r)
	if expHe {
		heInit(m.c1, r)
		heInit(m.c2, r)
		heInit(m.c3, r)
	}
	return m
}

func newNet0(width int, r *rng.Stream) *net {
	return &net{
		c1: nn.NewConv2d("c1", 3, width, 3, 1, 1, true, r),
		c2: nn.NewConv2d("c2", width, 2*width, 3, 2, 1, true, r),
		c3: nn.NewConv2d("c3", 2*width, 2*width, 3, 2, 1, true, r),
		fc: nn.NewLinear("fc", fcIn*width, 1, true, r),
	}
}

func (m *net) params() []*ag.Var { return nn.Collect(m.c1, m.c2, m.c3, m.fc) }

// forward returns the logits [N, 1] of x [N, 3, S, S].
var expScale float32 = 1
var expEnergy = false
var expLog = false

func (m *net) forward(g *ag.Graph, x *ag.Var) *ag.Var {
	if expScale != 1 {
		x = g.Scale(g.AddScalar(x, -0.5), expScale)
	}
	h1 := m.c1.Forward(g, x)
	h := g.LeakyReLU(h1, leak)
	h = g.LeakyReLU(m.c2.Forward(g, h), leak)
	h3 := m.c3.Forward(g, h)
	h = g.LeakyReLU(h3, leak)
	if expLog {
		return m.fc.Forward(g, g.Concat(1, g.MeanAxes(h, false, 2, 3), logEnergy(g, h1, 1e-4), logEnergy(g, h3, 1e-4)))
	}
	if expEnergy {
		return m.fc.Forward(g, g.Concat(1, g.MeanAxes(h, false, 2, 3), g.MeanAxes(g.Square(h), false, 2, 3)))
	}
	return m.fc.Forward(g, g.MeanAxes(h, false, 2, 3))
}

// train fits the network to d and returns the mean loss of the last epoch.
func (m *net) train(d *dataset, opt Options, r *rng.Stream) (float64, error) {
	params := m.params()
	cfg := optim.DefaultAdamW()
	cfg.LR = opt.LR
	o, err := optim.NewAdamW(params, cfg)
	if err != nil {
		return 0, err
	}
	g := ag.NewGraph(true)
	s := opt.PatchSize
	n := len(d.patches)
	bs := min(opt.BatchSize, n)
	x := tensor.New(bs, 3, s, s)
	labels := make([]float32, bs)
	last := 0.0
	for epoch := 0; epoch < opt.Epochs; epoch++ {
		order := r.Perm(n)
		sum, batches := 0.0, 0
		// Whole batches only: the remainder waits for the next shuffle.
		for b := 0; b+bs <= n; b += bs {
			for i, j := range order[b : b+bs] {
				flipInto(x.Data[i*3*s*s:(i+1)*3*s*s], d.patches[j], s, r.Uint64())
				labels[i] = d.labels[j]
			}
			loss := bceWithLogits(g, m.forward(g, ag.Const(x)), labels)
			sum += float64(loss.Value.Data[0])
			batches++
			g.Backward(loss)
			o.Step()
			ag.ZeroGrad(params)
			g.Reset()
		}
		last = sum / float64(batches)
	}
	return last, nil
}

// flipInto copies the 3 x s x s patch src into dst, flipped horizontally
// if bit 0 of bits is set and vertically if bit 1 is. An s that is a
// multiple of 8 keeps a grid-aligned 8x8 block structure aligned.
func flipInto(dst, src []float32, s int, bits uint64) {
	fx, fy := bits&1 != 0, bits&2 != 0
	for c := 0; c < 3; c++ {
		for y := 0; y < s; y++ {
			sy := y
			if fy {
				sy = s - 1 - y
			}
			in := src[(c*s+sy)*s : (c*s+sy+1)*s]
			out := dst[(c*s+y)*s : (c*s+y+1)*s]
			if !fx {
				copy(out, in)
				continue
			}
			for x := range out {
				out[x] = in[s-1-x]
			}
		}
	}
}

// balancedAccuracy returns the mean over the two labels of the share of
// d's patches whose logit has the label's sign (positive for label 1).
func (m *net) balancedAccuracy(d *dataset, opt Options) float64 {
	g := ag.NewGraph(false)
	s := opt.PatchSize
	var correct, total [2]int
	for b := 0; b < len(d.patches); b += opt.BatchSize {
		e := min(b+opt.BatchSize, len(d.patches))
		x := tensor.New(e-b, 3, s, s)
		for i := b; i < e; i++ {
			copy(x.Data[(i-b)*3*s*s:], d.patches[i])
		}
		logits := m.forward(g, ag.Const(x)).Value.Data
		for i, z := range logits {
			l := int(d.labels[b+i])
			total[l]++
			if (z > 0) == (l == 1) {
				correct[l]++
			}
		}
		g.Reset()
	}
	return 0.5 * (float64(correct[0])/float64(total[0]) + float64(correct[1])/float64(total[1]))
}

// bceWithLogits returns the mean binary cross-entropy of logits z (any
// shape, one per label) against labels y in {0, 1}, shape [1]:
// mean(max(z, 0) − z·y + log(1 + exp(−|z|))), the overflow-free form of
// −y·log σ(z) − (1−y)·log(1−σ(z)). Its gradient is (σ(z) − y)/N. Sums are
// float64 in index order.
func bceWithLogits(g *ag.Graph, z *ag.Var, y []float32) *ag.Var {
	zd := z.Value.Data
	if len(zd) != len(y) {
		panic("c2st.bceWithLogits: logits and labels differ in length")
	}
	sum := 0.0
	for i, v := range zd {
		zv := float64(v)
		sum += max(zv, 0) - zv*float64(y[i]) + math.Log1p(math.Exp(-math.Abs(zv)))
	}
	out := g.AllocUninit(1)
	out.Data[0] = float32(sum / float64(len(zd)))
	res := g.Result(out, z)
	if !res.RequiresGrad() {
		return res
	}
	// The caller may reuse its label slice before Backward.
	labels := g.AllocUninit(len(y)).Data
	copy(labels, y)
	g.Record(res, func() {
		gz := g.GradOf(z)
		if gz == nil {
			return
		}
		scale := float64(res.Grad.Data[0]) / float64(len(zd))
		for i, v := range zd {
			gz.Data[i] += float32((1/(1+math.Exp(-float64(v))) - float64(labels[i])) * scale)
		}
	})
	return res
}

// logEnergy returns log(mean over H, W of h² + eps) of h [N, C, H, W], as
// [N, C]: the log power of each feature map, a scale-free summary of how
// strongly a (learned) filter responds, which is what noise and blur
// change. Sums are float64 in index order.
func logEnergy(g *ag.Graph, h *ag.Var, eps float64) *ag.Var {
	s := h.Value.Shape
	n, c, hw := s[0], s[1], s[2]*s[3]
	hd := h.Value.Data
	out := g.AllocUninit(n, c)
	energy := make([]float64, n*c)
	for i := range energy {
		sum := 0.0
		for _, v := range hd[i*hw : (i+1)*hw] {
			sum += float64(v) * float64(v)
		}
		energy[i] = sum/float64(hw) + eps
		out.Data[i] = float32(math.Log(energy[i]))
	}
	res := g.Result(out, h)
	if !res.RequiresGrad() {
		return res
	}
	g.Record(res, func() {
		gh := g.GradOf(h)
		if gh == nil {
			return
		}
		for i, e := range energy {
			k := float32(2 * float64(res.Grad.Data[i]) / (float64(hw) * e))
			dst := gh.Data[i*hw : (i+1)*hw]
			for j, v := range hd[i*hw : (i+1)*hw] {
				dst[j] += k * v
			}
		}
	})
	return res
}
