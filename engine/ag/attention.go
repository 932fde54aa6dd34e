package ag

import (
	"math"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// attnBlock is the number of queries whose scores are held at once. Tests
// lower it to exercise the chunking on small inputs.
var attnBlock = 256

// attnMaxScores bounds the scores held per worker (block x keys): long key
// sequences get smaller query blocks, so memory stays bounded. Each block
// packs K and V again for its products, so blocks of fewer than 256
// queries cost more in packing: 4M scores (16 MiB a worker) keep 256 up
// to 16384 keys (128x128 tokens, a 512x512 image's attention level), where
// 1M scores were 9% slower end to end (BenchmarkForwardPrecision).
const attnMaxScores = 1 << 22

// attnMinBlock is the smallest query block used for long key sequences.
const attnMinBlock = 16

// Attention returns multi-head scaled dot-product attention: for every batch
// item and head h, softmax(Q_h K_hᵀ / sqrt(d)) V_h, where Q_h, K_h and V_h
// are channels [h*d, (h+1)*d) of q [N, L, C], k [N, S, C] and v [N, S, C],
// d = C/heads. The result is [N, L, C], heads side by side as in the inputs.
//
// The softmax is computed in float32 over blocks of queries, so memory
// stays bounded for long sequences: the L x S score matrix is never held.
// Backward recomputes the scores block by block from q and k, keeping only
// each row's maximum and normaliser from the forward pass. The work is
// spread over (batch, head, query block) forward and (batch, head) pairs
// backward, and the results do not depend on the number of goroutines.
func (g *Graph) Attention(q, k, v *Var, heads int) *Var {
	qs, ks, vs := q.Value.Shape, k.Value.Shape, v.Value.Shape
	tensor.Check(len(qs) == 3 && len(ks) == 3 && len(vs) == 3, "Attention", "want q [N,L,C], k and v [N,S,C]", qs, ks, vs)
	tensor.Check(tensor.SameShape(ks, vs) && ks[0] == qs[0] && ks[2] == qs[2] && ks[1] >= 1, "Attention", "k and v must be [N,S,C] with S >= 1, N and C of q", qs, ks, vs)
	tensor.Check(heads >= 1 && qs[2]%heads == 0, "Attention", "heads must divide the channels", qs, []int{heads})
	a := newAttnShape(qs[0], qs[1], ks[1], qs[2], heads)

	need := g.record && (q.requiresGrad || k.requiresGrad || v.requiresGrad)
	y := g.AllocUninit(qs...)
	var stats []float32 // per (n, head, query): row maximum, 1/sum
	if need {
		stats = g.AllocUninit(a.n, a.heads, a.l, 2).Data
	}
	a.forward(g, q.Value.Data, k.Value.Data, v.Value.Data, y.Data, stats)

	res := g.Result(y, q, k, v)
	if res.requiresGrad {
		n := New[attnNode](g)
		*n = attnNode{q: q, k: k, v: v, y: res, a: a, stats: stats}
		g.RecordNode(res, n)
	}
	return res
}

// attnNode is the tape node of Attention.
type attnNode struct {
	q, k, v, y *Var
	a          attnShape
	stats      []float32
}

func (n *attnNode) Backward(g *Graph) {
	var dq, dk, dv []float32
	if t := g.GradOf(n.q); t != nil {
		dq = t.Data
	}
	if t := g.GradOf(n.k); t != nil {
		dk = t.Data
	}
	if t := g.GradOf(n.v); t != nil {
		dv = t.Data
	}
	n.a.backward(g, n.q.Value.Data, n.k.Value.Data, n.v.Value.Data, n.y.Value.Data, n.y.Grad.Data, n.stats, dq, dk, dv)
}

// attnShape is the geometry of one Attention call.
type attnShape struct {
	n, l, s, c int // batch, queries, keys, channels
	heads, d   int // heads and channels per head
	block      int // queries per block
	nblk       int // blocks per (batch, head)
	scale      float32
}

func newAttnShape(n, l, s, c, heads int) attnShape {
	a := attnShape{n: n, l: l, s: s, c: c, heads: heads, d: c / heads}
	a.block = min(attnBlock, max(attnMinBlock, attnMaxScores/s), max(l, 1))
	a.nblk = (l + a.block - 1) / a.block
	a.scale = float32(1 / math.Sqrt(float64(a.d)))
	return a
}

// rowsOf returns the first query, the number of queries of block ib, and
// the offsets of the block's first query row and of the first key row of
// batch item ni and head hh in the [N, L|S, C] data.
func (a *attnShape) rowsOf(ni, hh, ib int) (i0, m, qoff, koff int) {
	i0 = ib * a.block
	m = min(a.block, a.l-i0)
	qoff = (ni*a.l+i0)*a.c + hh*a.d
	koff = ni*a.s*a.c + hh*a.d
	return
}

// forward writes the attention output into y and, if stats is not nil, the
// row statistics. Tasks (batch, head, query block) write disjoint outputs.
func (a *attnShape) forward(g *Graph, q, k, v, y, stats []float32) {
	tasks := a.n * a.heads * a.nblk
	if tasks == 0 {
		return
	}
	workers := min(parallel.Workers(), tasks)
	// Per worker: the scores of a block, then its row statistics when the
	// caller keeps none.
	per := a.block*a.s + 2*a.block
	scratch := g.AllocUninit(workers * per).Data
	parallel.Loop(workers, 1, attnLoop{a: *a, workers: workers, per: per, scratch: scratch, q: q, k: k, v: v, y: y, stats: stats})
	g.putBack(scratch)
}

// attnLoop runs the tasks of worker indices [lo, hi) of an attention pass:
// the forward pass, or the backward pass when dy is set. Worker wk takes
// tasks wk, wk+workers, ... with its own scratch space.
type attnLoop struct {
	a              attnShape
	workers, per   int
	scratch        []float32
	q, k, v, y     []float32
	stats          []float32
	dy, dq, dk, dv []float32
}

func (l *attnLoop) Run(w0, w1 int) {
	a := &l.a
	if l.dy != nil {
		tasks := a.n * a.heads
		for wk := w0; wk < w1; wk++ {
			buf := l.scratch[wk*l.per : (wk+1)*l.per]
			for t := wk; t < tasks; t += l.workers {
				for ib := 0; ib < a.nblk; ib++ {
					a.backwardBlock(t/a.heads, t%a.heads, ib, l.q, l.k, l.v, l.y, l.dy, l.stats, l.dq, l.dk, l.dv, buf)
				}
			}
		}
		return
	}
	tasks := a.n * a.heads * a.nblk
	for wk := w0; wk < w1; wk++ {
		sc := l.scratch[wk*l.per : wk*l.per+a.block*a.s]
		st := l.scratch[wk*l.per+a.block*a.s : (wk+1)*l.per]
		for t := wk; t < tasks; t += l.workers {
			pair, ib := t/a.nblk, t%a.nblk
			ni, hh := pair/a.heads, pair%a.heads
			if l.stats != nil {
				st = l.stats[((ni*a.heads+hh)*a.l+ib*a.block)*2:]
			}
			a.forwardBlock(ni, hh, ib, l.q, l.k, l.v, l.y, sc, st)
		}
	}
}

// forwardBlock computes the output rows of one query block, using sc for
// the scores and storing each row's maximum and 1/sum in st[2r], st[2r+1].
func (a *attnShape) forwardBlock(ni, hh, ib int, q, k, v, y, sc, st []float32) {
	_, m, qoff, koff := a.rowsOf(ni, hh, ib)
	s, c, d := a.s, a.c, a.d
	sc = sc[:m*s]
	st = st[:2*m]
	gemm.Sgemm(false, true, m, s, d, a.scale, q[qoff:], c, k[koff:], c, 0, sc, s)
	for r := 0; r < m; r++ {
		st[2*r], st[2*r+1] = attnSoftmaxRow(sc[r*s : r*s+s])
	}
	// The softmax is left unnormalised: 1/sum goes on the output rows, d
	// values per row instead of s.
	gemm.Sgemm(false, false, m, d, s, 1, sc, s, v[koff:], c, 0, y[qoff:], c)
	for r := 0; r < m; r++ {
		inv := st[2*r+1]
		row := y[qoff+r*c : qoff+r*c+d]
		for j := range row {
			row[j] *= inv
		}
	}
}

// attnSoftmaxRow replaces row by exp(row - max(row)) and returns the
// maximum and 1/sum of the exponentials.
func attnSoftmaxRow(row []float32) (mx, inv float32) {
	mx = row[0]
	n := 0
	if w := vexpWidth(); w > 0 {
		n = len(row) &^ (w - 1)
		if n > 0 && w == 16 {
			mx = maxRowAVX512(row[:n])
		} else if n > 0 {
			mx = maxRowAVX2(row[:n])
		}
	}
	for _, x := range row[n:] {
		if x > mx {
			mx = x
		}
	}
	return mx, 1 / attnExpRow(row, mx, 1)
}

// backward adds the gradients into dq, dk and dv (each may be nil). Tasks
// are (batch, head) pairs, which own disjoint slices of all three; within a
// pair, dk and dv accumulate over query blocks in order, so the result does
// not depend on the number of workers.
func (a *attnShape) backward(g *Graph, q, k, v, y, dy, stats, dq, dk, dv []float32) {
	tasks := a.n * a.heads
	if tasks == 0 || a.l == 0 {
		return
	}
	workers := min(parallel.Workers(), tasks)
	per := 2 * a.block * a.s
	scratch := g.AllocUninit(workers * per).Data
	parallel.Loop(workers, 1, attnLoop{
		a: *a, workers: workers, per: per, scratch: scratch, q: q, k: k, v: v, y: y, stats: stats,
		dy: dy, dq: dq, dk: dk, dv: dv,
	})
	g.putBack(scratch)
}

func (a *attnShape) backwardBlock(ni, hh, ib int, q, k, v, y, dy, stats, dq, dk, dv, buf []float32) {
	i0, m, qoff, koff := a.rowsOf(ni, hh, ib)
	s, c, d := a.s, a.c, a.d
	p := buf[:m*s]
	dp := buf[m*s : 2*m*s]
	// Recompute P exactly as the forward pass did.
	gemm.Sgemm(false, true, m, s, d, a.scale, q[qoff:], c, k[koff:], c, 0, p, s)
	st := stats[((ni*a.heads+hh)*a.l+i0)*2:]
	for r := 0; r < m; r++ {
		attnExpRow(p[r*s:r*s+s], st[2*r], st[2*r+1])
	}
	if dv != nil {
		// dV += Pᵀ dY.
		gemm.Sgemm(true, false, s, d, m, 1, p, s, dy[qoff:], c, 1, dv[koff:], c)
	}
	if dq == nil && dk == nil {
		return
	}
	// dP = dY Vᵀ; dS = P ⊙ (dP - rowsum(dY ⊙ Y)).
	gemm.Sgemm(false, true, m, s, d, 1, dy[qoff:], c, v[koff:], c, 0, dp, s)
	for r := 0; r < m; r++ {
		o := qoff + r*c
		yr, gr := y[o:o+d], dy[o:o+d]
		var dot float32
		for j, gv := range gr {
			dot += gv * yr[j]
		}
		prow, drow := p[r*s:r*s+s], dp[r*s:r*s+s]
		for j, pv := range prow[:len(drow)] {
			drow[j] = pv * (drow[j] - dot)
		}
	}
	if dq != nil {
		// dQ += scale dS K.
		gemm.Sgemm(false, false, m, d, s, a.scale, dp, s, k[koff:], c, 1, dq[qoff:], c)
	}
	if dk != nil {
		// dK += scale dSᵀ Q.
		gemm.Sgemm(true, false, s, d, m, a.scale, dp, s, q[qoff:], c, 1, dk[koff:], c)
	}
}

// attnExpK holds attnExpRow's constants. Read from a variable they stay in
// registers; as constants the compiler reloads each one from memory at every
// use, which measured about 10% slower.
var attnExpK = [...]float32{
	1.44269504088896341,      // log2(e)
	0.693145751953125,        // ln(2), high part (exact times small n)
	1.428606765330187045e-06, // ln(2) - high part
	0x1.8p23 + 127,           // rounds to integer, with the exponent bias
	0x1.0F9F9Cp-7,            // minimax polynomial for (e^r - 1)/r
	0x1.573A1Ap-5,            //
	0x1.555A80p-3,            //
	0x1.FFFDC6p-2,            //
	0x1.FFFFF6p-1,            //
	-87.33654,                // below: e^x is not a normal float32
}

// attnExpRow sets row[j] = e^(row[j]-mx) * mul and returns the sum, in
// float64 and rounded to float32, of the e^(row[j]-mx). It is written for the
// softmax (row[j] <= mx) and is accurate to 2.5e-7 relative (2 ulp):
// math.Exp, in float64 and not inlined, would dominate the cost of attention
// with small heads. The method is XNNPACK's: x = n*ln2 + r with
// |r| <= ln2/2, 2^n by shifting the rounded n into the exponent bits, e^r by
// a degree-5 polynomial. Arguments below -87.3 are clamped there, giving
// about 1e-38 instead of 0.
//
// With the avx512 or avx2 kernel path, whole vectors run in assembly (VEXP
// and VEXP8 in vexp_amd64.s, the same polynomial, arguments clamped at -104
// or -87.34) and the sum is taken over float64 lanes.
func attnExpRow(row []float32, mx, mul float32) float32 {
	n := 0
	var acc [16]float64
	if w := vexpWidth(); w > 0 {
		n = len(row) &^ (w - 1)
		if n > 0 && w == 16 {
			expRowAVX512(row[:n], mx, mul, &acc)
		} else if n > 0 {
			expRowAVX2(row[:n], mx, mul, &acc)
		}
	}
	return float32(sumLanes(&acc) + attnExpRowGo(row[n:], mx, mul))
}

// attnExpRowGo is attnExpRow in Go; it returns the float64 sum.
func attnExpRowGo(row []float32, mx, mul float32) float64 {
	// The sum is kept in float64: a float32 running sum over thousands of
	// keys would lose several digits.
	k := &attnExpK
	log2e, ln2Hi, ln2Lo, magic := k[0], k[1], k[2], k[3]
	c5, c4, c3, c2, c1, lo := k[4], k[5], k[6], k[7], k[8], k[9]
	var sum float64
	for j, x := range row {
		x -= mx
		if x < lo {
			x = lo
		}
		t := x*log2e + magic
		s := math.Float32frombits(math.Float32bits(t) << 23)
		n := t - magic
		r := x - n*ln2Hi - n*ln2Lo
		p := (((c5*r+c4)*r+c3)*r+c2)*r + c1
		e := s + (r*s)*p
		sum += float64(e)
		row[j] = e * mul
	}
	return sum
}
