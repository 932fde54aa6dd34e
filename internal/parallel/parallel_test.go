package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 5} {
		old := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 7, 1000, 4097} {
			hits := make([]int32, n)
			For(n, 3, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("procs %d n %d: index %d visited %d times", procs, n, i, h)
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

func TestChunksIndependentOfWorkers(t *testing.T) {
	c := Chunks(10, 4)
	if len(c) != 3 || c[0] != [2]int{0, 4} || c[2] != [2]int{8, 10} {
		t.Fatalf("Chunks(10, 4) = %v", c)
	}
}

func TestForNested(t *testing.T) {
	var total atomic.Int64
	For(64, 1, func(lo, hi int) {
		for range hi - lo {
			For(100, 7, func(lo, hi int) { total.Add(int64(hi - lo)) })
		}
	})
	if got := total.Load(); got != 6400 {
		t.Fatalf("nested loops visited %d indices, want 6400", got)
	}
}

type countBody struct{ hits []int32 }

func (b *countBody) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		atomic.AddInt32(&b.hits[i], 1)
	}
}

func TestForBodyAllocatesNothing(t *testing.T) {
	b := &countBody{hits: make([]int32, 1<<12)}
	ForBody(len(b.hits), 64, b) // start the workers
	allocs := testing.AllocsPerRun(100, func() { ForBody(len(b.hits), 64, b) })
	if allocs != 0 {
		t.Fatalf("ForBody allocated %v objects per loop, want 0", allocs)
	}
	for i, h := range b.hits {
		if h != 102 {
			t.Fatalf("index %d visited %d times, want 102", i, h)
		}
	}
}
