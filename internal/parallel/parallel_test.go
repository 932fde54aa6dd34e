package parallel

import (
	"runtime"
	"sync"
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

// addLoop adds v to dst[lo:hi].
type addLoop struct {
	dst []int32
	v   int32
}

func (l *addLoop) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		atomic.AddInt32(&l.dst[i], l.v)
	}
}

func TestLoopAllocatesNothing(t *testing.T) {
	dst := make([]int32, 1<<12)
	Loop(len(dst), 64, addLoop{dst: dst, v: 1}) // start the workers
	allocs := testing.AllocsPerRun(100, func() { Loop(len(dst), 64, addLoop{dst: dst, v: 2}) })
	if allocs != 0 {
		t.Fatalf("Loop allocated %v objects per loop, want 0", allocs)
	}
	for i, h := range dst {
		if h != 1+2*101 {
			t.Fatalf("index %d is %d, want %d", i, h, 1+2*101)
		}
	}
}

// nestLoop runs an addLoop over dst for each of its indices.
type nestLoop struct{ dst []int32 }

func (l *nestLoop) Run(lo, hi int) {
	for range hi - lo {
		Loop(len(l.dst), 7, addLoop{dst: l.dst, v: 1})
	}
}

func TestLoopNestedAndConcurrent(t *testing.T) {
	// Loops of the same types nest and run on several goroutines at once:
	// each call has its own copy of the body.
	var wg sync.WaitGroup
	results := make([][]int32, 4)
	for g := range results {
		results[g] = make([]int32, 100)
		wg.Go(func() { Loop(64, 1, nestLoop{dst: results[g]}) })
	}
	wg.Wait()
	for g, r := range results {
		for i, h := range r {
			if h != 64 {
				t.Fatalf("goroutine %d: index %d is %d, want 64", g, i, h)
			}
		}
	}
}

func TestFreeListRecycles(t *testing.T) {
	made := 0
	l := FreeList[int]{New: func() *int { made++; return new(int) }}
	a := l.Get()
	*a = 7
	l.Put(a)
	if b := l.Get(); b != a || *b != 7 || made != 1 {
		t.Fatalf("Get after Put: %p (want %p), value %d, %d made", b, a, *b, made)
	}
	l.Put(a)
	if n := testing.AllocsPerRun(100, func() { l.Put(l.Get()) }); n != 0 {
		t.Fatalf("Get/Put allocated %v times", n)
	}
}
