// Package parallel splits loops over the available cores.
//
// For hands out contiguous chunks: a body that writes disjoint outputs per
// index gives identical results for any GOMAXPROCS. Reductions that must not
// depend on the worker count sum per-chunk partials over Chunks, whose
// boundaries depend only on the problem size.
package parallel

import (
	"runtime"
	"sync"
)

// Workers returns the number of goroutines For uses: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// For calls body(lo, hi) over [0, n) in chunks of at least grain indices,
// spread over Workers() goroutines, and returns when all are done. With one
// worker or a single chunk it runs inline.
func For(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := Workers()
	chunks := (n + grain - 1) / grain
	if w <= 1 || chunks <= 1 {
		body(0, n)
		return
	}
	if chunks > 4*w {
		// Fewer, larger chunks: 4 per worker balances load without overhead.
		chunks = 4 * w
	}
	size := (n + chunks - 1) / chunks
	var next int64
	var mu sync.Mutex
	take := func() (int, int, bool) {
		mu.Lock()
		defer mu.Unlock()
		lo := int(next) * size
		if lo >= n {
			return 0, 0, false
		}
		next++
		return lo, min(lo+size, n), true
	}
	var wg sync.WaitGroup
	for range min(w, chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo, hi, ok := take()
				if !ok {
					return
				}
				body(lo, hi)
			}
		}()
	}
	wg.Wait()
}

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
