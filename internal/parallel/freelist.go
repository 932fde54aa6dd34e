package parallel

import "sync"

// FreeList recycles *T values through a mutex-guarded stack. Unlike a
// sync.Pool it allocates nothing once it holds enough values: a pool
// allocates when values are taken on one P and put back on another, and a
// collection empties it, which would break the allocation-free steady state
// of a training step.
type FreeList[T any] struct {
	// New makes a value when the list is empty; nil means new(T).
	New func() *T

	mu   sync.Mutex
	free []*T
}

// Get takes a value off the list, or makes one.
func (l *FreeList[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		x := l.free[n-1]
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	if l.New != nil {
		return l.New()
	}
	return new(T)
}

// Put returns x to the list; the caller must not use it afterwards.
func (l *FreeList[T]) Put(x *T) {
	l.mu.Lock()
	l.free = append(l.free, x)
	l.mu.Unlock()
}
