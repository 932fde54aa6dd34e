// Package gemm multiplies float32 matrices: C = alpha*op(A)*op(B) + beta*C.
//
// Matrices are row-major with leading dimensions (the distance between rows).
// Kernels are chosen at run time from the CPU's features; the environment
// variable DEGRADIFF_KERNEL=generic|avx2|avx512 forces a path.
//
// The product is computed the Goto/BLIS way: blocks of op(B) and op(A) are
// packed into contiguous panels sized for the caches, and a register-tiled
// micro-kernel (AVX-512 or AVX2 assembly on amd64, Go elsewhere) multiplies
// the panels. Large products are shared out between goroutines by blocks of
// C, never over the summation, so every element of C is summed in the same
// order whatever the number of goroutines.
//
// In the BF16 precision (SetPrecision) the factors are rounded to bfloat16
// pairs and the products run on AMX tiles (AMX-BF16; DEGRADIFF_AMX=off
// turns them off), on AVX512_BF16's vdpbf16ps, or in Go.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/degradiff/degradiff/internal/parallel"
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
// wakeFlops is the size from which a product wakes a sleeping worker, which
// takes tens of microseconds (below it, only workers still spinning after
// their last product help).
const (
	parallelFlops = 1 << 21
	wakeFlops     = 1 << 25
)

// minUnitFlops is the least work (2*m*n*k) of a unit shared out between
// goroutines: a few microseconds, so that claiming it costs little.
const minUnitFlops = 1 << 20

// shortRows is the most rows of C for which a product run by several
// goroutines shares out column groups rather than row blocks.
const shortRows = 384

// A job is one product being computed, shared by the goroutines working on
// it. Jobs are recycled through jobs.
//
// The product runs in phases, Goto's loops over column blocks of nc and
// depth blocks of kc, and each phase in units: row blocks of C or, for
// short products, column groups. The work is a sequence of tickets, one
// per unit, that the goroutines claim in order, so whoever is there does
// the work, a goroutine that starts late just takes less, and none ever
// waits for one that has not started. A unit waits until the same unit of
// the previous phase is done, so that each element of C is summed over
// the depth blocks in order. The column blocks of a product split by rows
// come in groups with a sequence of tickets each, one group per goroutine
// to start with.
//
// Each goroutine packs what it multiplies itself, so that the packed
// panels stay in its own caches (sharing them costs more in coherence
// traffic than it saves): the phase's block of op(B) (for row blocks) or
// of op(A) (for column groups), once per phase, and each unit's own block
// of the other operand.
//
// Every element of C is summed over the depth blocks in order, each block
// by one tile kernel call, and all tile kernels of a path do the same
// arithmetic; so results do not depend on the tiles, units, groups or
// goroutines.
type job struct {
	p           *path
	m, n, k     int
	alpha, beta float32
	a, b        operand
	c           []float32
	ldc         int

	rows  rowPlan // the tiles covering the m rows of C
	tiles int     // rows.count()
	kc    int     // depth of each block but the last
	nkb   int     // depth blocks
	npan  int     // column panels of nr
	ncp   int     // column panels per phase
	njc   int     // column blocks
	cols  bool    // units are column groups (else row blocks)
	units int     // units per phase
	split int     // the last phase of a group is cut this many times finer
	total int64   // units over all phases

	// The column blocks come in groups of jcPer, each with its own
	// sequence of tickets, so that goroutines that start on different
	// groups pack different blocks of op(B); one that has finished its
	// group helps with the others.
	groups, jcPer int
	next          []atomic.Int64 // next ticket to claim, per group
	joined        atomic.Int32   // goroutines that have started
	progress      []atomic.Int32 // phases finished, per group and unit
	finished      atomic.Int64   // units finished
	sleepers      atomic.Int32   // goroutines blocked in await
	mu            sync.Mutex
	cond          sync.Cond         // signalled on progress while there are sleepers
	refs          atomic.Int32      // goroutines holding the job
	helpers       []parallel.Helper // workers claimed for the job
}

// jobs recycles jobs without allocating (see parallel.FreeList).
var jobs = parallel.FreeList[job]{New: func() *job {
	j := new(job)
	j.cond.L = &j.mu
	return j
}}

