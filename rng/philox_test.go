package rng

import (
	"testing"

	"github.com/degradiff/degradiff/internal/kernel"
)

// setPhilox makes p the fillBlocks path for the rest of the test.
func setPhilox(t *testing.T, p kernel.Path) {
	old := philoxPath
	philoxPath = p
	t.Cleanup(func() { philoxPath = old })
}

// TestFillBlocksPaths checks that every path of fillBlocks this CPU has
// gives exactly philox's words, for lengths around the vector widths and
// counters whose low half wraps inside a vector.
func TestFillBlocksPaths(t *testing.T) {
	keys := []uint64{0, 1, 0xdeadbeefcafef00d, ^uint64(0)}
	ctrs := []uint64{0, 5, 1<<32 - 7, 1<<40 + 3}
	for _, p := range kernel.Available() {
		t.Run(p.String(), func(t *testing.T) {
			setPhilox(t, p)
			for _, key := range keys {
				for _, ctr := range ctrs {
					for _, n := range []int{0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 95, 1000} {
						got := make([]uint64, n+1)
						got[n] = 42 // must stay
						fillBlocks(got[:n], ctr, key)
						for i := 0; i < n; i++ {
							want := philox(ctr+uint64(i/2), key)[i%2]
							if got[i] != want {
								t.Fatalf("key %x ctr %x n %d: word %d = %x, want %x", key, ctr, n, i, got[i], want)
							}
						}
						if got[n] != 42 {
							t.Fatalf("n %d: wrote past the end", n)
						}
					}
				}
			}
		})
	}
}

// TestPhiloxKeys checks the round keys keep their key (the Go versions of
// the kernels use it).
func TestPhiloxKeys(t *testing.T) {
	for _, key := range []uint64{0, 1, 0xdeadbeefcafef00d, ^uint64(0)} {
		var ks philoxKeys
		ks.init(key)
		if ks.key() != key {
			t.Errorf("key %x came back as %x", key, ks.key())
		}
		if philoxAsm && !kernel.Supported(kernel.AVX512) {
			continue
		}
		got := make([]uint64, 64)
		philoxAVX512(got, 9, &ks) // the assembly, or its Go version
		for i, w := range got {
			if want := philox(9+uint64(i/2), key)[i%2]; w != want {
				t.Fatalf("key %x: word %d = %x, want %x", key, i, w, want)
			}
		}
	}
}

// TestFillUint64 checks that FillUint64 continues the stream exactly as
// Uint64 calls do, from any position within a block.
func TestFillUint64(t *testing.T) {
	for skip := 0; skip < 3; skip++ {
		for _, n := range []int{0, 1, 2, 5, 64, 101} {
			a, b := New(4, "fill"), New(4, "fill")
			for i := 0; i < skip; i++ {
				a.Uint64()
				b.Uint64()
			}
			got := make([]uint64, n)
			a.FillUint64(got)
			for i, v := range got {
				if w := b.Uint64(); v != w {
					t.Fatalf("skip %d n %d: word %d = %x, want %x", skip, n, i, v, w)
				}
			}
			if x, y := a.Uint64(), b.Uint64(); x != y {
				t.Fatalf("skip %d n %d: stream continues with %x, want %x", skip, n, x, y)
			}
		}
	}
}
