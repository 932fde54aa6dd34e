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