// release drops one goroutine's hold on j; the last one recycles it.
func (j *job) release() {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.a, j.b, j.c = operand{}, operand{}, nil // drop references for the GC
	jobs.Put(j)
}

func mul(m, n, k int, alpha float32, a, b operand, beta float32, c []float32, ldc int, serial bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	j := jobs.Get()
	p := active.Load().forPrecision(CurrentPrecision())
	j.p, j.m, j.n, j.k = p, m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c, j.ldc = a, b, c, ldc
	// Helpers: idle workers, only spinning ones for products too small to
	// gain from one that first has to wake up.
	j.helpers = j.helpers[:0]
	if flops := 2 * float64(m) * float64(n) * float64(k); !serial && flops >= parallelFlops {
		j.helpers = parallel.Claim(j.helpers, workers()-1, flops >= wakeFlops)
	}
	w := 1 + len(j.helpers)
	j.schedule(w)
	j.next = resetCounters(j.next, j.groups)
	j.joined.Store(0)
	if n := j.groups * j.units; cap(j.progress) < n {
		j.progress = make([]atomic.Int32, n)
	}
	j.progress = j.progress[:j.groups*j.units]
	for g := range j.groups {
		q0 := int32(g * j.jcPer * j.nkb) // the group's first phase
		for u := range j.units {
			j.progress[g*j.units+u].Store(q0)
		}
	}
	j.finished.Store(0)
	j.refs.Store(int32(w))
	for _, h := range j.helpers {
		h.Deliver(j)
	}
	j.work()
	// Wait for the helpers' last units spinning, so that this goroutine
	// keeps its core: were it to sleep, the helper that wakes it would
	// hand it its own core and then wait tens of microseconds for another
	// one when the next product comes.
	j.await(func() bool { return j.finished.Load() >= j.total }, finalWait)
	j.release()
}

// schedule sets the blocking, phases and units of j for w goroutines.
func (j *job) schedule(w int) {
	p := j.p
	j.rows = planRows(p, j.m)
	j.tiles = j.rows.count()
	// Equal depth blocks, so that no block is much thinner than the rest,
	// in multiples of 16 so that operands packed by transposing 16x16
	// blocks (conv's, by output rows) rarely have ragged ends.
	j.kc = evenBlock(j.k, p.kc, 16)
	j.nkb = ceilDiv(j.k, j.kc)
	j.npan = ceilDiv(j.n, p.nr)
	// Column blocks of nc at the path's full depth, wider for shallower
	// products, so that the packed block of op(B) keeps its size and thin
	// products do not pack op(A) several times.
	ncPanels := max(1, p.nc/p.nr*p.kc/j.kc)
	mcTiles := max(1, p.mc/j.rows.main.mr)
	j.cols = w > 1 && j.m <= shortRows && j.npan >= 2
	if j.cols {
		// One column block, in groups of at most nc columns, a few per
		// goroutine and a multiple of their number so that they come out
		// even.
		j.ncp = j.npan
		j.units = min(j.npan, roundUp(max(ceilDiv(j.npan, ncPanels), 4*w), w))
	} else {
		// Column blocks of about nc, whose packed op(B) stays in L2 next
		// to a block of op(A), and row blocks of about mc rows; for
		// several goroutines, at least a few blocks each and a multiple
		// of their number.
		j.ncp = evenBlock(j.npan, ncPanels, 1)
		j.units = ceilDiv(j.tiles, mcTiles)
		if w > 1 {
			j.units = min(j.tiles, roundUp(max(j.units, 4*w), w))
		}
	}
	j.njc = ceilDiv(j.npan, j.ncp)
	// Row blocks of a product no taller than wide: a group of column
	// blocks per goroutine, each packing less of op(B) and more of op(A).
	j.groups, j.jcPer = 1, j.njc
	if w > 1 && !j.cols && j.m <= j.n {
		j.jcPer = ceilDiv(j.njc, min(w, j.njc))
		j.groups = ceilDiv(j.njc, j.jcPer)
	}
	j.split = 1
	if w > 1 {
		// Units of at least minUnitFlops each, still a multiple of w.
		phase := 2 * float64(j.m) * float64(j.ncp*p.nr) * float64(j.kc)
		most := max(w, int(phase/minUnitFlops)/w*w)
		j.units = min(j.units, most)
		span := j.tiles
		if j.cols {
			span = j.npan
		}
		j.split = max(1, min(4, span/j.units, most/j.units))
	}
	j.total = 0
	for q := range j.njc * j.nkb {
		n, _ := j.phaseUnits(q)
		j.total += int64(n)
	}
}

