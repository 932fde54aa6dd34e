package ag

import (
	"fmt"
	"slices"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Reshape returns x with a new shape of the same size; one dim may be -1 and
// is then inferred. The result shares x's memory, so in inference mode
// Release at most one of x and the result, once neither is needed.
func (g *Graph) Reshape(x *Var, shape ...int) *Var {
	ns := g.wrap(x.Value.Data, shape)
	shapeInfer("Reshape", x.Value.Shape, ns.Shape)
	y := g.Result(ns, x)
	y.pooled = x.pooled
	if y.requiresGrad {
		n := New[reshapeNode](g)
		*n = reshapeNode{x: x, y: y}
		g.RecordNode(y, n)
	}
	return y
}

// reshapeNode is the tape node of Reshape.
type reshapeNode struct{ x, y *Var }

func (n *reshapeNode) Backward(g *Graph) {
	if gx, fresh := g.gradOrFresh(n.x); gx != nil {
		shapeCopy(g, gx.Data, n.y.Grad.Data, !fresh)
	}
}

// shapeInfer resolves a -1 in shape, in place, against old's size.
func shapeInfer(op string, old, shape []int) {
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d >= 0:
			known *= d
		default:
			tensor.Fail(op, "bad target shape", old, shape)
		}
	}
	n := tensor.Numel(old)
	if infer >= 0 {
		tensor.Check(known > 0 && n%known == 0, op, "cannot infer -1", old, shape)
		shape[infer] = n / known
	}
	tensor.Check(tensor.Numel(shape) == n, op, "sizes differ", old, shape)
}

// Permute returns x with its axes reordered: axis i of the result is axis
// perm[i] of x. The data is copied.
func (g *Graph) Permute(x *Var, perm ...int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	ok := len(perm) == r && r <= reduceMaxRank
	var seen [reduceMaxRank]bool
	for _, p := range perm {
		ok = ok && p >= 0 && p < r && !seen[p]
		if ok {
			seen[p] = true
		}
	}
	if !ok {
		tensor.Fail("Permute", fmt.Sprintf("bad permutation %v", slices.Clone(perm)), shape)
	}
	var outShape, inv [reduceMaxRank]int
	for i, p := range perm {
		outShape[i] = shape[p]
		inv[p] = i
	}
	out := g.AllocUninit(outShape[:r]...)
	shapePermute(g, out.Data, x.Value.Data, shape, perm, false)
	y := g.Result(out, x)
	if y.requiresGrad {
		n := New[permuteNode](g)
		*n = permuteNode{x: x, y: y, inv: inv}
		g.RecordNode(y, n)
	}
	return y
}

// permuteNode is the tape node of Permute.
type permuteNode struct {
	x, y *Var
	inv  [reduceMaxRank]int // the inverse permutation
}

func (n *permuteNode) Backward(g *Graph) {
	if gx, fresh := g.gradOrFresh(n.x); gx != nil {
		ys := n.y.Value.Shape
		shapePermute(g, gx.Data, n.y.Grad.Data, ys, n.inv[:len(ys)], !fresh)
	}
}

// shapeTile is the tile size of the blocked transpose.
const shapeTile = 32

// shapePermute writes (or, with acc, adds) the permutation of the
// contiguous tensor src of the given shape into dst.
func shapePermute(g *Graph, dst, src []float32, shape, perm []int, acc bool) {
	// Drop size-1 dims and merge runs of input dims that stay adjacent, so
	// that for example [N,C,H,W] -> [N,H,W,C] becomes [N, C, HW] -> [N, HW, C].
	var dims [reduceMaxRank]int // input dims, collapsed
	var order [reduceMaxRank]int
	r := 0 // collapsed rank
	// Output-order groups of input dims [gfirst, glast]; size-1 dims inside
	// a group count for nothing.
	var gfirst, glast [reduceMaxRank]int
	next := -1 // the input dim that would continue the current group
	for _, p := range perm {
		if shape[p] == 1 {
			continue
		}
		if r > 0 && p == next {
			glast[r-1] = p
		} else {
			gfirst[r], glast[r] = p, p
			r++
		}
		// Size-1 input dims after p do not break a run.
		next = p + 1
		for next < len(shape) && shape[next] == 1 {
			next++
		}
	}
	if r <= 1 {
		shapeCopy(g, dst, src, acc)
		return
	}
	// Position of each group in input order.
	for i := 0; i < r; i++ {
		k := 0
		for j := 0; j < r; j++ {
			if gfirst[j] < gfirst[i] {
				k++
			}
		}
		dims[k] = tensor.Numel(shape[gfirst[i] : glast[i]+1])
		order[i] = k
	}
	var inStride [reduceMaxRank]int
	s := 1
	for k := r - 1; k >= 0; k-- {
		inStride[k] = s
		s *= dims[k]
	}
	switch {
	case r == 2:
		shapeTranspose(g, dst, src, 1, dims[0], dims[1], acc)
		return
	case r == 3 && order[0] == 0 && order[1] == 2 && order[2] == 1:
		shapeTranspose(g, dst, src, dims[0], dims[1], dims[2], acc)
		return
	}
	// General case: walk the output rows, reading the input with stride.
	l := gatherLoop{dst: dst, src: src, acc: acc}
	l.p.rank = r
	for i := 0; i < r; i++ {
		l.p.dims[i] = dims[order[i]]
		l.p.sa[i] = inStride[order[i]]
	}
	parallel.Loop(len(dst), ewGrain, l)
}

