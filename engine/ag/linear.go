package ag

import (
	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Linear returns x*wᵀ + b over the last dimension of x, as PyTorch's
// nn.Linear: x is [..., in] (any leading dimensions, possibly none), w is
// [out, in] and b is [out] or nil. The result is [..., out].
func (g *Graph) Linear(x, w, b *Var) *Var {
	xs, ws := x.Value.Shape, w.Value.Shape
	tensor.Check(len(xs) >= 1 && len(ws) == 2, "Linear", "want x [..., in] and w [out, in]", xs, ws)
	in, out := ws[1], ws[0]
	tensor.Check(xs[len(xs)-1] == in, "Linear", "last dimension of x must equal w's columns", xs, ws)
	if b != nil {
		tensor.Check(len(b.Value.Shape) == 1 && b.Value.Shape[0] == out, "Linear", "bias must be [out]", ws, b.Value.Shape)
	}
	m := tensor.Numel(xs[:len(xs)-1])
	oshape := NewSlice[int](g, len(xs))
	copy(oshape, xs)
	oshape[len(xs)-1] = out
	y := g.AllocUninit(oshape...)
	gemm.Sgemm(false, true, m, out, in, 1, x.Value.Data, in, w.Value.Data, in, 0, y.Data, out)
	if b != nil {
		parallel.Loop(m, max(1, (1<<14)/max(out, 1)), biasRowsLoop{y: y.Data, b: b.Value.Data})
	}
	res := g.Result(y, x, w, b)
	if res.requiresGrad {
		n := New[linearNode](g)
		*n = linearNode{x: x, w: w, b: b, y: res, m: m}
		g.RecordNode(res, n)
	}
	return res
}

// biasRowsLoop adds b to rows [lo, hi) of the matrix y with len(b) columns.
type biasRowsLoop struct {
	y, b []float32
}

func (l *biasRowsLoop) Run(lo, hi int) {
	out := len(l.b)
	for r := lo; r < hi; r++ {
		row := l.y[r*out : r*out+out]
		for j, v := range l.b[:len(row)] {
			row[j] += v
		}
	}
}

// linearNode is the tape node of Linear.
type linearNode struct {
	x, w, b, y *Var
	m          int // rows of x
}

func (n *linearNode) Backward(g *Graph) {
	ws := n.w.Value.Shape
	m, in, out := n.m, ws[1], ws[0]
	xd, wd, dy := n.x.Value.Data, n.w.Value.Data, n.y.Grad.Data
	if dx, fresh := g.gradOrFresh(n.x); dx != nil {
		beta := float32(1)
		if fresh {
			beta = 0 // Sgemm then writes every element without reading
		}
		gemm.Sgemm(false, false, m, in, out, 1, dy, out, wd, in, beta, dx.Data, in)
	}
	if dw := g.GradOf(n.w); dw != nil {
		gemm.Sgemm(true, false, out, in, m, 1, dy, out, xd, in, 1, dw.Data, in)
	}
	if n.b != nil {
		if db := g.GradOf(n.b); db != nil {
			// Chunks own disjoint column ranges and sum the rows in order,
			// so the result does not depend on the number of workers.
			parallel.Loop(out, 256, sumRowsLoop{dst: db.Data, a: dy, m: m})
		}
	}
}

// sumRowsLoop adds the sums over the m rows of the m x len(dst) matrix a
// into columns [lo, hi) of dst.
type sumRowsLoop struct {
	dst, a []float32
	m      int
}

func (l *sumRowsLoop) Run(lo, hi int) {
	n := len(l.dst)
	d := l.dst[lo:hi]
	for r := 0; r < l.m; r++ {
		row := l.a[r*n+lo : r*n+hi]
		for j, v := range row[:len(d)] {
			d[j] += v
		}
	}
}

// MatMul returns op(a)*op(b) for 2-D a and b, where op transposes its
// operand when the corresponding flag is set: op(a) is [m, k], op(b) is
// [k, n] and the result is [m, n].
func (g *Graph) MatMul(a, b *Var, transA, transB bool) *Var {
	as, bs := a.Value.Shape, b.Value.Shape
	tensor.Check(len(as) == 2 && len(bs) == 2, "MatMul", "want 2-D operands", as, bs)
	m, k, n := matmulDims("MatMul", as, bs, transA, transB)
	y := g.AllocUninit(m, n)
	gemm.Sgemm(transA, transB, m, n, k, 1, a.Value.Data, as[1], b.Value.Data, bs[1], 0, y.Data, n)
	res := g.Result(y, a, b)
	if res.requiresGrad {
		nd := New[matmulNode](g)
		*nd = matmulNode{a: a, b: b, y: res, l: matmulLoop{
			m: m, n: n, k: k, transA: transA, transB: transB,
			lda: as[1], ldb: bs[1], sa: len(a.Value.Data), sb: len(b.Value.Data),
		}}
		g.RecordNode(res, nd)
	}
	return res
}

// BatchMatMul returns op(a[i])*op(b[i]) for every i of 3-D a and b, with op
// as in MatMul: op(a[i]) is [m, k], op(b[i]) is [k, n] and the result is
// [batch, m, n].
func (g *Graph) BatchMatMul(a, b *Var, transA, transB bool) *Var {
	as, bs := a.Value.Shape, b.Value.Shape
	tensor.Check(len(as) == 3 && len(bs) == 3 && as[0] == bs[0], "BatchMatMul", "want 3-D operands with equal batch", as, bs)
	m, k, n := matmulDims("BatchMatMul", as[1:], bs[1:], transA, transB)
	nb := as[0]
	y := g.AllocUninit(nb, m, n)
	l := matmulLoop{
		m: m, n: n, k: k, transA: transA, transB: transB,
		lda: as[2], ldb: bs[2], sa: as[1] * as[2], sb: bs[1] * bs[2],
		a: a.Value.Data, b: b.Value.Data, c: y.Data,
	}
	// Matrices of a batch are independent: one worker per matrix keeps
	// small products efficient and writes disjoint outputs.
	parallel.Loop(nb, 1, l)
	res := g.Result(y, a, b)
	if res.requiresGrad {
		l.a, l.b, l.c = nil, nil, nil
		nd := New[matmulNode](g)
		*nd = matmulNode{a: a, b: b, y: res, l: l, batch: nb}
		g.RecordNode(res, nd)
	}
	return res
}

// matmulNode is the tape node of MatMul (batch 0) and BatchMatMul.
type matmulNode struct {
	a, b, y *Var
	l       matmulLoop
	batch   int
}

func (nd *matmulNode) Backward(g *Graph) {
	l := nd.l
	l.a, l.b, l.dc = nd.a.Value.Data, nd.b.Value.Data, nd.y.Grad.Data
	if t := g.GradOf(nd.a); t != nil {
		l.da = t.Data
	}
	if t := g.GradOf(nd.b); t != nil {
		l.db = t.Data
	}
	if nd.batch == 0 {
		l.Run(0, 1)
		return
	}
	parallel.Loop(nd.batch, 1, l)
}

// matmulLoop computes the products [lo, hi) of a batch of matrices,
// c = op(a)*op(b), or, when dc is set, adds their gradients into da and db
// (either may be nil). sa and sb are the sizes of one matrix of a and b.
type matmulLoop struct {
	m, n, k        int
	transA, transB bool
	lda, ldb       int
	sa, sb         int
	a, b, c        []float32
	dc, da, db     []float32
}

func (l *matmulLoop) Run(lo, hi int) {
	sa, sb, sc := l.sa, l.sb, l.m*l.n
	for i := lo; i < hi; i++ {
		ai, bi := l.a[i*sa:(i+1)*sa], l.b[i*sb:(i+1)*sb]
		if l.dc == nil {
			gemm.Sgemm(l.transA, l.transB, l.m, l.n, l.k, 1, ai, l.lda, bi, l.ldb, 0, l.c[i*sc:(i+1)*sc], l.n)
			continue
		}
		var dai, dbi []float32
		if l.da != nil {
			dai = l.da[i*sa : (i+1)*sa]
		}
		if l.db != nil {
			dbi = l.db[i*sb : (i+1)*sb]
		}
		matmulBackward(l.m, l.n, l.k, l.transA, l.transB, ai, l.lda, bi, l.ldb, l.dc[i*sc:(i+1)*sc], dai, dbi)
	}
}

// matmulDims returns m, k, n of op(a)*op(b) for 2-D shapes, panicking if
// the inner dimensions differ.
func matmulDims(op string, as, bs []int, transA, transB bool) (m, k, n int) {
	m, k = as[0], as[1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[0], bs[1]
	if transB {
		kb, n = n, kb
	}
	tensor.Check(k == kb, op, "inner dimensions differ", as, bs)
	return m, k, n
}

// matmulBackward adds the gradients of C = op(A)*op(B) with respect to A
// and B, given dC (m x n), into da and db (either may be nil).
func matmulBackward(m, n, k int, transA, transB bool, a []float32, lda int, b []float32, ldb int, dc, da, db []float32) {
	if da != nil {
		if transA {
			// A is k x m: dA = op(B) * dCᵀ.
			gemm.Sgemm(transB, true, k, m, n, 1, b, ldb, dc, n, 1, da, m)
		} else {
			// dA = dC * op(B)ᵀ.
			gemm.Sgemm(false, !transB, m, k, n, 1, dc, n, b, ldb, 1, da, k)
		}
	}
	if db != nil {
		if transB {
			// B is n x k: dB = dCᵀ * op(A).
			gemm.Sgemm(true, transA, n, k, m, 1, dc, n, a, lda, 1, db, k)
		} else {
			// dB = op(A)ᵀ * dC.
			gemm.Sgemm(!transA, false, k, n, m, 1, a, lda, dc, n, 1, db, n)
		}
	}
}
