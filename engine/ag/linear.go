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
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), out)
	y := g.AllocUninit(oshape...)
	xd, wd, yd := x.Value.Data, w.Value.Data, y.Data
	gemm.Sgemm(false, true, m, out, in, 1, xd, in, wd, in, 0, yd, out)
	if b != nil {
		bd := b.Value.Data
		parallel.For(m, max(1, (1<<14)/max(out, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := yd[r*out : r*out+out]
				for j, v := range bd[:len(row)] {
					row[j] += v
				}
			}
		})
	}
	res := g.Result(y, x, w, b)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		dy := res.Grad.Data
		if dx := g.GradOf(x); dx != nil {
			gemm.Sgemm(false, false, m, in, out, 1, dy, out, wd, in, 1, dx.Data, in)
		}
		if dw := g.GradOf(w); dw != nil {
			gemm.Sgemm(true, false, out, in, m, 1, dy, out, xd, in, 1, dw.Data, in)
		}
		if b != nil {
			if db := g.GradOf(b); db != nil {
				linearSumRows(db.Data, dy, m, out)
			}
		}
	})
	return res
}

// linearSumRows adds the sum of the m rows of the m x n matrix a into dst.
// Workers own disjoint column ranges and sum rows in order, so the result
// does not depend on the number of workers.
func linearSumRows(dst, a []float32, m, n int) {
	parallel.For(n, 256, func(lo, hi int) {
		d := dst[lo:hi]
		for r := 0; r < m; r++ {
			row := a[r*n+lo : r*n+hi]
			for j, v := range row[:len(d)] {
				d[j] += v
			}
		}
	})
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
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		var da, db []float32
		if t := g.GradOf(a); t != nil {
			da = t.Data
		}
		if t := g.GradOf(b); t != nil {
			db = t.Data
		}
		matmulBackward(m, n, k, transA, transB, a.Value.Data, as[1], b.Value.Data, bs[1], res.Grad.Data, da, db)
	})
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
	sa, sb, sy := as[1]*as[2], bs[1]*bs[2], m*n
	y := g.AllocUninit(nb, m, n)
	ad, bd, yd := a.Value.Data, b.Value.Data, y.Data
	// Matrices of a batch are independent: one worker per matrix keeps
	// small products efficient and writes disjoint outputs.
	parallel.For(nb, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm.Sgemm(transA, transB, m, n, k, 1, ad[i*sa:(i+1)*sa], as[2], bd[i*sb:(i+1)*sb], bs[2], 0, yd[i*sy:(i+1)*sy], n)
		}
	})
	res := g.Result(y, a, b)
	if !res.requiresGrad {
		return res
	}
	g.Record(res, func() {
		var da, db []float32
		if t := g.GradOf(a); t != nil {
			da = t.Data
		}
		if t := g.GradOf(b); t != nil {
			db = t.Data
		}
		dy := res.Grad.Data
		parallel.For(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				var dai, dbi []float32
				if da != nil {
					dai = da[i*sa : (i+1)*sa]
				}
				if db != nil {
					dbi = db[i*sb : (i+1)*sb]
				}
				matmulBackward(m, n, k, transA, transB, ad[i*sa:(i+1)*sa], as[2], bd[i*sb:(i+1)*sb], bs[2], dy[i*sy:(i+1)*sy], dai, dbi)
			}
		})
	})
	return res
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
