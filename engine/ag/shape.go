package ag

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Reshape returns x with a new shape of the same size; one dim may be -1 and
// is then inferred. The result shares x's memory, so in inference mode
// Release at most one of x and the result, once neither is needed.
func (g *Graph) Reshape(x *Var, shape ...int) *Var {
	ns := shapeInfer("Reshape", x.Value.Shape, shape)
	y := g.Result(&tensor.Tensor{Shape: ns, Data: x.Value.Data}, x)
	y.pooled = x.pooled
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			gy := y.Grad.Data
			parallel.For(len(gy), ewGrain, func(lo, hi int) {
				ewAxpy(gx.Data[lo:hi], gy[lo:hi], 1)
			})
		}
	})
	return y
}

// shapeInfer resolves a -1 in shape against old's size.
func shapeInfer(op string, old, shape []int) []int {
	ns := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range ns {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d >= 0:
			known *= d
		default:
			panic(&tensor.ShapeError{Op: op, Msg: "bad target shape", Shapes: [][]int{old, shape}})
		}
	}
	n := tensor.Numel(old)
	if infer >= 0 {
		tensor.Check(known > 0 && n%known == 0, op, "cannot infer -1", old, shape)
		ns[infer] = n / known
	}
	tensor.Check(tensor.Numel(ns) == n, op, "sizes differ", old, shape)
	return ns
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
	tensor.Check(ok, "Permute", fmt.Sprintf("bad permutation %v", perm), shape)
	outShape := make([]int, r)
	inv := make([]int, r)
	for i, p := range perm {
		outShape[i] = shape[p]
		inv[p] = i
	}
	out := g.AllocUninit(outShape...)
	shapePermute(out.Data, x.Value.Data, shape, perm, false)
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			shapePermute(gx.Data, y.Grad.Data, outShape, inv, true)
		}
	})
	return y
}

// shapeTile is the tile size of the blocked transpose.
const shapeTile = 32

// shapePermute writes (or, with acc, adds) the permutation of the
// contiguous tensor src of the given shape into dst.
func shapePermute(dst, src []float32, shape, perm []int, acc bool) {
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
		shapeCopy(dst, src, acc)
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
		shapeTranspose(dst, src, 1, dims[0], dims[1], acc)
		return
	case r == 3 && order[0] == 0 && order[1] == 2 && order[2] == 1:
		shapeTranspose(dst, src, dims[0], dims[1], dims[2], acc)
		return
	}
	// General case: walk the output rows, reading the input with stride.
	var p ewPlan
	p.rank = r
	for i := 0; i < r; i++ {
		p.dims[i] = dims[order[i]]
		p.sa[i] = inStride[order[i]]
	}
	sai := p.sa[r-1]
	parallel.For(len(dst), ewGrain, func(lo, hi int) {
		p.rows(lo, hi, func(o, ia, _, n int) {
			d := dst[o : o+n]
			if acc {
				for j := range d {
					d[j] += src[ia+j*sai]
				}
			} else {
				for j := range d {
					d[j] = src[ia+j*sai]
				}
			}
		})
	})
}

func shapeCopy(dst, src []float32, acc bool) {
	parallel.For(len(dst), ewGrain, func(lo, hi int) {
		if acc {
			ewAxpy(dst[lo:hi], src[lo:hi], 1)
		} else {
			copy(dst[lo:hi], src[lo:hi])
		}
	})
}