// gatherLoop writes (or, with acc, adds) into dst, in output order, the
// elements of src at the offsets of operand a of plan p.
type gatherLoop struct {
	p        ewPlan
	dst, src []float32
	acc      bool
}

func (l *gatherLoop) Run(lo, hi int) {
	sai, src := l.p.sa[l.p.rank-1], l.src
	l.p.rows(lo, hi, func(o, ia, _, n int) {
		d := l.dst[o : o+n]
		if l.acc {
			for j := range d {
				d[j] += src[ia+j*sai]
			}
		} else {
			for j := range d {
				d[j] = src[ia+j*sai]
			}
		}
	})
}

// shapeCopy copies (or, with acc, adds) src into dst.
func shapeCopy(g *Graph, dst, src []float32, acc bool) {
	if acc {
		g.axpy(dst, src, 1)
		return
	}
	parallel.Loop(len(dst), ewGrain, copyLoop{dst: dst, src: src})
}

// copyLoop copies src[lo:hi] to dst[lo:hi].
type copyLoop struct{ dst, src []float32 }

func (l *copyLoop) Run(lo, hi int) { copy(l.dst[lo:hi], l.src[lo:hi]) }

// shapeTranspose writes (or adds) the transposes of the b matrices
// src[b][m][k] into dst[b][k][m], in tiles that keep both sides in cache.
func shapeTranspose(g *Graph, dst, src []float32, batch, m, k int, acc bool) {
	kt := (k + shapeTile - 1) / shapeTile
	parallel.Loop(batch*kt, max(1, ewGrain/(shapeTile*m)), transposeLoop{dst: dst, src: src, m: m, k: k, kt: kt, acc: acc})
}

// transposeLoop runs tiles [lo, hi) of shapeTranspose: tile t covers the
// shapeTile columns of matrix t/kt starting at column t%kt*shapeTile.
type transposeLoop struct {
	dst, src []float32
	m, k, kt int
	acc      bool
}

func (l *transposeLoop) Run(lo, hi int) {
	m, k := l.m, l.k
	for t := lo; t < hi; t++ {
		b, k0 := t/l.kt, t%l.kt*shapeTile
		k1 := min(k0+shapeTile, k)
		s := l.src[b*m*k : (b+1)*m*k]
		d := l.dst[b*m*k : (b+1)*m*k]
		for m0 := 0; m0 < m; m0 += shapeTile {
			m1 := min(m0+shapeTile, m)
			for kk := k0; kk < k1; kk++ {
				row := d[kk*m+m0 : kk*m+m1]
				if l.acc {
					for j := range row {
						row[j] += s[(m0+j)*k+kk]
					}
				} else {
					for j := range row {
						row[j] = s[(m0+j)*k+kk]
					}
				}
			}
		}
	}
}

