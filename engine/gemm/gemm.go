// Package gemm multiplies float32 matrices: C = alpha*op(A)*op(B) + beta*C.
//
// Matrices are row-major with leading dimensions (the distance between rows).
// Kernels are chosen at run time from the CPU's features; the environment
// variable DEGRADIFF_KERNEL=generic|avx2|avx512 forces a path.
//
// The product is computed the Goto/BLIS way: blocks of op(B) and op(A) are
// packed into contiguous panels sized for the caches, and a register-tiled
// micro-kernel (AVX-512 or AVX2 assembly on amd64, Go elsewhere) multiplies
// the panels. Large products are split over goroutines by blocks of rows or
// columns of C, never over the summation, so every element of C is summed in
// the same order whatever the number of goroutines.
package gemm

import (
	"fmt"
	"sync"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m x k (A is k x m when transA), op(B) is k x n (B is n x k when
// transB) and C is m x n. With beta == 0, C need not be initialised; with
// alpha == 0 or k == 0, A and B are not read.
//
// The order of the k summation for each element of C does not depend on the
// number of goroutines, so results are reproducible bit for bit.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("A", m, n, k, ar, ac, a, lda)
	checkMatrix("B", m, n, k, br, bc, b, ldb)
	checkMatrix("C", m, n, k, m, n, c, ldc)
	mul(m, n, k, alpha,
		operand{d: a, ld: lda, xMajor: !transA},
		operand{d: b, ld: ldb, xMajor: transB},
		beta, c, ldc, false)
}

// MulOperands computes C = alpha*op(A)*op(B) + beta*C like Sgemm, with the
// factors given as Operands: a supplies the m x k matrix op(A) and b the
// k x n matrix op(B). The summation order, and so the result, is the same
// as Sgemm's for the same values and does not depend on the number of
// goroutines.
func MulOperands(m, n, k int, alpha float32, a, b Operand, beta float32, c []float32, ldc int) {
	mulOperands(m, n, k, alpha, a, b, beta, c, ldc, false)
}

// MulOperandsSerial is MulOperands on the calling goroutine alone, for
// callers that already run several products in parallel.
func MulOperandsSerial(m, n, k int, alpha float32, a, b Operand, beta float32, c []float32, ldc int) {
	mulOperands(m, n, k, alpha, a, b, beta, c, ldc, true)
}

func mulOperands(m, n, k int, alpha float32, a, b Operand, beta float32, c []float32, ldc int, serial bool) {
	if a == nil || b == nil {
		panic("gemm.MulOperands: nil Operand")
	}
	checkMatrix("C", m, n, k, m, n, c, ldc)
	mul(m, n, k, alpha, asOperand("A", a, m, n, k), asOperand("B", b, m, n, k), beta, c, ldc, serial)
}

// asOperand unwraps a *Dense, after checking that it holds op(A) (name "A",
// m x k) or op(B) ("B", k x n), so that the driver packs it without
// interface calls.
func asOperand(name string, op Operand, m, n, k int) operand {
	d, ok := op.(*Dense)
	if !ok {
		return operand{src: op}
	}
	nx, label := m, "Dense A"
	if name == "B" {
		nx, label = n, "Dense B"
	}
	rows, cols := nx, k
	if !d.XMajor {
		rows, cols = k, nx
	}
	if nx > 0 && k > 0 {
		checkMatrix(label, m, n, k, rows, cols, d.Data, d.Stride)
	}
	return operand{d: d.Data, ld: d.Stride, xMajor: d.XMajor}
}

// checkMatrix panics unless d holds a rows x cols matrix with leading
// dimension ld.
func checkMatrix(name string, m, n, k, rows, cols int, d []float32, ld int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s is %dx%d (m=%d n=%d k=%d) but its leading dimension is %d", name, rows, cols, m, n, k, ld))
	}
	if rows > 0 && cols > 0 && len(d) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s is %dx%d with leading dimension %d (m=%d n=%d k=%d) but has only %d elements", name, rows, cols, ld, m, n, k, len(d)))
	}
}

// parallelFlops is the size (2*m*n*k) below which a product runs on the
// calling goroutine: handing work to another core costs microseconds.
const parallelFlops = 1 << 21

// A job is one product being computed, shared by the goroutines working on
// its parts. Jobs are recycled through jobFree.
type job struct {
	p           *path
	mr          int         // tile height
	micro       microKernel // the tile kernel
	kc          int         // depth of each packed block
	m, n, k     int
	alpha, beta float32
	a, b        operand
	c           []float32
	ldc         int

	splitN bool // parts are column blocks; otherwise row blocks
	parts  int
	wg     sync.WaitGroup
}

var (
	jobMu   sync.Mutex
	jobFree []*job
)

func getJob() *job {
	jobMu.Lock()
	defer jobMu.Unlock()
	if n := len(jobFree); n > 0 {
		j := jobFree[n-1]
		jobFree = jobFree[:n-1]
		return j
	}
	return new(job)
}

func putJob(j *job) {
	j.a, j.b, j.c = operand{}, operand{}, nil // drop references for the GC
	jobMu.Lock()
	jobFree = append(jobFree, j)
	jobMu.Unlock()
}

