package gemm

import (
	"fmt"
	"math"
)

// Operand is a factor of the product computed by MulOperands, read only
// through Pack. It lets callers feed matrices that are never stored whole,
// such as the im2col matrix of a convolution.
//
// For the left factor, v(x, p) is element (x, p) of op(A) (x < m, p < k);
// for the right factor, v(x, p) is element (p, x) of op(B) (x < n, p < k).
type Operand interface {
	// Pack sets dst[p*ld+x] = v(x0+x, p0+p) for 0 <= x < nx and
	// 0 <= p < kc and writes nothing else. MulOperands calls it from several
	// goroutines at once, with disjoint dst.
	Pack(dst []float32, ld, x0, nx, p0, kc int)
}

// PairOperand is an Operand that can also pack straight into the bf16
// pairs of the BF16 precision's panels, saving the float32 panel in
// between. MulOperands uses PackPairs where the products run on bf16
// pairs.
type PairOperand interface {
	Operand
	// PackPairs sets dst[q*ld+x] = PackPair(v(x0+x, p0+2q), v(x0+x,
	// p0+2q+1)) for 0 <= x < nx and 0 <= q < (kc+1)/2, the second value
	// 0 where 2q+1 == kc, and writes nothing else.
	PackPairs(dst []float32, ld, x0, nx, p0, kc int)
}

// PackPair returns the bf16 pair of lo and hi as the BF16 products take
// it: the bits of lo and hi rounded to bfloat16 (to nearest, ties to even;
// subnormals to zero), lo in the low half.
func PackPair(lo, hi float32) float32 {
	return math.Float32frombits(uint32(toBF16(lo)) | uint32(toBF16(hi))<<16)
}

// GatherRowsPairs sets dst[q*ldd+c] = PackPair(src[offs[2q]+c],
// src[offs[2q+1]+c]) for q < (len(offs)+1)/2 and c < cols, the second
// value 0 for the last q of an odd len(offs): GatherRows and the pairing
// in one pass.
func GatherRowsPairs(dst []float32, ldd int, src []float32, offs []int, cols int) {
	rows := len(offs)
	if rows == 0 || cols <= 0 {
		return
	}
	checkRows("gemm.GatherRowsPairs", src, offs, cols)
	if ldd < cols || len(dst) < ((rows+1)/2-1)*ldd+cols {
		panic(fmt.Sprintf("gemm.GatherRowsPairs: %dx%d into %d elements (ldd %d)", (rows+1)/2, cols, len(dst), ldd))
	}
	if gatherPairs(dst, ldd, src, offs, cols) {
		return
	}
	for q := 0; 2*q < rows; q++ {
		lo := src[offs[2*q]:][:cols]
		var hi []float32
		if 2*q+1 < rows {
			hi = src[offs[2*q+1]:][:cols]
		}
		row := dst[q*ldd:][:cols]
		for c := range row {
			h := float32(0)
			if hi != nil {
				h = hi[c]
			}
			row[c] = PackPair(lo[c], h)
		}
	}
}

// Dense is a row-major matrix as an Operand. With XMajor its rows run along
// x: v(x, p) = Data[x*Stride+p]; otherwise v(x, p) = Data[p*Stride+x]. So
// op(A) is Dense{a, lda, !transA} as the left factor and op(B) is
// Dense{b, ldb, transB} as the right one.
type Dense struct {
	Data   []float32
	Stride int
	XMajor bool
}

// Pack implements Operand.
func (d *Dense) Pack(dst []float32, ld, x0, nx, p0, kc int) {
	o := operand{d: d.Data, ld: d.Stride, xMajor: d.XMajor}
	o.pack(active.Load(), dst, ld, x0, nx, p0, kc)
}

// operand is a factor as the driver sees it: a caller's Operand, or a dense
// row-major matrix packed by the code below (no interface, so Sgemm does not
// allocate).
type operand struct {
	src    Operand
	d      []float32
	ld     int
	xMajor bool // v(x, p) = d[x*ld+p]; otherwise d[p*ld+x]
}

func (o *operand) pack(p *path, dst []float32, ld, x0, nx, p0, kc int) {
	if o.src != nil {
		o.src.Pack(dst, ld, x0, nx, p0, kc)
		return
	}
	if o.xMajor {
		transpose(p, dst, ld, o.d[x0*o.ld+p0:], o.ld, nx, kc)
	} else {
		packPMajor(p, dst, ld, o.d, o.ld, x0, nx, p0, kc)
	}
}

