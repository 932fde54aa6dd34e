package agtest

import (
	"runtime"
	"sync"
)

// StepAllocs returns the heap allocations per call of step in the steady
// state, at the given GOMAXPROCS: a training step, for example, should
// allocate nothing once its graph's pools and arenas are filled.
// testing.AllocsPerRun is no substitute, as it measures at GOMAXPROCS 1,
// where parallel loops run inline.
//
// After warm-up calls, it counts the allocations of a few windows of calls
// and returns the smallest count per call. An allocation that step makes
// recurs in every window; the runtime's own, which refill its per-P caches
// after GOMAXPROCS changes or a collection (wait-queue entries, timer
// heaps), come at random times and are not counted.
func StepAllocs(procs int, step func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	step()
	step()
	const windows, calls = 10, 4
	best := -1.0
	for range windows {
		// Under load (the whole test suite running at once) the runtime
		// refills its caches more often; a fresh prime per window and the
		// minimum over many windows keep those out of the count.
		PrimeWaiters()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			step()
		}
		runtime.ReadMemStats(&after)
		if n := float64(after.Mallocs-before.Mallocs) / calls; best < 0 || n < best {
			best = n
		}
		if best == 0 {
			break
		}
	}
	return best
}

// PrimeWaiters parks many goroutines at once and wakes them, for
// benchmarks and tests that count allocations. A goroutine that blocks (a
// worker waiting for a parallel loop, a WaitGroup.Wait) takes an entry from
// the runtime's per-P caches of wait-queue entries (sudogs), which the
// runtime fills one allocation at a time, over hundreds of training steps,
// as the caches drift apart; this fills them at once, up to the next
// collection.
func PrimeWaiters() {
	const n = 512
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}
