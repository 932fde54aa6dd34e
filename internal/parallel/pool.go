package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The engine's one pool of worker goroutines: parallel loops (For, Loop)
// and the matrix products of engine/gemm run on it, so that a computation
// in the steady state starts no goroutine and allocates nothing, and the
// cores are never oversubscribed by two pools. A worker that has finished
// spins for a moment before it sleeps: work often comes in quick
// succession, and waking a sleeping goroutine on another core takes tens
// of microseconds.

// Task is work handed to a claimed worker: Work, then Release once the
// worker is claimable again (so that the caller, which may be waiting for
// Release, can claim it for its next piece of work).
type Task interface {
	Work()
	Release()
}

// A worker is one pool goroutine and its mailbox.
type worker struct {
	state atomic.Int32 // workerBusy, workerSpinning or workerParked
	ready atomic.Bool  // a task is in slot
	slot  Task         // the task handed over while spinning
	ch    chan Task    // a task handed over while parked
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
	workerq atomic.Pointer[[]*worker]
)

// ensureWorkers starts workers until there are at least n, and returns
// them.
func ensureWorkers(n int) []*worker {
	if ws := workerq.Load(); ws != nil && len(*ws) >= n {
		return *ws
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	var ws []*worker
	if p := workerq.Load(); p != nil {
		ws = *p
	}
	for len(ws) < n {
		w := &worker{ch: make(chan Task)}
		w.state.Store(workerParked)
		ws = append(ws, w)
		go w.loop()
	}
	workerq.Store(&ws)
	return ws
}

func (w *worker) loop() {
	for t := range w.ch {
		for t != nil {
			t.Work()
			// Claimable from now on, before the caller, which may be
			// waiting for this worker's Release, comes with the next task.
			w.state.Store(workerSpinning)
			t.Release()
			t = w.spin()
		}
	}
}

// spin waits up to workerSpin for a task in the mailbox; it returns nil
// when the worker is to sleep on its channel instead.
func (w *worker) spin() Task {
	start := time.Now()
	for i := 1; ; i++ {
		if t := w.take(); t != nil {
			return t
		}
		if i%16 == 0 && time.Since(start) > workerSpin {
			if w.state.CompareAndSwap(workerSpinning, workerParked) {
				return nil
			}
			// A caller has claimed this worker: its task is on the way.
			for {
				if t := w.take(); t != nil {
					return t
				}
				runtime.Gosched()
			}
		}
		runtime.Gosched()
	}
}

// take empties the mailbox.
func (w *worker) take() Task {
	if !w.ready.Load() {
		return nil
	}
	t := w.slot
	w.slot = nil
	w.ready.Store(false)
	return t
}

// A Helper is a worker claimed for a task, and whether it was asleep.
type Helper struct {
	w      *worker
	parked bool
}

// Claim appends to dst up to n idle workers, claimed for the caller's
// task: spinning ones, and sleeping ones too if wake is set (a task too
// small to gain from a worker that first has to wake up passes false).
// Busy workers are skipped, so that concurrent or nested work never waits
// on other work and cannot deadlock.
func Claim(dst []Helper, n int, wake bool) []Helper {
	if n <= 0 {
		return dst
	}
	for _, w := range ensureWorkers(n)[:n] {
		if w.state.CompareAndSwap(workerSpinning, workerBusy) {
			dst = append(dst, Helper{w, false})
		} else if wake && w.state.CompareAndSwap(workerParked, workerBusy) {
			dst = append(dst, Helper{w, true})
		}
	}
	return dst
}

// Deliver hands t to the claimed worker h.
func (h Helper) Deliver(t Task) {
	if h.parked {
		h.w.ch <- t // the worker is, or is about to be, waiting on its channel
		return
	}
	h.w.slot = t
	h.w.ready.Store(true)
}
