package features

import (
	"math"
	"sync"
)

var twiddleCache sync.Map // n -> []complex128

// twiddles returns exp(−2πik/n) for k < n/2.
func twiddles(n int) []complex128 {
	if v, ok := twiddleCache.Load(n); ok {
		return v.([]complex128)
	}
	tw := make([]complex128, n/2)
	for k := range tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		tw[k] = complex(c, s)
	}
	twiddleCache.Store(n, tw)
	return tw
}

// fft replaces a (length a power of two) by its discrete Fourier transform
// Σ a[j] exp(−2πijk/n): iterative radix-2 Cooley-Tukey.
func fft(a []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	tw := twiddles(n)
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			lo, hi := a[start:start+half], a[start+half:start+size]
			for k := range lo {
				t := tw[k*step] * hi[k]
				u := lo[k]
				lo[k] = u + t
				hi[k] = u - t
			}
		}
	}
}

// fft2 replaces the row-major s x s array a by its 2-D DFT.
func fft2(a []complex128, s int) {
	for y := 0; y < s; y++ {
		fft(a[y*s : (y+1)*s])
	}
	col := make([]complex128, s)
	for x := 0; x < s; x++ {
		for y := range col {
			col[y] = a[y*s+x]
		}
		fft(col)
		for y, v := range col {
			a[y*s+x] = v
		}
	}
}
