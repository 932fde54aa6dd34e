package conv

import (
	"sync/atomic"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/parallel"
)

// Jobs run on the engine's one worker pool (package parallel), so that a
// call in the steady state starts no goroutine and allocates nothing.

// A workspace holds one goroutine's buffers and operands. Workspaces are
// kept on a free list (not a sync.Pool, which the garbage collector
// empties).
type workspace struct {
	pad    []float32 // the padded source image
	colBuf []float32 // the column gradient of BackwardData with stride > 1
	// Winograd's buffers (winograd.go): the channel-last padded source,
	// its transformed tiles, the products (or the transformed output
	// gradient), the channel-last output blocks (or output gradient), the
	// result to add, and zeros for a missing bias.
	winoP, winoV, winoM, winoQ, winoT, zeros []float32
	// Shifted products (shifted.go): the source as bf16 pair planes, the
	// flattened outputs, and the product.
	pairs, flat []float32
	sh          gemm.Shifted
	a, b        gemm.Dense
	col         colOperand
	colT        colTOperand
}

// workspaces recycles workspaces without allocating (see parallel.FreeList).
var workspaces parallel.FreeList[workspace]

func getWorkspace() *workspace {
	ws := workspaces.Get()
	// Bring the buffers up to the largest sizes any workspace has needed:
	// which goroutine takes which workspace varies from call to call, and
	// this way none grows again once every shape has run.
	reserve(&ws.pad, &most.pad)
	reserve(&ws.colBuf, &most.col)
	reserve(&ws.winoP, &most.winoP)
	reserve(&ws.winoV, &most.winoV)
	reserve(&ws.winoM, &most.winoM)
	reserve(&ws.winoQ, &most.winoQ)
	reserve(&ws.winoT, &most.winoT)
	reserve(&ws.zeros, &most.zeros)
	reserve(&ws.pairs, &most.pairs)
	reserve(&ws.flat, &most.flat)
	return ws
}

// most records the largest buffers a workspace has needed.
var most struct {
	pad, col, winoP, winoV, winoM, winoQ, winoT, zeros, pairs, flat atomic.Int64
}

// growShared is grow for a workspace buffer whose largest size is
// recorded in m.
func growShared(s *[]float32, n int, m *atomic.Int64) {
	for {
		old := m.Load()
		if int64(n) <= old || m.CompareAndSwap(old, int64(n)) {
			break
		}
	}
	grow(s, n)
}

// reserve gives *s the capacity recorded in m.
func reserve(s *[]float32, m *atomic.Int64) {
	if n := int(m.Load()); cap(*s) < n {
		*s = make([]float32, n)
	}
}

func putWorkspace(ws *workspace) {
	ws.a, ws.b, ws.col, ws.colT = gemm.Dense{}, gemm.Dense{}, colOperand{}, colTOperand{}
	ws.sh = gemm.Shifted{}
	workspaces.Put(ws)
}

// grow makes *s at least n long, reallocating only when it is too short.
func grow[T any](s *[]T, n int) {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
}
