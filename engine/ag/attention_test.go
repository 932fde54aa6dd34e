package ag_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/ag/agtest"
	"github.com/degradiff/degradiff/engine/tensor"
)

type attnCase struct {
	n, l, s, c, heads int
	block             int     // queries per block; 0 keeps the default
	qScale            float32 // scales q, for peaked softmaxes; 0 means 1
}

func (c attnCase) String() string {
	return fmt.Sprintf("N%d_L%d_S%d_C%d_h%d_block%d_qx%g", c.n, c.l, c.s, c.c, c.heads, c.block, c.qScale)
}

var attnCases = []attnCase{
	{n: 1, l: 7, s: 7, c: 8, heads: 2, block: 3},
	{n: 2, l: 10, s: 10, c: 12, heads: 3, block: 3},
	{n: 1, l: 5, s: 9, c: 8, heads: 1, block: 3}, // cross-attention, S != L
	{n: 2, l: 4, s: 4, c: 16, heads: 4},          // one block
	{n: 1, l: 8, s: 8, c: 8, heads: 8, block: 3}, // d = 1
	{n: 1, l: 1, s: 3, c: 4, heads: 2, block: 3}, // one query
	{n: 1, l: 9, s: 6, c: 6, heads: 2, block: 4, qScale: 8},
}

func (c attnCase) inputs() []*tensor.Tensor {
	q := agtest.Random(1, c.n, c.l, c.c)
	if c.qScale != 0 {
		for i := range q.Data {
			q.Data[i] *= c.qScale
		}
	}
	return []*tensor.Tensor{q, agtest.Random(2, c.n, c.s, c.c), agtest.Random(3, c.n, c.s, c.c)}
}

func (c attnCase) f(g *ag.Graph, in []*ag.Var) *ag.Var {
	return g.Attention(in[0], in[1], in[2], c.heads)
}

// withBlock runs f with the attention block size of c.
func (c attnCase) withBlock(f func()) {
	if c.block != 0 {
		defer ag.SetAttentionBlock(c.block)()
	}
	f()
}

// attnRef computes attention in float64 from its definition.
func attnRef(q, k, v *tensor.Tensor, heads int) *tensor.Tensor {
	n, l, c := q.Shape[0], q.Shape[1], q.Shape[2]
	s, d := k.Shape[1], c/heads
	out := tensor.New(n, l, c)
	p := make([]float64, s)
	for b := 0; b < n; b++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < l; i++ {
				mx := math.Inf(-1)
				for j := 0; j < s; j++ {
					dot := 0.0
					for e := 0; e < d; e++ {
						dot += float64(q.Data[(b*l+i)*c+h*d+e]) * float64(k.Data[(b*s+j)*c+h*d+e])
					}
					p[j] = dot / math.Sqrt(float64(d))
					mx = math.Max(mx, p[j])
				}
				sum := 0.0
				for j := range p {
					p[j] = math.Exp(p[j] - mx)
					sum += p[j]
				}
				for e := 0; e < d; e++ {
					o := 0.0
					for j := 0; j < s; j++ {
						o += p[j] / sum * float64(v.Data[(b*s+j)*c+h*d+e])
					}
					out.Data[(b*l+i)*c+h*d+e] = float32(o)
				}
			}
		}
	}
	return out
}

func TestAttentionForward(t *testing.T) {
	for _, c := range attnCases {
		t.Run(c.String(), func(t *testing.T) {
			in := c.inputs()
			var got *tensor.Tensor
			c.withBlock(func() {
				got = c.f(ag.NewGraph(false), []*ag.Var{ag.Const(in[0]), ag.Const(in[1]), ag.Const(in[2])}).Value
			})
			want := attnRef(in[0], in[1], in[2], c.heads)
			if !tensor.SameShape(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			if d := tensor.MaxAbsDiff(got, want); d > 1e-5 {
				t.Errorf("max |attention - float64 reference| = %.3g, want <= 1e-5", d)
			}
			// Training mode keeps row statistics but must give the same values.
			var train *tensor.Tensor
			c.withBlock(func() {
				g := ag.NewGraph(true)
				train = c.f(g, []*ag.Var{ag.Param("q", in[0]), ag.Param("k", in[1]), ag.Param("v", in[2])}).Value
			})
			if d := tensor.MaxAbsDiff(got, train); d != 0 {
				t.Errorf("training-mode output differs from inference by %.3g", d)
			}
		})
	}
}

func TestAttentionGrad(t *testing.T) {
	for _, c := range attnCases {
		t.Run(c.String(), func(t *testing.T) {
			c.withBlock(func() {
				agtest.GradCheck(t, c.f, c.inputs(), agtest.Options{Tol: 2e-3})
			})
		})
	}
	// Gradients flow to only some inputs; the others are constants.
	c := attnCases[1]
	for _, consts := range [][]int{{0, 1}, {2}, {0, 2}} {
		t.Run(fmt.Sprintf("const%v", consts), func(t *testing.T) {
			c.withBlock(func() {
				agtest.GradCheck(t, c.f, c.inputs(), agtest.Options{Tol: 2e-3, Const: consts})
			})
		})
	}
	// Self-attention on one variable accumulates its three gradients.
	t.Run("shared_qkv", func(t *testing.T) {
		c.withBlock(func() {
			agtest.GradCheck(t, func(g *ag.Graph, in []*ag.Var) *ag.Var { return g.Attention(in[0], in[0], in[0], c.heads) },
				c.inputs()[:1], agtest.Options{Tol: 2e-3})
		})
	})
}

func TestAttentionDeterministic(t *testing.T) {
	for _, c := range []attnCase{
		{n: 2, l: 37, s: 37, c: 16, heads: 2, block: 5},
		{n: 1, l: 300, s: 300, c: 8, heads: 1},
		{n: 1, l: 600, s: 600, c: 32, heads: 4},
	} {
		t.Run(c.String(), func(t *testing.T) {
			c.withBlock(func() { bitIdenticalAtProcs(t, c.f, c.inputs()) })
		})
	}
}

func TestAttentionShapeErrors(t *testing.T) {
	x := ag.Const(tensor.New(1, 4, 8))
	for _, tc := range []struct {
		name    string
		q, k, v *ag.Var
		heads   int
	}{
		{"heads", x, x, x, 3},
		{"kv", x, ag.Const(tensor.New(1, 5, 8)), x, 2},
		{"channels", x, ag.Const(tensor.New(1, 4, 4)), ag.Const(tensor.New(1, 4, 4)), 2},
		{"2d", ag.Const(tensor.New(4, 8)), x, x, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectShapeError(t, "Attention", func() { ag.NewGraph(false).Attention(tc.q, tc.k, tc.v, tc.heads) })
		})
	}
}

