// Package parallel splits loops over the available cores.
//
// For hands out contiguous chunks: a body that writes disjoint outputs per
// index gives identical results for any GOMAXPROCS. Reductions that must not
// depend on the worker count sum per-chunk partials over Chunks, whose
// boundaries depend only on the problem size.
//
// Loops run on the engine's pool of long-lived worker goroutines (Claim), so a loop allocates
// nothing itself: ForBody with a pointer-typed Body, or Loop with a loop
// body held in a struct, allocates nothing at all, which keeps a training
// step free of garbage. A closure passed to For is allocated when it
// captures variables, since it escapes to the workers.
package parallel

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers returns the number of goroutines For uses: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// Body is a loop body over the index range [lo, hi).
type Body interface {
	Run(lo, hi int)
}

// Func adapts a function to Body. A func value is pointer-shaped, so the
// conversion to Body does not allocate (the closure itself may).
type Func func(lo, hi int)

// Run calls f(lo, hi).
func (f Func) Run(lo, hi int) { f(lo, hi) }

// For calls body(lo, hi) over [0, n) in chunks of at least grain indices,
// spread over Workers() goroutines, and returns when all are done. With one
// worker or a single chunk it runs inline.
func For(n, grain int, body func(lo, hi int)) { ForBody(n, grain, Func(body)) }

// ForBody is For with a Body. Passing a pointer to a reused struct avoids the
// heap allocation of a closure that escapes to the workers.
func ForBody(n, grain int, body Body) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := Workers()
	chunks := (n + grain - 1) / grain
	if w <= 1 || chunks <= 1 {
		body.Run(0, n)
		return
	}
	if chunks > 4*w {
		// Fewer, larger chunks: 4 per worker balances load without overhead.
		chunks = 4 * w
	}
	size := (n + chunks - 1) / chunks
	j := jobs.Get()
	j.body, j.n, j.size = body, n, size
	j.next.Store(0)
	// Claim idle workers (busy ones, in a nested loop or another
	// goroutine's, are skipped and this goroutine does their share).
	j.helpers = Claim(j.helpers[:0], min(w, chunks)-1, true)
	j.wg.Add(len(j.helpers))
	for _, h := range j.helpers {
		h.Deliver(j)
	}
	j.drain()
	j.wg.Wait()
	j.body = nil
	jobs.Put(j)
}

// Loop is ForBody for a loop body held by value: a struct of the loop's
// operands whose pointer has the Run method, written where the loop runs,
//
//	parallel.Loop(len(dst), 1<<14, scaleLoop{dst: dst, src: src, s: 2})
//
// loop is copied into storage recycled for its type, so a call allocates
// nothing once that storage exists (a pointer to a local variable would
// escape to the workers and be allocated at every call). The copy is
// cleared afterwards, keeping nothing reachable. Loops may nest and run
// concurrently.
func Loop[L any, P interface {
	*L
	Body
}](n, grain int, loop L) {
	s := storeOf[L]()
	p := P(s.Get())
	*p = loop
	ForBody(n, grain, p)
	var zero L
	*p = zero
	s.Put(p)
}

// stores maps a loop body type L to its *FreeList[L].
var stores sync.Map

func storeOf[L any]() *FreeList[L] {
	key := reflect.TypeFor[L]()
	s, ok := stores.Load(key)
	if !ok {
		s, _ = stores.LoadOrStore(key, new(FreeList[L]))
	}
	return s.(*FreeList[L])
}

// job is one loop in flight: workers take chunks by an atomic counter.
type job struct {
	body    Body
	n, size int
	next    atomic.Int64
	wg      sync.WaitGroup
	helpers []Helper
}

func (j *job) drain() {
	for {
		lo := int(j.next.Add(1)-1) * j.size
		if lo >= j.n {
			return
		}
		j.body.Run(lo, min(lo+j.size, j.n))
	}
}

// Work and Release make a job a Task of the pool.
func (j *job) Work()    { j.drain() }
func (j *job) Release() { j.wg.Done() }

// jobs recycles loop jobs (see FreeList).
var jobs FreeList[job]

// Chunks returns the fixed chunk boundaries [lo, hi) of [0, n) in pieces of
// size grain, for reductions that must sum partial results in a fixed order
// whatever the worker count.
func Chunks(n, grain int) [][2]int {
	if grain < 1 {
		grain = 1
	}
	var out [][2]int
	for lo := 0; lo < n; lo += grain {
		out = append(out, [2]int{lo, min(lo+grain, n)})
	}
	return out
}