// shapeTranspose writes (or adds) the transposes of the b matrices
// src[b][m][k] into dst[b][k][m], in tiles that keep both sides in cache.
func shapeTranspose(dst, src []float32, batch, m, k int, acc bool) {
	kt := (k + shapeTile - 1) / shapeTile
	grain := max(1, ewGrain/(shapeTile*m))
	parallel.For(batch*kt, grain, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b, k0 := t/kt, t%kt*shapeTile
			k1 := min(k0+shapeTile, k)
			s := src[b*m*k : (b+1)*m*k]
			d := dst[b*m*k : (b+1)*m*k]
			for m0 := 0; m0 < m; m0 += shapeTile {
				m1 := min(m0+shapeTile, m)
				for kk := k0; kk < k1; kk++ {
					row := d[kk*m+m0 : kk*m+m1]
					if acc {
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
	})
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
	shapes := make([][]int, len(xs))
	for i, x := range xs {
		shapes[i] = x.Value.Shape
	}
	tensor.Check(axis >= 0 && axis < r, "Concat", fmt.Sprintf("axis %d out of range", axis), shapes...)
	total := 0
	for _, s := range shapes {
		ok := len(s) == r
		for d := 0; ok && d < r; d++ {
			ok = d == axis || s[d] == first[d]
		}
		tensor.Check(ok, "Concat", fmt.Sprintf("dims other than axis %d differ", axis), shapes...)
		total += s[axis]
	}
	outShape := append([]int(nil), first...)
	outShape[axis] = total
	outer := tensor.Numel(first[:axis])
	inner := tensor.Numel(first[axis+1:])
	row := total * inner
	offs := make([]int, len(xs)+1)
	for i, s := range shapes {
		offs[i+1] = offs[i] + s[axis]*inner
	}
	out := g.AllocUninit(outShape...)
	od := out.Data
	nx := len(xs)
	parallel.For(outer*nx, max(1, ewGrain*nx/max(1, row)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, i := t/nx, t%nx
			blk := offs[i+1] - offs[i]
			copy(od[o*row+offs[i]:o*row+offs[i+1]], xs[i].Value.Data[o*blk:(o+1)*blk])
		}
	})
	y := g.Result(out, xs...)
	g.Record(y, func() {
		gy := y.Grad.Data
		for i, x := range xs {
			gx := g.GradOf(x)
			if gx == nil {
				continue
			}
			blk := offs[i+1] - offs[i]
			off := offs[i]
			parallel.For(outer, max(1, ewGrain/max(1, blk)), func(lo, hi int) {
				for o := lo; o < hi; o++ {
					ewAxpy(gx.Data[o*blk:(o+1)*blk], gy[o*row+off:], 1)
				}
			})
		}
	})
	return y
}

// Split cuts x along axis (negative counts from the end) into pieces of the
// given sizes, which must add up to the axis length. The pieces are copies.
func (g *Graph) Split(x *Var, axis int, sizes ...int) []*Var {
	shape := x.Value.Shape
	r := len(shape)
	if axis < 0 {
		axis += r
	}
	tensor.Check(axis >= 0 && axis < r, "Split", fmt.Sprintf("axis %d out of range", axis), shape)
	total := 0
	for _, s := range sizes {
		tensor.Check(s >= 0, "Split", fmt.Sprintf("negative size in %v", sizes), shape)
		total += s
	}
	tensor.Check(total == shape[axis], "Split", fmt.Sprintf("sizes %v do not add up to axis %d", sizes, axis), shape)
	outer := tensor.Numel(shape[:axis])
	inner := tensor.Numel(shape[axis+1:])
	row := total * inner
	xd := x.Value.Data
	ys := make([]*Var, len(sizes))
	off := 0
	for i, s := range sizes {
		ps := append([]int(nil), shape...)
		ps[axis] = s
		out := g.AllocUninit(ps...)
		blk, start := s*inner, off
		od := out.Data
		parallel.For(outer, max(1, ewGrain/max(1, blk)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				copy(od[o*blk:(o+1)*blk], xd[o*row+start:])
			}
		})
		y := g.Result(out, x)
		g.Record(y, func() {
			if gx := g.GradOf(x); gx != nil {
				gy := y.Grad.Data
				parallel.For(outer, max(1, ewGrain/max(1, blk)), func(lo, hi int) {
					for o := lo; o < hi; o++ {
						ewAxpy(gx.Data[o*row+start:o*row+start+blk], gy[o*blk:], 1)
					}
				})
			}
		})
		ys[i] = y
		off += blk
	}
	return ys
}

