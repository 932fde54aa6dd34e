package gemm

import (
	"runtime"

	"github.com/degradiff/degradiff/internal/parallel"
)

// Large products run on the engine's worker pool (parallel.Claim): helpers
// are claimed per product, spinning ones only for products too small to
// gain from one that first has to wake up.

// workers returns how many goroutines a product may use: GOMAXPROCS.
func workers() int { return runtime.GOMAXPROCS(0) }

// Work and Release make a job a task of the pool.
func (j *job) Work()    { j.work() }
func (j *job) Release() { j.release() }

// A workspace holds one goroutine's packed blocks of op(A) and op(B) and a
// scratch tile, for tiles that stick out of C. Workspaces are kept on a
// free list (not a sync.Pool, which the garbage collector empties) so that
// the steady state allocates nothing.
type workspace struct {
	a, b, t []float32
}

// workspaces recycles workspaces without allocating (see parallel.FreeList).
var workspaces parallel.FreeList[workspace]

// getWorkspace returns a workspace with buffers large enough for j.
func getWorkspace(j *job) *workspace {
	ws := workspaces.Get()
	p := j.p
	rows, panels := j.rows.start(j.tiles), j.ncp // op(A) for column groups, op(B) for row blocks
	if j.cols {
		panels = ceilDiv(j.npan, j.units)
	} else {
		rows = (ceilDiv(j.tiles, j.units) + 1) * p.maxMR()
	}
	grow(&ws.a, rows*j.kc)
	grow(&ws.b, panels*p.nr*j.kc)
	grow(&ws.t, p.maxMR()*p.nr)
	return ws
}

func putWorkspace(ws *workspace) {
	workspaces.Put(ws)
}

// grow makes *s at least n long, reallocating only when it is too short.
func grow(s *[]float32, n int) {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	*s = (*s)[:cap(*s)]
}
