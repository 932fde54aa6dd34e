package gemm

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/degradiff/degradiff/internal/kernel"
)

//go:generate go run gen.go
//go:generate go run genamx.go

// microKernel computes one mr x nr tile of C: C = alpha*A*B + beta*C, where
// A is a packed panel with a[p*mr+i] = A(i, p), B a packed panel with
// b[p*nr+j] = B(p, j), p < k, and C(i, j) = c[i*ldc+j]. With beta == 0 it
// does not read C. It needs k >= 1 and sums over p in increasing order, one
// fused multiply-add (or a multiply and an add, in the generic kernel) per
// step, so each element's result depends only on its own row and column.
type microKernel func(k int, a, b, c []float32, ldc int, alpha, beta float32)

// A tileKernel is a micro-kernel with its tile height and its measured
// speed relative to the path's other tiles.
type tileKernel struct {
	mr    int
	speed float64
	micro microKernel
}

// A path is one implementation of the package's kernels with its tiles and
// cache-blocking sizes. All its tiles share nr, so they read the same packed
// B panels; a product's rows are covered by the fastest tile and, for the
// remainder, the ones that waste least (see planRows).
type path struct {
	name  string
	nr    int
	tiles []tileKernel
	kc    int // largest depth of a packed block (a multiple of 16)
	mc    int // most rows of packed A per block (about)
	nc    int // most columns of packed B per block (a multiple of nr)
	axpy  func(alpha float32, x, y []float32)
	dot   func(x, y []float32) float32

	// asmPack says that the AVX-512 packing routines (transposeOffs,
	// copyRows32, gatherRows) may be used; they are called directly,
	// not through function values, so that their arguments stay on the
	// stack.
	asmPack bool

	// pairs says that the tiles multiply bf16 pairs: the packed panels
	// are converted by pairPanel, and the kernels take the number of
	// pairs for k. bf16 is the path of the BF16 precision for this one.
	pairs bool
	bf16  *path

	// amx says that the tiles are AMX tiles, whose A panels are laid out
	// by amxRows after packing.
	amx bool
}

// A rowPlan is the sequence of tiles that covers the rows of C: nMain of
// the path's fastest tile, then a short tail of others, tallest first,
// chosen to waste least on the remainder. Only the last tile may stick out
// of C.
type rowPlan struct {
	main  *tileKernel
	nMain int
	tail  [maxTail]*tileKernel
	nTail int
}

// maxTail bounds the tail: it covers fewer than 2*32 rows with tiles of at
// least 4.
const maxTail = 16

// planRows returns the tiles for m > 0 rows on path p: those with the
// least total time, counting each tile's rows at its speed, among plans
// that use the fastest tile for all but the last one or two of its heights.
func planRows(p *path, m int) rowPlan {
	var r rowPlan
	r.main = &p.tiles[0]
	for i := range p.tiles {
		t := &p.tiles[i]
		if t.mr < 4 || t.mr > 32 {
			panic(fmt.Sprintf("gemm: %s tile of height %d", p.name, t.mr))
		}
		if t.speed > r.main.speed {
			r.main = t
		}
	}
	r.nMain = max(0, m/r.main.mr-1)
	rest := m - r.nMain*r.main.mr // < 2*main.mr
	// best[x] is the least time for x rows, first[x] the tile it starts with.
	var best [65]float64
	var first [65]int
	for x := 1; x <= rest; x++ {
		best[x] = math.Inf(1)
		for i := range p.tiles {
			t := &p.tiles[i]
			if c := float64(t.mr)/t.speed + best[max(0, x-t.mr)]; c < best[x] {
				best[x], first[x] = c, i
			}
		}
	}
	for x := rest; x > 0; x -= p.tiles[first[x]].mr {
		t := &p.tiles[first[x]]
		// Insert keeping the tail tallest first.
		i := r.nTail
		for i > 0 && r.tail[i-1].mr < t.mr {
			r.tail[i] = r.tail[i-1]
			i--
		}
		r.tail[i] = t
		r.nTail++
	}
	return r
}

// count returns the number of tiles.
func (r *rowPlan) count() int { return r.nMain + r.nTail }

// tile returns tile i.
func (r *rowPlan) tile(i int) *tileKernel {
	if i < r.nMain {
		return r.main
	}
	return r.tail[i-r.nMain]
}

// start returns the first row of tile i; start(count()) is the number of
// rows the tiles cover, at least m.
func (r *rowPlan) start(i int) int {
	if i <= r.nMain {
		return i * r.main.mr
	}
	row := r.nMain * r.main.mr
	for _, t := range r.tail[:i-r.nMain] {
		row += t.mr
	}
	return row
}

// maxMR returns the tallest tile of p.
func (p *path) maxMR() int {
	mr := 0
	for _, t := range p.tiles {
		mr = max(mr, t.mr)
	}
	return mr
}

// genericPath is the pure-Go implementation, available everywhere.
var genericPath = &path{
	name:  "generic",
	nr:    genNR,
	tiles: []tileKernel{{genMR, 1, kernGeneric}},
	kc:    256, mc: 64, nc: 512,
	axpy: axpyGeneric,
	dot:  dotGeneric,
}

// active is the path that Sgemm, Axpy and Dot use.
var active atomic.Pointer[path]

func init() {
	active.Store(pathFor(kernel.Chosen()))
}

// paths returns every path this machine can run, fastest first; the generic
// path is last.
func paths() []*path {
	var ps []*path
	for _, k := range kernel.Available() {
		ps = append(ps, pathFor(k))
	}
	return ps
}

// pathFor returns the path of instruction set k.
func pathFor(k kernel.Path) *path {
	if p := asmPath(k); p != nil {
		return p
	}
	return genericPath
}

// Kernel returns the name of the kernel path in use: "avx512", "avx2" or
// "generic".
func Kernel() string { return active.Load().name }

// setPath makes p the active path and returns a function that restores the
// previous one. Tests use it to run every path.
func setPath(p *path) (restore func()) {
	old := active.Swap(p)
	return func() { active.Store(old) }
}