// Pad2dReflect pads the last two dims of x (H and W) by mirroring without
// repeating the edge, as PyTorch's reflect padding. Each pad must be smaller
// than the dim it extends.
func (g *Graph) Pad2dReflect(x *Var, top, bottom, left, right int) *Var {
	shape := x.Value.Shape
	r := len(shape)
	tensor.Check(r >= 2, "Pad2dReflect", "input needs H and W dims", shape)
	h, w := shape[r-2], shape[r-1]
	tensor.Check(top >= 0 && bottom >= 0 && left >= 0 && right >= 0 &&
		top < h && bottom < h && left < w && right < w,
		"Pad2dReflect", fmt.Sprintf("pads (top %d, bottom %d, left %d, right %d) must be in [0, dim)", top, bottom, left, right), shape)
	ho, wo := h+top+bottom, w+left+right
	outShape := append([]int(nil), shape...)
	outShape[r-2], outShape[r-1] = ho, wo
	out := g.AllocUninit(outShape...)
	planes := tensor.Numel(shape[:r-2])
	xd, od := x.Value.Data, out.Data
	parallel.For(planes*ho, max(1, ewGrain/wo), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			p, i := t/ho, t%ho
			src := xd[(p*h+shapeReflect(i-top, h))*w:][:w]
			dst := od[t*wo : (t+1)*wo]
			for j := 0; j < left; j++ {
				dst[j] = src[left-j]
			}
			copy(dst[left:left+w], src)
			for j := 0; j < right; j++ {
				dst[left+w+j] = src[w-2-j]
			}
		}
	})
	y := g.Result(out, x)
	g.Record(y, func() {
		gx := g.GradOf(x)
		if gx == nil {
			return
		}
		gy := y.Grad.Data
		// One task per input row gathers, in a fixed order, the output rows
		// that copy it: itself, then its top and bottom mirror images.
		parallel.For(planes*h, max(1, ewGrain/wo), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				p, i := t/h, t%h
				dst := gx.Data[t*w : (t+1)*w]
				shapeFoldRow(dst, gy[(p*ho+i+top)*wo:][:wo], left, right)
				if i >= 1 && i <= top {
					shapeFoldRow(dst, gy[(p*ho+top-i)*wo:][:wo], left, right)
				}
				if i >= h-1-bottom && i <= h-2 {
					shapeFoldRow(dst, gy[(p*ho+top+2*(h-1)-i)*wo:][:wo], left, right)
				}
			}
		})
	})
	return y
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
	tensor.Check(top >= 0 && left >= 0 && h >= 0 && w >= 0 && top+h <= hi0 && left+w <= wi,
		"Crop2d", fmt.Sprintf("window (top %d, left %d, %d×%d) outside the input", top, left, h, w), shape)
	outShape := append([]int(nil), shape...)
	outShape[r-2], outShape[r-1] = h, w
	out := g.AllocUninit(outShape...)
	planes := tensor.Numel(shape[:r-2])
	xd, od := x.Value.Data, out.Data
	grain := max(1, ewGrain/max(1, w))
	parallel.For(planes*h, grain, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			p, i := t/h, t%h
			copy(od[t*w:(t+1)*w], xd[(p*hi0+top+i)*wi+left:])
		}
	})
	y := g.Result(out, x)
	g.Record(y, func() {
		if gx := g.GradOf(x); gx != nil {
			gy := y.Grad.Data
			parallel.For(planes*h, grain, func(lo, hi int) {
				for t := lo; t < hi; t++ {
					p, i := t/h, t%h
					ewAxpy(gx.Data[(p*hi0+top+i)*wi+left:][:w], gy[t*w:], 1)
				}
			})
		}
	})
	return y
}