// packPMajor packs from a matrix whose rows run along x: each packed row is
// a contiguous copy, of a whole panel row (fixed size: no memmove call) when
// nx == ld.
func packPMajor(p *path, dst []float32, ld int, d []float32, dld, x0, nx, p0, kc int) {
	s := p0*dld + x0
	switch {
	case nx == 32 && ld == 32 && p.asmPack:
		copyRows32(dst[:kc*32], d[s:s+(kc-1)*dld+32], dld, kc)
	case nx == 16 && ld == 16:
		for p := 0; p < kc; p++ {
			*(*[16]float32)(dst[p*16:]) = *(*[16]float32)(d[s:])
			s += dld
		}
	default:
		for p := 0; p < kc; p++ {
			copy(dst[p*ld:p*ld+nx], d[s:s+nx])
			s += dld
		}
	}
}

// packPanel packs rows [x0, x0+nx) x depth [p0, p0+kc) of o into the
// panel dst of width w >= nx: dst[p*w+x] = v(x0+x, p0+p), the missing
// entries of a short panel set to zero; on a pairs path, then converted
// to bf16 pairs (pairPanel), or packed as pairs in one pass where o is
// stored rows along p (pairRows) or a PairOperand.
func packPanel(p *path, o *operand, dst []float32, w, x0, nx, p0, kc int) {
	if p.pairs && o.src == nil && !o.xMajor && pairRows(p, dst, w, o.d[p0*o.ld+x0:], o.ld, nx, kc) {
		return // stored rows of op(B), converted as they are packed
	}
	if pp, ok := o.src.(PairOperand); ok && p.pairs {
		kd := (kc + 1) / 2
		pp.PackPairs(dst, w, x0, nx, p0, kc)
		if nx < w {
			for q := range kd {
				clear(dst[q*w+nx : (q+1)*w])
			}
		}
		return
	}
	o.pack(p, dst, w, x0, nx, p0, kc)
	if nx < w {
		for p := 0; p < kc; p++ {
			clear(dst[p*w+nx : (p+1)*w])
		}
	}
	if p.pairs {
		pairPanel(p, dst[:w*kc], w, kc)
	}
}

// packPanelA packs a panel of op(A) for a tile of w rows: packPanel, then
// on an AMX path re-laid by amxRows, or packed at once from op(A)'s rows
// when they are stored rows.
func packPanelA(p *path, o *operand, dst []float32, w, x0, nx, p0, kc int) {
	if p.amx && o.src == nil && o.xMajor {
		amxPackRows(dst, o.d[x0*o.ld+p0:], o.ld, nx, w, kc)
		return
	}
	packPanel(p, o, dst, w, x0, nx, p0, kc)
	if p.amx {
		amxRows(dst, w, p.kernelDepth(kc))
	}
}

// amxRows re-lays a pairs panel of width w and kd pairs, pair (x, q) at
// p[q*w+x], for AMX tiles: in blocks of 16 pairs (the last one of kd%16),
// each block's rows x in turn, so that the block of pairs [q0, q0+n) holds
// pair (x, q) at p[q0*w+x*n+q-q0].
func amxRows(p []float32, w, kd int) {
	var blk [16 * 32]float32
	var offs [16]int
	for q0 := 0; q0 < kd; q0 += 16 {
		n := min(16, kd-q0)
		src := p[q0*w:][:n*w]
		if w%16 == 0 {
			// The pairs are 32-bit words: AVX-512 transposes 16x16 blocks.
			for q := range offs {
				offs[q] = min(q, n-1) * w // rows past n repeat valid ones
			}
			transposeOffs(blk[:(w-1)*n+n], n, src, &offs, 1<<n-1, w)
		} else {
			for q := range n {
				for x := range w {
					blk[x*n+q] = src[q*w+x]
				}
			}
		}
		copy(src, blk[:n*w])
	}
}

// packPanelsB packs the column panels [p0, p1) of op(B) at depth
// [pc, pc+kc) into dst, panel p0+i at dst[i*nr*kc:].
func packPanelsB(p *path, o *operand, dst []float32, n, p0, p1, pc, kc int) {
	nr := p.nr
	for pn := p0; pn < p1; pn++ {
		x := pn * nr
		packPanel(p, o, dst[:nr*kc], nr, x, min(nr, n-x), pc, kc)
		dst = dst[nr*kc:]
	}
}

// Transpose sets dst[c*ldd+r] = src[r*lds+c] for r < rows and c < cols:
// the rows x cols matrix src (leading dimension lds) goes transposed into
// dst (leading dimension ldd). The AVX-512 path moves 16x16 blocks through
// registers.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < rows || lds < cols || len(dst) < (cols-1)*ldd+rows || len(src) < (rows-1)*lds+cols {
		panic(fmt.Sprintf("gemm.Transpose: %dx%d from %d elements (lds %d) into %d (ldd %d)", rows, cols, len(src), lds, len(dst), ldd))
	}
	transpose(active.Load(), dst, ldd, src, lds, rows, cols)
}