// phaseUnits returns the number of units of phase q and how many of them
// make one of the job's units: the last phase of each group of a parallel
// product is cut finer, so that the goroutines finish together.
func (j *job) phaseUnits(q int) (n, split int) {
	jc := q / j.nkb
	if q%j.nkb == j.nkb-1 && (jc == j.njc-1 || (jc+1)%j.jcPer == 0) {
		return j.units * j.split, j.split
	}
	return j.units, 1
}

// phasePanels returns the column panels [p0, p1) of phase q.
func (j *job) phasePanels(q int) (p0, p1 int) {
	jc := q / j.nkb
	return jc * j.ncp, min((jc+1)*j.ncp, j.npan)
}

// depth returns the start and depth of phase q's block of the summation.
func (j *job) depth(q int) (pc, kc int) {
	pc = q % j.nkb * j.kc
	return pc, min(j.kc, j.k-pc)
}

// unitBounds returns the tiles [t0, t1) and column panels [p0, p1) of unit
// u of phase q.
func (j *job) unitBounds(q, u int) (t0, t1, p0, p1 int) {
	p0, p1 = j.phasePanels(q)
	n, _ := j.phaseUnits(q)
	if j.cols {
		return 0, j.tiles, p0 + u*(p1-p0)/n, p0 + (u+1)*(p1-p0)/n
	}
	return u * j.tiles / n, (u + 1) * j.tiles / n, p0, p1
}

// work claims and runs tickets until none is left: first those of a group
// of its own, then those left in the others.
func (j *job) work() {
	var ws *workspace
	packed := -1 // the phase whose operand ws holds
	id := int(j.joined.Add(1) - 1)
	for i := range j.groups {
		j.workGroup(&ws, (id+i)%j.groups, &packed)
	}
	if ws != nil {
		putWorkspace(ws)
	}
}

// workGroup claims and runs tickets of group g until none is left.
func (j *job) workGroup(wsp **workspace, g int, packed *int) {
	next := &j.next[g]
	t := next.Add(1) - 1
	var base int64
	for q := g * j.jcPer * j.nkb; q < min((g+1)*j.jcPer, j.njc)*j.nkb; q++ {
		n, split := j.phaseUnits(q)
		end := base + int64(n)
		for ; t < end; t = next.Add(1) - 1 {
			if *wsp == nil {
				*wsp = getWorkspace(j)
			}
			ws := *wsp
			if *packed != q {
				j.packPhase(ws, q)
				*packed = q
			}
			u := int(t - base)
			done := &j.progress[g*j.units+u/split]
			if int(done.Load()) < q {
				j.await(func() bool { return int(done.Load()) >= q }, spinWait)
			}
			j.unit(ws, q, u)
			// (Several units of the split last phase store this one,
			// but nothing waits for that phase.)
			done.Store(int32(q + 1))
			j.finished.Add(1)
			if j.sleepers.Load() > 0 {
				j.mu.Lock()
				j.cond.Broadcast()
				j.mu.Unlock()
			}
		}
		base = end
	}
}

// await returns once ready() is true: once the same unit of an earlier
// phase is done, or all units are. Units are claimed in order and each
// waits only for one of an earlier phase, which is being run, so the wait
// cannot deadlock. It spins for up to spin, as waking a sleeping goroutine
// takes tens of microseconds, and then sleeps, so as not to hold a core
// that the goroutine it waits for may need.
func (j *job) await(ready func() bool, spin time.Duration) {
	var start time.Time
	for i := 0; !ready(); i++ {
		if i < 100 {
			continue
		}
		if i%64 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spin {
				j.mu.Lock()
				j.sleepers.Add(1)
				for !ready() {
					j.cond.Wait()
				}
				j.sleepers.Add(-1)
				j.mu.Unlock()
				return
			}
		}
		runtime.Gosched()
	}
}

// How long await spins before it sleeps: waits for another unit are short,
// the final wait for the helpers' last units takes up to one unit.
const (
	spinWait  = 50 * time.Microsecond
	finalWait = 200 * time.Microsecond
)

