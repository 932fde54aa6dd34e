package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// Crops returns the sub-image boxes [y, x, h, w] of an h x w image cut into
// size x size crops every step pixels, as BasicSR's extract_subimages: the
// positions 0, step, 2*step, ... that fit, plus a last crop flush with the
// border when more than thresh pixels would otherwise be left out. An image
// smaller than size on a side gives no crop.
func Crops(h, w, size, step, thresh int) [][4]int {
	if size <= 0 || step <= 0 || h < size || w < size {
		return nil
	}
	pos := func(n int) []int {
		var ps []int
		for p := 0; p <= n-size; p += step {
			ps = append(ps, p)
		}
		if n-(ps[len(ps)-1]+size) > thresh {
			ps = append(ps, n-size)
		}
		return ps
	}
	var boxes [][4]int
	for _, y := range pos(h) {
		for _, x := range pos(w) {
			boxes = append(boxes, [4]int{y, x, size, size})
		}
	}
	return boxes
}

// CropName is the item name of sub-image i (counted from 1) of name, as
// BasicSR names them: NAME_s001.
func CropName(name string, i int) string { return fmt.Sprintf("%s_s%03d", name, i) }

// Shard describes a deterministic part of a dataset: item i of the sorted
// list belongs to shard i mod Count.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if s == "" {
		return Shard{0, 1}, nil
	}
	// Strictly two decimal numbers: Sscanf would accept "0/2abc".
	a, b, ok := strings.Cut(s, "/")
	var errA, errB error
	sh.Index, errA = strconv.Atoi(a)
	sh.Count, errB = strconv.Atoi(b)
	if !ok || errA != nil || errB != nil || strings.ContainsAny(s, "+ ") || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return sh, nil
}

// Has reports whether source item i belongs to the shard.
func (s Shard) Has(i int) bool { return i%s.Count == s.Index }
