package gemm

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

//go:generate go run gen.go

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
// B panels; each product uses the tile that wastes least on its m.
type path struct {
	name  string
	nr    int
	tiles []tileKernel
	kc    int // largest depth of a packed block (a multiple of 16)
	mc    int // most rows of packed A per block
	nc    int // most columns of packed B per block (a multiple of nr)
	axpy  func(alpha float32, x, y []float32)
	dot   func(x, y []float32) float32

	// asmPack says that the AVX-512 packing routines (transposeOffs,
	// copyRows32, gatherRows32) may be used; they are called directly,
	// not through function values, so that their arguments stay on the
	// stack.
	asmPack bool
}

// tile returns the tile kernel for a product with m rows: the one with the
// least time per row, counting the padding of a short last tile.
func (p *path) tile(m int) *tileKernel {
	best, bestCost := &p.tiles[0], 0.0
	for i := range p.tiles {
		t := &p.tiles[i]
		cost := float64((m+t.mr-1)/t.mr*t.mr) / t.speed
		if i == 0 || cost < bestCost {
			best, bestCost = t, cost
		}
	}
	return best
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
	kc:    256, mc: 64, nc: 2048,
	axpy: axpyGeneric,
	dot:  dotGeneric,
}

// active is the path that Sgemm, Axpy and Dot use.
var active atomic.Pointer[path]

func init() {
	active.Store(choosePath(os.Getenv("DEGRADIFF_KERNEL"), os.Stderr))
}

// paths returns every path this machine can run, fastest first; the generic
// path is last.
func paths() []*path {
	return append(asmPaths(), genericPath)
}

// choosePath returns the path named by want (the DEGRADIFF_KERNEL value), or
// the fastest path when want is empty. When the named path is unknown or not
// supported here it writes a one-line warning to warn and falls back to the
// fastest one.
func choosePath(want string, warn io.Writer) *path {
	all := paths()
	if want == "" {
		return all[0]
	}
	for _, p := range all {
		if p.name == want {
			return p
		}
	}
	switch want {
	case "generic", "avx2", "avx512":
		fmt.Fprintf(warn, "gemm: DEGRADIFF_KERNEL=%s is not supported on this machine; using %s\n", want, all[0].name)
	default:
		fmt.Fprintf(warn, "gemm: unknown DEGRADIFF_KERNEL=%q (want generic, avx2 or avx512); using %s\n", want, all[0].name)
	}
	return all[0]
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