func mul(m, n, k int, alpha float32, a, b operand, beta float32, c []float32, ldc int, serial bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	j := getJob()
	p := active.Load()
	j.p, j.m, j.n, j.k = p, m, n, k
	t := p.tile(m)
	j.mr, j.micro = t.mr, t.micro
	// Equal depth blocks, so that no block is much thinner than the rest,
	// in multiples of 16 so that operands packed by transposing 16x16
	// blocks (conv's, by output rows) rarely have ragged ends.
	j.kc = evenBlock(k, p.kc, 16)
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c, j.ldc = a, b, c, ldc
	w := workers()
	if serial {
		w = 1
	}
	j.plan(w)
	runJob(j)
	putJob(j)
}

// plan chooses how many parts the product is split into and along which
// dimension. Splitting columns makes every part pack all of op(A), splitting
// rows makes every part pack all of op(B), so the smaller one is repacked.
// Part boundaries fall on micro-tile boundaries, so each element is computed
// by the same code whatever the split.
func (j *job) plan(workers int) {
	j.parts, j.splitN = 1, false
	if workers < 2 || 2*float64(j.m)*float64(j.n)*float64(j.k) < parallelFlops {
		return
	}
	mt := (j.m + j.mr - 1) / j.mr
	nt := (j.n + j.p.nr - 1) / j.p.nr
	j.splitN = j.m <= j.n
	if j.splitN && nt < 2*workers && mt > nt {
		j.splitN = false
	} else if !j.splitN && mt < 2*workers && nt > mt {
		j.splitN = true
	}
	tiles := mt
	if j.splitN {
		tiles = nt
	}
	j.parts = min(workers, tiles)
}

// bounds returns the rows [i0, i1) and columns [j0, j1) of C of one part.
func (j *job) bounds(part int) (i0, i1, j0, j1 int) {
	if j.parts == 1 {
		return 0, j.m, 0, j.n
	}
	if j.splitN {
		nt := (j.n + j.p.nr - 1) / j.p.nr
		lo, hi := part*nt/j.parts*j.p.nr, (part+1)*nt/j.parts*j.p.nr
		return 0, j.m, lo, min(hi, j.n)
	}
	mt := (j.m + j.mr - 1) / j.mr
	lo, hi := part*mt/j.parts*j.mr, (part+1)*mt/j.parts*j.mr
	return lo, min(hi, j.m), 0, j.n
}

// run computes one part of the product.
func (j *job) run(part int) {
	i0, i1, j0, j1 := j.bounds(part)
	if i0 >= i1 || j0 >= j1 {
		return
	}
	ws := getWorkspace(j.p)
	ws.block(j, i0, i1, j0, j1)
	putWorkspace(ws)
}

// block computes C[i0:i1, j0:j1] with the loop nest of Goto and van de
// Geijn: column blocks of nc, depth blocks of kc (op(B) packed once per
// pair), row blocks of mc (op(A) packed), then micro-tiles, the packed B
// micro-panel staying in L1 while A micro-panels stream from L2.
func (ws *workspace) block(j *job, i0, i1, j0, j1 int) {
	p := j.p
	mr, nr, kcMax := j.mr, p.nr, j.kc
	micro := j.micro
	c, ldc := j.c, j.ldc
	mcMax := evenBlock(i1-i0, p.mc, mr)
	ncMax := evenBlock(j1-j0, p.nc, nr)
	for jc := j0; jc < j1; jc += ncMax {
		nc := min(ncMax, j1-jc)
		for pc := 0; pc < j.k; pc += kcMax {
			kc := min(kcMax, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			packPanels(p, &j.b, ws.b, nr, jc, nc, pc, kc)
			for ic := i0; ic < i1; ic += mcMax {
				mc := min(mcMax, i1-ic)
				packPanels(p, &j.a, ws.a, mr, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					bp := ws.b[jr*kc : (jr+nr)*kc]
					nw := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						ap := ws.a[ir*kc : (ir+mr)*kc]
						mh := min(mr, mc-ir)
						off := (ic+ir)*ldc + jc + jr
						if mh == mr && nw == nr {
							micro(kc, ap, bp, c[off:], ldc, j.alpha, beta)
							continue
						}
						// Edge tile: compute it whole into ws.t, then merge.
						micro(kc, ap, bp, ws.t, nr, j.alpha, 0)
						for i := 0; i < mh; i++ {
							crow := c[off+i*ldc : off+i*ldc+nw]
							trow := ws.t[i*nr : i*nr+nw]
							if beta == 0 {
								copy(crow, trow)
								continue
							}
							for x, v := range trow {
								crow[x] = v + beta*crow[x]
							}
						}
					}
				}
			}
		}
	}
}

// evenBlock splits n into the fewest blocks of at most limit and returns
// their size rounded up to a multiple of unit (so at most limit+unit-1).
func evenBlock(n, limit, unit int) int {
	if n <= 0 {
		return unit
	}
	nb := (n + limit - 1) / limit
	b := (n + nb - 1) / nb
	return (b + unit - 1) / unit * unit
}

// scale sets C = beta*C (C = 0 when beta == 0, whatever C held).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for x := range row {
			row[x] *= beta
		}
	}
}
