package ag

import "reflect"

// New returns a pointer to a zero T that belongs to g until its next Reset:
// storage for the tape nodes of operations (see Node), which a training loop
// then reuses step after step instead of allocating.
func New[T any](g *Graph) *T { return &arenaOf[T](g).run(1)[0] }

// NewSlice returns a zeroed slice of n values of type T (capacity n) that
// belongs to g until its next Reset, as New.
func NewSlice[T any](g *Graph, n int) []T { return arenaOf[T](g).run(n) }

// arena is a slab of some element type, as kept in Graph.arenas.
type arena interface{ reset() }

// arenaOf returns g's slab of T values, creating it on first use.
func arenaOf[T any](g *Graph) *slab[T] {
	key := reflect.TypeFor[T]()
	if a, ok := g.arenas[key]; ok {
		return a.(*slab[T])
	}
	s := new(slab[T])
	if g.arenas == nil {
		g.arenas = make(map[reflect.Type]arena)
	}
	g.arenas[key] = s
	return s
}

// slab hands out zeroed runs of T from chunks that it keeps: after reset it
// hands out the same memory again, so that a caller making the same requests
// every step allocates only during the first.
type slab[T any] struct {
	chunks [][]T
	c, off int // the current chunk and the next free index in it
}

// Chunks hold slabFirst values, then twice as many as the last up to
// slabDoublings times (or one run, if longer), so that a small graph stays
// small and a large one has few chunks.
const (
	slabFirst     = 16
	slabDoublings = 8
)

// run returns n zero values, contiguous, with capacity n.
func (s *slab[T]) run(n int) []T {
	for ; s.c < len(s.chunks); s.c, s.off = s.c+1, 0 {
		if ch := s.chunks[s.c]; s.off+n <= len(ch) {
			r := ch[s.off : s.off+n : s.off+n]
			s.off += n
			return r
		}
	}
	size := max(n, slabFirst<<min(len(s.chunks), slabDoublings))
	s.chunks = append(s.chunks, make([]T, size))
	s.off = n
	return s.chunks[s.c][:n:n]
}

// reset zeroes what was handed out, dropping its references, and makes it
// available again.
func (s *slab[T]) reset() {
	for i := 0; i < s.c && i < len(s.chunks); i++ {
		clear(s.chunks[i])
	}
	if s.c < len(s.chunks) {
		clear(s.chunks[s.c][:s.off])
	}
	s.c, s.off = 0, 0
}