// packPhase packs phase q's operand shared by its units into ws: op(A)
// for column groups, else the column block of op(B).
func (j *job) packPhase(ws *workspace, q int) {
	p := j.p
	pc, kc := j.depth(q)
	if j.cols {
		row := 0
		for t := range j.tiles {
			h := j.rows.tile(t).mr
			packPanelA(p, &j.a, ws.a[row*kc:][:h*kc], h, row, min(h, j.m-row), pc, kc)
			row += h
		}
		return
	}
	p0, p1 := j.phasePanels(q)
	packPanelsB(p, &j.b, ws.b, j.n, p0, p1, pc, kc)
}

// unit computes unit u of phase q, packing its own block of op(B) (column
// groups) or op(A) (row blocks) first. For each column panel, each tile,
// so that the packed panel of op(B) is reused from L1 or L2 across the
// tiles and the unit's op(A) from L2 across the panels.
func (j *job) unit(ws *workspace, q, u int) {
	p := j.p
	nr := p.nr
	pc, kc := j.depth(q)
	kd := p.kernelDepth(kc)
	beta := j.beta
	if pc > 0 {
		beta = 1
	}
	t0, t1, p0, p1 := j.unitBounds(q, u)
	r0 := j.rows.start(t0)
	if j.cols {
		packPanelsB(p, &j.b, ws.b, j.n, p0, p1, pc, kc)
	} else {
		row := r0
		for t := t0; t < t1; t++ {
			h := j.rows.tile(t).mr
			packPanelA(p, &j.a, ws.a[(row-r0)*kc:][:h*kc], h, row, min(h, j.m-row), pc, kc)
			row += h
		}
	}
	ldc, cc := j.ldc, j.c
	for pn := p0; pn < p1; pn++ {
		bp := ws.b[(pn-p0)*nr*kc:][:nr*kc]
		col := pn * nr
		nw := min(nr, j.n-col)
		row := r0
		for t := t0; t < t1; t++ {
			tk := j.rows.tile(t)
			mr := tk.mr
			ap := ws.a[(row-r0)*kc:][:mr*kc]
			off := row*ldc + col
			if mh := min(mr, j.m-row); mh < mr || nw < nr {
				ws.edge(tk, kd, nr, ap, bp, cc[off:], ldc, mh, nw, j.alpha, beta)
			} else {
				tk.micro(kd, ap, bp, cc[off:], ldc, j.alpha, beta)
			}
			row += mr
		}
	}
}

// edge computes a tile that sticks out of C (mh of its rows and nw of its
// columns are in C) through the workspace's tile, with the same arithmetic
// as a whole tile: for beta 0 or 1 the kernel's final fused multiply-add
// c*1 + alpha*acc is a single rounded sum, which Go's c + t is too; other
// betas go through the kernel with C copied in. The rows are short, so
// they are moved by loops rather than copy.
func (ws *workspace) edge(tk *tileKernel, kd, nr int, ap, bp, c []float32, ldc, mh, nw int, alpha, beta float32) {
	t := ws.t[:tk.mr*nr]
	if beta != 0 && beta != 1 {
		// The rest of t holds what earlier tiles left: finite or not,
		// it only reaches the rest of t.
		for i := 0; i < mh; i++ {
			src, dst := c[i*ldc:i*ldc+nw], t[i*nr:i*nr+nw]
			for x := range src {
				dst[x] = src[x]
			}
		}
		tk.micro(kd, ap, bp, t, nr, alpha, beta)
	} else {
		tk.micro(kd, ap, bp, t, nr, alpha, 0)
	}
	for i := 0; i < mh; i++ {
		dst, src := c[i*ldc:i*ldc+nw], t[i*nr:i*nr+nw]
		if beta == 1 {
			for x := range dst {
				dst[x] += src[x]
			}
			continue
		}
		for x := range dst {
			dst[x] = src[x]
		}
	}
}

// resetCounters returns c resized to n zero counters, reallocating only
// when it is too short.
func resetCounters(c []atomic.Int64, n int) []atomic.Int64 {
	if cap(c) < n {
		c = make([]atomic.Int64, n)
	}
	c = c[:n]
	for i := range c {
		c[i].Store(0)
	}
	return c
}

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

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