// Concat joins xs along axis (negative counts from the end). All other dims
// must agree.
func (g *Graph) Concat(axis int, xs ...*Var) *Var {
	tensor.Check(len(xs) > 0, "Concat", "no inputs")
	first := xs[0].Value.Shape
	r := len(first)
	if axis < 0 {
		axis += r
	}
	total := 0
	for _, x := range xs {
		s := x.Value.Shape
		ok := axis >= 0 && axis < r && len(s) == r
		for d := 0; ok && d < r; d++ {
			ok = d == axis || s[d] == first[d]
		}
		if !ok {
			concatFail(axis, r, xs)
		}
		total += s[axis]
	}
	// The inputs are kept for the backward pass: in the graph's arena, so
	// that the caller's argument list stays on its stack.
	l := concatLoop{
		xs:    NewSlice[*Var](g, len(xs)),
		offs:  NewSlice[int](g, len(xs)+1),
		outer: tensor.Numel(first[:axis]),
		row:   total * tensor.Numel(first[axis+1:]),
	}
	copy(l.xs, xs)
	inner := tensor.Numel(first[axis+1:])
	for i, x := range xs {
		l.offs[i+1] = l.offs[i] + x.Value.Shape[axis]*inner
	}
	outShape := NewSlice[int](g, r)
	copy(outShape, first)
	outShape[axis] = total
	out := g.AllocUninit(outShape...)
	l.y = out.Data
	nx := len(xs)
	parallel.Loop(l.outer*nx, max(1, ewGrain*nx/max(1, l.row)), l)
	y := g.Result(out, xs...)
	if !y.requiresGrad {
		clear(l.xs) // keep no input reachable
		return y
	}
	l.y = nil
	n := New[concatNode](g)
	*n = concatNode{y: y, l: l}
	g.RecordNode(y, n)
	return y
}

// concatFail panics with the error of Concat's inputs.
func concatFail(axis, r int, xs []*Var) {
	shapes := make([][]int, len(xs))
	for i, x := range xs {
		shapes[i] = x.Value.Shape
	}
	msg := fmt.Sprintf("dims other than axis %d differ", axis)
	if axis < 0 || axis >= r {
		msg = fmt.Sprintf("axis %d out of range", axis)
	}
	tensor.Fail("Concat", msg, shapes...)
}

// concatNode is the tape node of Concat.
type concatNode struct {
	y *Var
	l concatLoop
}

func (n *concatNode) Backward(g *Graph) {
	l := n.l
	l.gy = n.y.Grad.Data
	for i, x := range l.xs {
		gx, fresh := g.gradOrFresh(x)
		if gx == nil {
			continue
		}
		l.gx, l.i, l.fresh = gx.Data, i, fresh
		blk := l.offs[i+1] - l.offs[i]
		parallel.Loop(l.outer, max(1, ewGrain/max(1, blk)), l)
	}
}

// concatLoop copies the outer blocks of every input into y (task t: block
// t/len(xs) of input t%len(xs)) or, when gy is set, adds blocks [lo, hi)
// of input i's part of gy into gx.
type concatLoop struct {
	xs         []*Var
	offs       []int // offset of each input's block in an output row
	outer, row int
	y          []float32

	gy, gx []float32
	i      int
	fresh  bool // gx holds no gradient yet: copy, not add
}

func (l *concatLoop) Run(lo, hi int) {
	if l.gy != nil {
		blk, off := l.offs[l.i+1]-l.offs[l.i], l.offs[l.i]
		for o := lo; o < hi; o++ {
			if l.fresh {
				copy(l.gx[o*blk:(o+1)*blk], l.gy[o*l.row+off:])
			} else {
				ewAxpy(l.gx[o*blk:(o+1)*blk], l.gy[o*l.row+off:], 1)
			}
		}
		return
	}
	nx, row := len(l.xs), l.row
	for t := lo; t < hi; t++ {
		o, i := t/nx, t%nx
		blk := l.offs[i+1] - l.offs[i]
		copy(l.y[o*row+l.offs[i]:o*row+l.offs[i+1]], l.xs[i].Value.Data[o*blk:(o+1)*blk])
	}
}

