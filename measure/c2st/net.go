package c2st

import (
	"math"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/optim"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/rng"
)

const (
	// leak is the negative slope of the leaky ReLUs.
	leak = 0.2
	// residualGain scales the residuals so that noise of σ = 10/255
	// becomes about 0.6, the scale of PyTorch's default initialisation.
	residualGain = 16
)

// prepare returns the network input for a 3 x s x s patch: its high-pass
// residuals residualGain·(p − box), with box the 3x3 mean (mirrored
// edges).
//
// Residuals serve two ends. Forensic networks start from fixed residuals
// (the SRM filters of steganalysis) because learning a high-pass filter
// from scratch is slow: this small network otherwise needs hundreds of
// steps more to notice noise of σ = 10/255. And they hide most of what
// differs between any two photo collections, scene content, colour and
// exposure, which the network would otherwise learn from a few dozen
// training images instead of the degradations: with the plain image as
// extra input, the accuracy for noise of σ = 4/255 on 30 generated images
// per set fell from 0.85 to 0.52. Colour statistics are compared by the feature
// distances of package measure instead.
func prepare(p []float32, s int) []float32 {
	out := make([]float32, 3*s*s)
	for c := 0; c < 3; c++ {
		src := p[c*s*s : (c+1)*s*s]
		res := out[c*s*s : (c+1)*s*s]
		for y := 0; y < s; y++ {
			rows := [3][]float32{src[mirror(y-1, s)*s:][:s], src[y*s:][:s], src[mirror(y+1, s)*s:][:s]}
			for x := 0; x < s; x++ {
				xl, xr := mirror(x-1, s), mirror(x+1, s)
				sum := float32(0)
				for _, r := range rows {
					sum += r[xl] + r[x] + r[xr]
				}
				res[y*s+x] = residualGain * (rows[1][x] - sum/9)
			}
		}
	}
	return out
}

// mirror maps i in [-1, n] to [0, n) by reflection about the edge sample.
func mirror(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

// net is the classifier: three 3x3 convolutions (the last two with stride
// 2), leaky ReLUs, global average pooling and a linear logit. Its
// receptive field is 9x9 pixels and global pooling makes it a detector of
// local statistics (noise, blur, ringing, blocking), which is what
// distinguishes degradations, rather than of content. Parameters start as
// PyTorch's defaults.
type net struct {
	c1, c2, c3 *nn.Conv2d
	fc         *nn.Linear
}

func newNet(width int, r *rng.Stream) *net {
	return &net{
		c1: nn.NewConv2d("c1", 3, width, 3, 1, 1, true, r),
		c2: nn.NewConv2d("c2", width, 2*width, 3, 2, 1, true, r),
		c3: nn.NewConv2d("c3", 2*width, 2*width, 3, 2, 1, true, r),
		fc: nn.NewLinear("fc", 2*width, 1, true, r),
	}
}

func (m *net) params() []*ag.Var { return nn.Collect(m.c1, m.c2, m.c3, m.fc) }

// forward returns the logits [N, 1] of x [N, 3, S, S].
func (m *net) forward(g *ag.Graph, x *ag.Var) *ag.Var {
	h := g.LeakyReLU(m.c1.Forward(g, x), leak)
	h = g.LeakyReLU(m.c2.Forward(g, h), leak)
	h = g.LeakyReLU(m.c3.Forward(g, h), leak)
	return m.fc.Forward(g, g.MeanAxes(h, false, 2, 3))
}

// train runs opt.Steps AdamW steps on mini-batches of d, reshuffled at
// every pass, and returns the mean loss of the last quarter of the steps.
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
	size := 3 * s * s
	n := len(d.patches)
	bs := min(opt.BatchSize, n)
	x := tensor.New(bs, 3, s, s)
	labels := make([]float32, bs)
	var order []int
	pos := n
	tail, tailSteps := 0.0, 0
	for step := 0; step < opt.Steps; step++ {
		for i := range bs {
			if pos == n {
				order, pos = r.Perm(n), 0
			}
			j := order[pos]
			pos++
			flipInto(x.Data[i*size:(i+1)*size], d.patches[j], s, r.Uint64())
			labels[i] = d.labels[j]
		}
		loss := bceWithLogits(g, m.forward(g, ag.Const(x)), labels)
		if 4*step >= 3*opt.Steps {
			tail += float64(loss.Value.Data[0])
			tailSteps++
		}
		g.Backward(loss)
		o.Step()
		ag.ZeroGrad(params)
		g.Reset()
	}
	return tail / float64(max(tailSteps, 1)), nil
}

// flipInto copies the 3 x s x s input src into dst, flipped
// horizontally if bit 0 of bits is set and vertically if bit 1 is. The
// residual planes commute with flips (the box filter is symmetric), and an
// s that is a multiple of 8 keeps a grid-aligned 8x8 block structure
// aligned.
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
	size := 3 * s * s
	var correct, total [2]int
	for b := 0; b < len(d.patches); b += opt.BatchSize {
		e := min(b+opt.BatchSize, len(d.patches))
		x := tensor.New(e-b, 3, s, s)
		for i := b; i < e; i++ {
			copy(x.Data[(i-b)*size:(i-b+1)*size], d.patches[i])
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