// TransposeRows sets dst[c*ldd+r] = src[offs[r]+c] for r < len(offs) and
// c < cols: Transpose with rows at arbitrary offsets, for packing panels
// straight from an image (rows are shifted windows of it).
func TransposeRows(dst []float32, ldd int, src []float32, offs []int, cols int) {
	rows := len(offs)
	if rows == 0 || cols <= 0 {
		return
	}
	checkRows("gemm.TransposeRows", src, offs, cols)
	if ldd < rows || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("gemm.TransposeRows: %dx%d into %d elements (ldd %d)", rows, cols, len(dst), ldd))
	}
	p := active.Load()
	r := 0
	if p.asmPack && cols >= 16 {
		c16 := cols &^ 15
		var o [16]int
		for ; r < rows; r += 16 {
			n := min(16, rows-r)
			copy(o[:], offs[r:r+n])
			for i := n; i < 16; i++ {
				o[i] = o[0] // loaded but not stored
			}
			transposeOffs(dst[r:r+(c16-1)*ldd+n], ldd, src, &o, 1<<n-1, c16)
		}
		if c16 == cols {
			return
		}
		dst, src, cols, r = dst[c16*ldd:], src[c16:], cols-c16, 0
	}
	for ; r < rows; r++ {
		s := src[offs[r]:][:cols]
		o := r
		for c := range s {
			dst[o] = s[c]
			o += ldd
		}
	}
}

// GatherRows sets dst[r*ldd+c] = src[offs[r]+c] for r < len(offs) and
// c < cols: a copy of rows at arbitrary offsets.
func GatherRows(dst []float32, ldd int, src []float32, offs []int, cols int) {
	rows := len(offs)
	if rows == 0 || cols <= 0 {
		return
	}
	checkRows("gemm.GatherRows", src, offs, cols)
	if ldd < cols || len(dst) < (rows-1)*ldd+cols {
		panic(fmt.Sprintf("gemm.GatherRows: %dx%d into %d elements (ldd %d)", rows, cols, len(dst), ldd))
	}
	if p := active.Load(); cols <= 32 && p.asmPack {
		// Panels are 32 columns wide, so im2col's row segments are at
		// most 32; masked moves beat a copy call per short row.
		gatherRows(dst, ldd, src, offs, cols)
		return
	}
	for r, off := range offs {
		copy(dst[r*ldd:r*ldd+cols], src[off:off+cols])
	}
}

// checkRows panics unless every row [offs[r], offs[r]+cols) lies in src.
func checkRows(op string, src []float32, offs []int, cols int) {
	for r, off := range offs {
		if off < 0 || off > len(src)-cols {
			panic(fmt.Sprintf("%s: row %d at offset %d with %d columns outside %d elements", op, r, off, cols, len(src)))
		}
	}
}

// transpose is Transpose on path p, without the checks.
func transpose(p *path, dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if !p.asmPack || cols < 16 {
		transposeGo(dst, ldd, src, lds, rows, cols)
		return
	}
	c16 := cols &^ 15
	var o [16]int
	for r := 0; r < rows; r += 16 {
		n := min(16, rows-r)
		for i := range o {
			o[i] = (r + i%n) * lds // rows past n repeat valid ones
		}
		transposeOffs(dst[r:r+(c16-1)*ldd+n], ldd, src, &o, 1<<n-1, c16)
	}
	if c16 < cols {
		transposeGo(dst[c16*ldd:], ldd, src[c16:], lds, rows, cols-c16)
	}
}

// transposeGo is transpose in Go, four source rows at a time so that each
// row of dst is written in runs.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	dst = dst[:(cols-1)*ldd+rows]
	r := 0
	for ; r+4 <= rows; r += 4 {
		s0 := src[r*lds:][:cols]
		s1 := src[(r+1)*lds:][:cols]
		s2 := src[(r+2)*lds:][:cols]
		s3 := src[(r+3)*lds:][:cols]
		o := r
		for c := range s0 {
			t := dst[o : o+4 : o+4]
			t[0], t[1], t[2], t[3] = s0[c], s1[c], s2[c], s3[c]
			o += ldd
		}
	}
	for ; r < rows; r++ {
		s := src[r*lds:][:cols]
		o := r
		for c := range s {
			dst[o] = s[c]
			o += ldd
		}
	}
}