// Split cuts x along axis (negative counts from the end) into pieces of the
// given sizes, which must add up to the axis length. The pieces are copies.
// The returned slice belongs to g until Reset.
func (g *Graph) Split(x *Var, axis int, sizes ...int) []*Var {
	shape := x.Value.Shape
	r := len(shape)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		tensor.Fail("Split", fmt.Sprintf("axis %d out of range", axis), shape)
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			tensor.Fail("Split", fmt.Sprintf("negative size in %v", slices.Clone(sizes)), shape)
		}
		total += s
	}
	if total != shape[axis] {
		tensor.Fail("Split", fmt.Sprintf("sizes %v do not add up to axis %d", slices.Clone(sizes), axis), shape)
	}
	inner := tensor.Numel(shape[axis+1:])
	l := splitLoop{x: x.Value.Data, outer: tensor.Numel(shape[:axis]), row: total * inner}
	ys := NewSlice[*Var](g, len(sizes))
	for i, s := range sizes {
		ps := NewSlice[int](g, r)
		copy(ps, shape)
		ps[axis] = s
		out := g.AllocUninit(ps...)
		l.blk, l.y = s*inner, out.Data
		parallel.Loop(l.outer, max(1, ewGrain/max(1, l.blk)), l)
		y := g.Result(out, x)
		if y.requiresGrad {
			n := New[splitNode](g)
			*n = splitNode{x: x, y: y, l: l}
			n.l.x, n.l.y = nil, nil
			g.RecordNode(y, n)
		}
		ys[i] = y
		l.start += l.blk
	}
	return ys
}

// splitNode is the tape node of one piece of Split.
type splitNode struct {
	x, y *Var
	l    splitLoop
}

func (n *splitNode) Backward(g *Graph) {
	if gx := g.GradOf(n.x); gx != nil {
		l := n.l
		l.gx, l.gy = gx.Data, n.y.Grad.Data
		parallel.Loop(l.outer, max(1, ewGrain/max(1, l.blk)), l)
	}
}

// splitLoop copies outer blocks [lo, hi) of one piece, blk elements at
// offset start in each row of x, into y, or, when gy is set, adds gy's
// blocks into gx.
type splitLoop struct {
	x, y                   []float32
	outer, row, blk, start int

	gx, gy []float32
}

func (l *splitLoop) Run(lo, hi int) {
	blk, row, start := l.blk, l.row, l.start
	for o := lo; o < hi; o++ {
		if l.gy != nil {
			ewAxpy(l.gx[o*row+start:o*row+start+blk], l.gy[o*blk:], 1)
		} else {
			copy(l.y[o*blk:(o+1)*blk], l.x[o*row+start:])
		}
	}
}

// Pad2dReflect pads the last two dims of x (H and W) by mirroring without
// repeating the edge, as PyTorch's reflect padding. Each pad must be smaller
// than the dim it extends.
func (g *Graph) Pad2dReflect(x *Var, top, bottom, left, right int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	tensor.Check(r >= 2, "Pad2dReflect", "input needs H and W dims", shape)
	h, w := shape[r-2], shape[r-1]
	if top < 0 || bottom < 0 || left < 0 || right < 0 || top >= h || bottom >= h || left >= w || right >= w {
		tensor.Fail("Pad2dReflect", fmt.Sprintf("pads (top %d, bottom %d, left %d, right %d) must be in [0, dim)", top, bottom, left, right), shape)
	}
	l := padLoop{planes: tensor.Numel(shape[:r-2]), h: h, w: w, top: top, bottom: bottom, left: left, right: right}
	outShape := NewSlice[int](g, r)
	copy(outShape, shape)
	outShape[r-2], outShape[r-1] = l.ho(), l.wo()
	out := g.AllocUninit(outShape...)
	l.x, l.y = x.Value.Data, out.Data
	parallel.Loop(l.planes*l.ho(), max(1, ewGrain/l.wo()), l)
	y := g.Result(out, x)
	if y.requiresGrad {
		l.x, l.y = nil, nil
		n := New[padNode](g)
		*n = padNode{x: x, y: y, l: l}
		g.RecordNode(y, n)
	}
	return y
}

// padNode is the tape node of Pad2dReflect.
type padNode struct {
	x, y *Var
	l    padLoop
}

func (n *padNode) Backward(g *Graph) {
	gx := g.GradOf(n.x)
	if gx == nil {
		return
	}
	l := n.l
	l.gx, l.gy = gx.Data, n.y.Grad.Data
	// One task per input row gathers, in a fixed order, the output rows
	// that copy it: itself, then its top and bottom mirror images.
	parallel.Loop(l.planes*l.h, max(1, ewGrain/l.wo()), l)
}

// padLoop writes output rows [lo, hi) of the reflect padding of x into y,
// or, when gy is set, adds the gradients of input rows [lo, hi) into gx.
type padLoop struct {
	planes, h, w             int
	top, bottom, left, right int
	x, y, gx, gy             []float32
}

