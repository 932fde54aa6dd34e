package gemm

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// bf16Paths returns the paths of the BF16 precision this machine runs: the
// Go one and the assembly ones (AVX512_BF16, AMX).
func bf16Paths() []*path {
	return append([]*path{genericBF16Path}, nativeBF16Paths()...)
}

// roundBF16 returns x with every element rounded to bfloat16.
func roundBF16(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = fromBF16(toBF16(v))
	}
	return y
}

func TestToBF16(t *testing.T) {
	nan := math.Float32frombits(0x7f800001) // signalling NaN
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even below
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, even above
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.Float32frombits(0x3f807fff), 0x3f80}, // below the tie
		{math.MaxFloat32, 0x7f80},                  // rounds up to +Inf
		{float32(math.Inf(-1)), 0xff80},            //
		{math.Float32frombits(0x00400000), 0},      // subnormal
		{math.Float32frombits(0x80000001), 0x8000}, // negative subnormal
		{math.Float32frombits(0x00800000), 0x0080}, // smallest normal
		{nan, 0x7fc0}, // quieted
		{math.Float32frombits(0xffc12345), 0xffc1 | 0x40}, // quiet NaN keeps its payload's top
	}
	for _, tt := range tests {
		if got := toBF16(tt.in); got != tt.want {
			t.Errorf("toBF16(%#08x) = %#04x, want %#04x", math.Float32bits(tt.in), got, tt.want)
		}
	}
}

// specialValues are the inputs the conversions must agree on beside random
// ones: ties, subnormals, infinities, NaNs, the largest values.
func specialValues() []float32 {
	bits := []uint32{0, 0x80000000, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0x7f7fffff, 0xff7fffff,
		0x7f800000, 0xff800000, 0x00400000, 0x80000001, 0x00800000, 0x7f800001, 0xffc12345, 0x7fffffff, 0x007fffff}
	v := make([]float32, len(bits))
	for i, b := range bits {
		v[i] = math.Float32frombits(b)
	}
	return v
}

// TestPairPanel checks the assembly conversion to bf16 pairs against the Go
// one, bit for bit, for panel widths of the tiles and odd ones, even and
// odd depths.
func TestPairPanel(t *testing.T) {
	s := rng.New(1, "gemm", "pairs")
	special := specialValues()
	for _, p := range bf16Paths() {
		for _, w := range []int{4, 8, 12, 14, 16, 17, 32, 37} {
			for _, kc := range []int{1, 2, 3, 16, 31, 64} {
				src := randSlice(s, w*kc)
				for i := range src {
					if i%5 == 0 {
						src[i] = special[(i/5)%len(special)]
					}
				}
				want := append([]float32(nil), src...)
				pairPanelGo(want, w, kc)
				got := append([]float32(nil), src...)
				pairPanel(p, got, w, kc)
				for i := range (kc + 1) / 2 * w {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s w=%d kc=%d: slot %d = %#08x, want %#08x", p.name, w, kc, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
				// The pairs' halves are the rounded values.
				for q := 0; 2*q < kc; q++ {
					for x := range w {
						pair := math.Float32bits(want[q*w+x])
						if lo := uint16(pair); lo != toBF16(src[2*q*w+x]) {
							t.Fatalf("w=%d kc=%d: low half of pair (%d, %d) is %#04x", w, kc, x, q, lo)
						}
					}
				}
			}
		}
	}
}

// TestBF16SgemmMatchesReference checks every BF16 path and tile against
// the float64 product of the bf16-rounded factors: the products of bf16
// values are exact in float32, so only the summation rounds, within the
// float32 bound.
func TestBF16SgemmMatchesReference(t *testing.T) {
	for _, p := range bf16Paths() {
		for _, tp := range append([]*path{p}, splitTiles(p)...) {
			t.Run(tp.name, func(t *testing.T) {
				defer setPath(tp)()
				for _, tc := range gemmCases() {
					a, lda, b, ldb, c, ldc := tc.operands("bf16")
					ra, rb := roundBF16(a), roundBF16(b)
					ref, mag := refSgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, ra, lda, rb, ldb, tc.beta, c, ldc)
					Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					for i := 0; i < tc.m; i++ {
						for j := 0; j < tc.n; j++ {
							got := float64(c[i*ldc+j])
							if d, tol := math.Abs(got-ref[i*tc.n+j]), tolerance(tc.k, mag[i*tc.n+j]); !(d <= tol) {
								t.Fatalf("%v: C[%d][%d] = %g, want %g (error %.3g > %.3g)", tc, i, j, got, ref[i*tc.n+j], d, tol)
							}
						}
					}
				}
			})
		}
	}
}

