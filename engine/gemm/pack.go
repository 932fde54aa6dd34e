package gemm

import "fmt"

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
	case nx == 32 && ld == 32 && p.copy32 != nil:
		p.copy32(dst[:kc*32], d[s:s+(kc-1)*dld+32], dld, kc)
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

// Transpose sets dst[c*ldd+r] = src[r*lds+c] for r < rows and c < cols:
// the rows x cols matrix src (leading dimension lds) goes transposed into
// dst (leading dimension ldd). Operands use it to pack panels from data laid
// out along the summation index. The AVX-512 path moves 16x16 blocks
// through registers.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < rows || lds < cols || len(dst) < (cols-1)*ldd+rows || len(src) < (rows-1)*lds+cols {
		panic(fmt.Sprintf("gemm.Transpose: %dx%d from %d elements (lds %d) into %d (ldd %d)", rows, cols, len(src), lds, len(dst), ldd))
	}
	transpose(active.Load(), dst, ldd, src, lds, rows, cols)
}

// transpose is Transpose on path p, without the checks.
func transpose(p *path, dst []float32, ldd int, src []float32, lds, rows, cols int) {
	r := 0
	if p.trans16 != nil && cols >= 16 && rows >= 16 {
		c16 := cols &^ 15
		for ; r+16 <= rows; r += 16 {
			p.trans16(dst[r:r+(c16-1)*ldd+16], ldd, src[r*lds:r*lds+15*lds+c16], lds, c16)
		}
		if c16 < cols {
			transposeGo(dst[c16*ldd:], ldd, src[c16:], lds, r, cols-c16)
		}
	}
	if r < rows {
		transposeGo(dst[r:], ldd, src[r*lds:], lds, rows-r, cols)
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

// packPanels packs rows [x0, x0+nx) x depth [p0, p0+kc) of o into dst as
// panels of w: panel t holds x0+t*w ... in dst[t*w*kc:(t+1)*w*kc], the
// missing entries of a short last panel set to zero.
func packPanels(p *path, o *operand, dst []float32, w, x0, nx, p0, kc int) {
	for t := 0; t*w < nx; t++ {
		cnt := min(w, nx-t*w)
		panel := dst[t*w*kc : (t+1)*w*kc]
		o.pack(p, panel, w, x0+t*w, cnt, p0, kc)
		if cnt < w {
			for p := 0; p < kc; p++ {
				clear(panel[p*w+cnt : (p+1)*w])
			}
		}
	}
}