// TestAttentionMemoryBounded checks that attention over many tokens never
// holds a score matrix per head: everything the graph hands out (output,
// row statistics, scratch) stays far below L*L floats.
func TestAttentionMemoryBounded(t *testing.T) {
	const l, c = 2048, 8
	in := []*ag.Var{ag.Const(agtest.Random(1, 1, l, c)), ag.Const(agtest.Random(2, 1, l, c)), ag.Const(agtest.Random(3, 1, l, c))}
	g := ag.NewGraph(false)
	y := g.Attention(in[0], in[1], in[2], 1)
	free, live := g.PooledBytes()
	if live != 4*l*c {
		t.Errorf("live bytes after the call %d, want only the output (%d)", live, 4*l*c)
	}
	if free+live > 4*l*l/2 {
		t.Errorf("graph holds %d bytes, want < %d (half an L x L score matrix)", free+live, 4*l*l/2)
	}
	g.Release(y)
}

func ExampleGraph_Attention() {
	g := ag.NewGraph(true)
	// Self-attention over 3 tokens of 4 channels in 2 heads.
	x := ag.Param("x", tensor.FromData([]float32{
		1, 0, 0, 1,
		0, 1, 1, 0,
		1, 1, 0, 0,
	}, 1, 3, 4))
	y := g.Attention(x, x, x, 2)
	g.Backward(y)
	fmt.Println(y.Shape(), x.Grad.Shape)
	fmt.Printf("%.4f\n", y.Value.Data[:4])
	// Output:
	// [1 3 4] [1 3 4]
	// [0.8022 0.5989 0.2483 0.5035]
}

// attnBench is the geometry of an attention benchmark: one image of side
// tokens, C channels split into heads of d channels.
func attnBench(b *testing.B, side, c, d int, backward bool) {
	l := side * side
	heads := c / d
	q, k, v := agtest.Random(1, 1, l, c), agtest.Random(2, 1, l, c), agtest.Random(3, 1, l, c)
	// Two products of 2*L*L*C flops forward; backward recomputes the scores
	// and does four more.
	flops := 4.0 * float64(l) * float64(l) * float64(c)
	if backward {
		flops += 10.0 * float64(l) * float64(l) * float64(c)
	}
	g := ag.NewGraph(backward)
	var vars []*ag.Var
	if backward {
		vars = []*ag.Var{ag.Param("q", q), ag.Param("k", k), ag.Param("v", v)}
	} else {
		vars = []*ag.Var{ag.Const(q), ag.Const(k), ag.Const(v)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var peak int64
	for i := 0; i < b.N; i++ {
		y := g.Attention(vars[0], vars[1], vars[2], heads)
		if backward {
			g.Backward(y)
		}
		free, live := g.PooledBytes()
		peak = max(peak, free+live)
		if backward {
			g.Reset()
		} else {
			g.Release(y)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(peak)/(1<<20), "pool-MiB")
}

// BenchmarkAttention32x32 times attention over 32x32 = 1024 tokens of 128
// channels, in heads of 8 channels (diffusers' attention_head_dim=8) and of
// 32 channels.
func BenchmarkAttention32x32(b *testing.B) {
	for _, d := range []int{8, 32} {
		b.Run(fmt.Sprintf("d%d/forward", d), func(b *testing.B) { attnBench(b, 32, 128, d, false) })
		b.Run(fmt.Sprintf("d%d/forward+backward", d), func(b *testing.B) { attnBench(b, 32, 128, d, true) })
	}
}

// BenchmarkAttention64x64Memory runs attention over 64x64 = 4096 tokens of
// 128 channels in 16 heads. pool-MiB is all the graph holds; the score
// matrices of all heads at once would take 1024 MiB, one head's 64 MiB.
func BenchmarkAttention64x64Memory(b *testing.B) {
	b.Run("forward", func(b *testing.B) { attnBench(b, 64, 128, 8, false) })
	b.Run("forward+backward", func(b *testing.B) { attnBench(b, 64, 128, 8, true) })
}
