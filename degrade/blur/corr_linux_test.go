package blur

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestCorrRowStaysInBounds places the source rows so that they end exactly
// at an inaccessible page: a path that reads past the last value the box
// needs (a whole-vector load in a tail) faults.
func TestCorrRowStaysInBounds(t *testing.T) {
	page := syscall.Getpagesize()
	size := (16384 + page - 1) / page * page // room for the largest case
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), size/4)
	for _, b := range [][2]int{{1, 1}, {3, 5}, {21, 21}} {
		kh, kw := b[0], b[1]
		box := make([]float32, kh*kw)
		for i := range box {
			box[i] = 1
		}
		for _, wd := range []int{1, 7, 15, 17, 33, 70} {
			stride := wd + kw - 1
			n := (kh-1)*stride + wd + kw - 1
			src := all[len(all)-n:]
			for i := range src {
				src[i] = 1
			}
			forEachPath(t, func(t *testing.T) {
				dst := make([]float32, wd)
				corrRow(dst, src, stride, box, kh, kw)
				if dst[wd-1] != float32(kh*kw) {
					t.Errorf("%dx%d box, width %d: last output %g, want %d", kh, kw, wd, dst[wd-1], kh*kw)
				}
			})
		}
	}
}
