package gemm

import (
	"runtime"
	"sync"
)

// Persistent worker goroutines run the parts of large products, so that a
// product in the steady state starts no goroutine and allocates nothing.

// task is one part of a job, handed to a worker.
type task struct {
	j    *job
	part int
}

var (
	poolMu  sync.Mutex
	poolChs []chan task // one unbuffered channel per worker
)

// workers returns how many goroutines a product may use: GOMAXPROCS.
func workers() int { return runtime.GOMAXPROCS(0) }

// ensureWorkers starts workers until there are at least n.
func ensureWorkers(n int) []chan task {
	poolMu.Lock()
	defer poolMu.Unlock()
	for len(poolChs) < n {
		ch := make(chan task)
		poolChs = append(poolChs, ch)
		go func() {
			for t := range ch {
				t.j.run(t.part)
				t.j.wg.Done()
			}
		}()
	}
	return poolChs
}

// runJob runs the parts of j: part 0 on the calling goroutine, the others on
// idle workers. A part whose worker is busy (another product is running, or
// this one was started from a worker) runs on the calling goroutine, so
// products never wait on each other and nested calls cannot deadlock.
func runJob(j *job) {
	if j.parts == 1 {
		j.run(0)
		return
	}
	chs := ensureWorkers(j.parts - 1)
	var pending [8]int // parts no worker took; more than 9 parts run inline
	np := 0
	for part := 1; part < j.parts; part++ {
		j.wg.Add(1)
		select {
		case chs[part-1] <- task{j, part}:
			continue
		default:
		}
		j.wg.Done()
		if np < len(pending) {
			pending[np] = part
			np++
		} else {
			j.run(part)
		}
	}
	j.run(0)
	for _, part := range pending[:np] {
		j.run(part)
	}
	j.wg.Wait()
}

// A workspace holds one goroutine's packing buffers. Workspaces are kept on
// a free list (not a sync.Pool, which the garbage collector empties) so that
// the steady state allocates nothing.
type workspace struct {
	a, b []float32 // packed blocks of op(A) and op(B)
	t    []float32 // an edge micro-tile
}

var (
	wsMu   sync.Mutex
	wsFree []*workspace
)

// getWorkspace returns a workspace with buffers large enough for p.
func getWorkspace(p *path) *workspace {
	wsMu.Lock()
	var ws *workspace
	if n := len(wsFree); n > 0 {
		ws = wsFree[n-1]
		wsFree = wsFree[:n-1]
	}
	wsMu.Unlock()
	if ws == nil {
		ws = new(workspace)
	}
	mr := p.maxMR()
	grow(&ws.a, (p.mc+mr)*p.kc)
	grow(&ws.b, (p.nc+p.nr)*p.kc)
	grow(&ws.t, mr*p.nr)
	return ws
}

func putWorkspace(ws *workspace) {
	wsMu.Lock()
	wsFree = append(wsFree, ws)
	wsMu.Unlock()
}

// grow makes *s at least n long, reallocating only when it is too short.
func grow(s *[]float32, n int) {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	*s = (*s)[:cap(*s)]
}