// splitTiles returns a copy of p restricted to each of its tiles, when it
// has several.
func splitTiles(p *path) []*path {
	if len(p.tiles) < 2 {
		return nil
	}
	var ps []*path
	for _, tk := range p.tiles {
		q := *p
		q.name = fmt.Sprintf("%s_%dx%d", p.name, tk.mr, p.nr)
		q.tiles = []tileKernel{tk}
		ps = append(ps, &q)
	}
	return ps
}

// TestBF16PathsAgree checks that the assembly BF16 path gives the Go one's
// bits (the same arithmetic, in vdpbf16ps's order), so that BF16 results
// do not depend on the machine; for betas other than 0 and 1 the Go
// kernel's fused multiply-add rounds twice and may differ by an ulp.
func TestBF16PathsAgree(t *testing.T) {
	var ps []*path
	for _, p := range bf16Paths() {
		if !p.amx { // the tile unit rounds its own way
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		t.Skip("no AVX512_BF16 here: only the Go BF16 path runs")
	}
	for _, tc := range gemmCases() {
		a, lda, b, ldb, c, ldc := tc.operands("bf16agree")
		var want []float32
		for i, p := range ps {
			got := append([]float32(nil), c...)
			restore := setPath(p)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			restore()
			if i == 0 {
				want = got
				continue
			}
			for x := range got {
				g, w := math.Float32bits(got[x]), math.Float32bits(want[x])
				if g == w {
					continue
				}
				if tc.beta != 0 && tc.beta != 1 && (g-w == 1 || w-g == 1) {
					continue
				}
				t.Fatalf("%v: %s gives %g (%#08x) at %d, %s %g (%#08x)", tc, p.name, got[x], g, x, ps[0].name, want[x], w)
			}
		}
	}
}

// TestPrecisionSelectsPath checks that SetPrecision switches every product
// to the BF16 path and back, and that BF16 results do not depend on the
// number of goroutines.
func TestPrecisionSelectsPath(t *testing.T) {
	const m, n, k = 150, 300, 260
	s := rng.New(1, "gemm", "precision")
	a, b := randSlice(s, m*k), randSlice(s, k*n)
	run := func() []float32 {
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		return c
	}
	fp32 := run()
	restore := SetPrecision(BF16)
	if CurrentPrecision() != BF16 {
		t.Fatal("SetPrecision(BF16) did not take")
	}
	var bf16 []float32
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		got := run()
		runtime.GOMAXPROCS(old)
		if bf16 == nil {
			bf16 = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(bf16[i]) {
				t.Fatalf("BF16 with GOMAXPROCS=%d differs at %d", procs, i)
			}
		}
	}
	restore()
	if CurrentPrecision() != FP32 {
		t.Fatal("restore did not bring back FP32")
	}
	same := 0
	for i := range fp32 {
		if fp32[i] == bf16[i] {
			same++
		}
	}
	if same > len(fp32)/10 {
		t.Errorf("BF16 products equal FP32 ones in %d of %d elements: BF16 not in effect", same, len(fp32))
	}
	if again := run(); math.Float32bits(again[7]) != math.Float32bits(fp32[7]) {
		t.Error("FP32 after restore differs from before")
	}
}

func TestParsePrecision(t *testing.T) {
	for _, p := range []Precision{FP32, BF16} {
		if got, err := ParsePrecision(p.String()); err != nil || got != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Error("ParsePrecision(fp16) accepted")
	}
}

// TestGatherRowsPairs checks the one-pass gather and pairing against
// GatherRows followed by pairPanelGo, for even and odd row counts and
// widths around the 16-column vectors.
func TestGatherRowsPairs(t *testing.T) {
	s := rng.New(1, "gemm", "gather-pairs")
	src := randSlice(s, 4000)
	for _, rows := range []int{1, 2, 5, 8} {
		for _, cols := range []int{1, 7, 16, 17, 32, 40} {
			offs := make([]int, rows)
			for r := range offs {
				offs[r] = (r*613 + 11) % (len(src) - cols)
			}
			const ldd = 48
			want := make([]float32, ldd*rows)
			GatherRows(want, ldd, src, offs, cols)
			pairPanelGo(want, ldd, rows)
			got := make([]float32, ldd*rows)
			GatherRowsPairs(got, ldd, src, offs, cols)
			for q := 0; 2*q < rows; q++ {
				for c := range cols {
					g, w := math.Float32bits(got[q*ldd+c]), math.Float32bits(want[q*ldd+c])
					if g != w {
						t.Fatalf("rows=%d cols=%d: pair (%d, %d) is %#08x, want %#08x", rows, cols, q, c, g, w)
					}
				}
				for c := cols; c < ldd; c++ {
					if got[q*ldd+c] != 0 {
						t.Fatalf("rows=%d cols=%d: wrote column %d of pair row %d", rows, cols, c, q)
					}
				}
			}
		}
	}
}