func (l *padLoop) ho() int { return l.h + l.top + l.bottom }
func (l *padLoop) wo() int { return l.w + l.left + l.right }

func (l *padLoop) Run(lo, hi int) {
	h, w, ho, wo := l.h, l.w, l.ho(), l.wo()
	top, bottom, left, right := l.top, l.bottom, l.left, l.right
	if l.gy != nil {
		gy := l.gy
		for t := lo; t < hi; t++ {
			p, i := t/h, t%h
			dst := l.gx[t*w : (t+1)*w]
			shapeFoldRow(dst, gy[(p*ho+i+top)*wo:][:wo], left, right)
			if i >= 1 && i <= top {
				shapeFoldRow(dst, gy[(p*ho+top-i)*wo:][:wo], left, right)
			}
			if i >= h-1-bottom && i <= h-2 {
				shapeFoldRow(dst, gy[(p*ho+top+2*(h-1)-i)*wo:][:wo], left, right)
			}
		}
		return
	}
	for t := lo; t < hi; t++ {
		p, i := t/ho, t%ho
		src := l.x[(p*h+shapeReflect(i-top, h))*w:][:w]
		dst := l.y[t*wo : (t+1)*wo]
		for j := 0; j < left; j++ {
			dst[j] = src[left-j]
		}
		copy(dst[left:left+w], src)
		for j := 0; j < right; j++ {
			dst[left+w+j] = src[w-2-j]
		}
	}
}

// shapeReflect maps a padded coordinate to the source index in [0, n).
func shapeReflect(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

// shapeFoldRow adds a padded row's gradient into the source row dst.
func shapeFoldRow(dst, src []float32, left, right int) {
	w := len(dst)
	ewAxpy(dst, src[left:left+w], 1)
	for j := 0; j < left; j++ {
		dst[left-j] += src[j]
	}
	for j := 0; j < right; j++ {
		dst[w-2-j] += src[left+w+j]
	}
}

// Crop2d returns the h×w window of the last two dims of x whose top-left
// corner is (top, left).
func (g *Graph) Crop2d(x *Var, top, left, h, w int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	tensor.Check(r >= 2, "Crop2d", "input needs H and W dims", shape)
	hi0, wi := shape[r-2], shape[r-1]
	if top < 0 || left < 0 || h < 0 || w < 0 || top+h > hi0 || left+w > wi {
		tensor.Fail("Crop2d", fmt.Sprintf("window (top %d, left %d, %d×%d) outside the input", top, left, h, w), shape)
	}
	outShape := NewSlice[int](g, r)
	copy(outShape, shape)
	outShape[r-2], outShape[r-1] = h, w
	out := g.AllocUninit(outShape...)
	l := cropLoop{h: h, w: w, hi: hi0, wi: wi, top: top, left: left, x: x.Value.Data, y: out.Data}
	planes := tensor.Numel(shape[:r-2])
	parallel.Loop(planes*h, l.grain(), l)
	y := g.Result(out, x)
	if y.requiresGrad {
		l.x, l.y = nil, nil
		n := New[cropNode](g)
		*n = cropNode{x: x, y: y, l: l, planes: planes}
		g.RecordNode(y, n)
	}
	return y
}

// cropNode is the tape node of Crop2d.
type cropNode struct {
	x, y   *Var
	l      cropLoop
	planes int
}

func (n *cropNode) Backward(g *Graph) {
	if gx := g.GradOf(n.x); gx != nil {
		l := n.l
		l.gx, l.gy = gx.Data, n.y.Grad.Data
		parallel.Loop(n.planes*l.h, l.grain(), l)
	}
}

// cropLoop copies output rows [lo, hi) of the window from x into y, or,
// when gy is set, adds them into gx.
type cropLoop struct {
	h, w, hi, wi, top, left int
	x, y, gx, gy            []float32
}

func (l *cropLoop) grain() int { return max(1, ewGrain/max(1, l.w)) }

func (l *cropLoop) Run(lo, hi int) {
	h, w := l.h, l.w
	for t := lo; t < hi; t++ {
		p, i := t/h, t%h
		at := (p*l.hi+l.top+i)*l.wi + l.left
		if l.gy != nil {
			ewAxpy(l.gx[at:][:w], l.gy[t*w:], 1)
		} else {
			copy(l.y[t*w:(t+1)*w], l.x[at:])
		}
	}
}
