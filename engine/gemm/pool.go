package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/degradiff/degradiff/internal/parallel"
)

// Persistent worker goroutines help with large products, so that a product
// in the steady state starts no goroutine and allocates nothing. A worker
// that has finished spins for a moment before it sleeps: products often
// come one after another, and waking a sleeping goroutine on another core
// takes tens of microseconds.

// A worker is one helper goroutine and its mailbox.
type worker struct {
	state atomic.Int32        // workerBusy, workerSpinning or workerParked
	mail  atomic.Pointer[job] // a job handed over while spinning
	ch    chan *job           // a job handed over while parked
}

const (
	workerBusy = iota
	workerSpinning
	workerParked
)

// workerSpin is how long an idle worker waits for work before it sleeps.
const workerSpin = 50 * time.Microsecond

var (
	poolMu  sync.Mutex
	workerq []*worker
)

// workers returns how many goroutines a product may use: GOMAXPROCS.
func workers() int { return runtime.GOMAXPROCS(0) }

// ensureWorkers starts workers until there are at least n.
func ensureWorkers(n int) []*worker {
	poolMu.Lock()
	defer poolMu.Unlock()
	for len(workerq) < n {
		w := &worker{ch: make(chan *job)}
		w.state.Store(workerParked)
		workerq = append(workerq, w)
		go w.loop()
	}
	return workerq
}

func (w *worker) loop() {
	for j := range w.ch {
		for j != nil {
			j.work()
			// Claimable from now on, before the caller, which may be
			// waiting for this worker's last unit, comes with the next
			// product; the mailbox is read in spin.
			w.state.Store(workerSpinning)
			j.release()
			j = w.spin()
		}
	}
}

// spin waits up to workerSpin for a job in the mailbox; it returns nil when
// the worker is to sleep on its channel instead.
func (w *worker) spin() *job {
	start := time.Now()
	for i := 1; ; i++ {
		if j := w.mail.Swap(nil); j != nil {
			return j
		}
		if i%16 == 0 && time.Since(start) > workerSpin {
			if w.state.CompareAndSwap(workerSpinning, workerParked) {
				return nil
			}
			// A caller has claimed this worker: its job is on the way.
			for {
				if j := w.mail.Swap(nil); j != nil {
					return j
				}
				runtime.Gosched()
			}
		}
		runtime.Gosched()
	}
}

// A helper is a worker claimed for a job, and whether it was asleep.
type helper struct {
	w      *worker
	parked bool
}

// claimHelpers claims up to n idle workers for j: spinning ones, and
// sleeping ones too if wake is set. Workers that are busy (another product
// is running, or this one was started from a worker) are skipped, so
// products never wait on each other and nested calls cannot deadlock.
func (j *job) claimHelpers(n int, wake bool) {
	if n <= 0 {
		return
	}
	for _, w := range ensureWorkers(n)[:n] {
		if w.state.CompareAndSwap(workerSpinning, workerBusy) {
			j.helpers = append(j.helpers, helper{w, false})
		} else if wake && w.state.CompareAndSwap(workerParked, workerBusy) {
			j.helpers = append(j.helpers, helper{w, true})
		}
	}
}

// deliver hands j to w, claimed while spinning or, if parked, asleep.
func (w *worker) deliver(j *job, parked bool) {
	if parked {
		w.ch <- j // w is, or is about to be, waiting on its channel
		return
	}
	w.mail.Store(j)
}

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
