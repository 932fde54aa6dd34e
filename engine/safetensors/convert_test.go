package safetensors

import (
	"math"
	"testing"
)

// f16Ref decodes a half-precision bit pattern with math.Ldexp, independently
// of F16ToF32's bit manipulation.
func f16Ref(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}

func TestF16ToF32AllPatterns(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, want := F16ToF32(h), f16Ref(h)
		if math.IsNaN(want) {
			b := math.Float32bits(got)
			if !math.IsNaN(float64(got)) || b>>31 != uint32(h>>15) || (b>>13)&0x3ff != uint32(h&0x3ff) {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want a NaN with the same sign and payload", h, b)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestF16KnownValues(t *testing.T) {
	tests := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0},
		{0x0001, 5.9604645e-08}, // smallest subnormal, 2^-24
		{0x03ff, 6.097555e-05},  // largest subnormal
		{0x0400, 6.1035156e-05}, // smallest normal, 2^-14
		{0x3555, 0.33325195},
		{0x3bff, 0.99951172},
		{0x3c00, 1},
		{0x3c01, 1.0009766},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := F16ToF32(tt.h); got != tt.f {
			t.Errorf("F16ToF32(%#04x) = %g, want %g", tt.h, got, tt.f)
		}
		if got := F32ToF16(tt.f); got != tt.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tt.f, got, tt.h)
		}
	}
	if got := F32ToF16(float32(math.Copysign(0, -1))); got != 0x8000 {
		t.Errorf("F32ToF16(-0) = %#04x, want 0x8000", got)
	}
}

func even(a, b uint16) uint16 {
	if a&1 == 0 {
		return a
	}
	return b
}

// TestF32ToF16Rounding checks every representable half, the midpoints
// between neighbours (ties go to the even code) and the float32 values just
// either side of them, for both signs. The step above 65504 reaches
// infinity and the step below the smallest subnormal reaches zero.
func TestF32ToF16Rounding(t *testing.T) {
	for h := uint16(0); h < 0x7c00; h++ {
		a := F16ToF32(h)
		exp := int(h >> 10)
		ulp := math.Ldexp(1, max(exp, 1)-25)
		mid := float32(float64(a) + ulp/2) // exact: 12 significant bits
		below := math.Nextafter32(mid, 0)
		above := math.Nextafter32(mid, float32(math.Inf(1)))
		for _, sign := range []float32{1, -1} {
			sb := uint16(0)
			if sign < 0 {
				sb = 0x8000
			}
			cases := []struct {
				f    float32
				want uint16
			}{
				{sign * a, h},
				{sign * below, h},
				{sign * mid, even(h, h+1)},
				{sign * above, h + 1},
			}
			for _, c := range cases {
				if got := F32ToF16(c.f); got != sb|c.want {
					t.Fatalf("F32ToF16(%.10g) = %#04x, want %#04x", c.f, got, sb|c.want)
				}
			}
		}
	}
	// Far outside the range.
	tests := []struct {
		f    float32
		want uint16
	}{
		{1e6, 0x7c00},
		{-3.4e38, 0xfc00},
		{1e-30, 0},
		{math.Float32frombits(1), 0}, // float32 subnormal
		{-math.Float32frombits(0x7fffff), 0x8000},
	}
	for _, tt := range tests {
		if got := F32ToF16(tt.f); got != tt.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tt.f, got, tt.want)
		}
	}
}

func TestNaNConversions(t *testing.T) {
	// Including signalling NaNs whose payload lives in the low bits, which
	// plain truncation would turn into infinity.
	for _, bits := range []uint32{0x7fc00000, 0x7f800001, 0xff800001, 0x7f801000, 0xffffffff} {
		f := math.Float32frombits(bits)
		h := F32ToF16(f)
		if !math.IsNaN(float64(F16ToF32(h))) || h>>15 != uint16(bits>>31) {
			t.Errorf("F32ToF16(NaN %#08x) = %#04x, not a NaN of the same sign", bits, h)
		}
		b := F32ToBF16(f)
		if !math.IsNaN(float64(BF16ToF32(b))) || b>>15 != uint16(bits>>31) {
			t.Errorf("F32ToBF16(NaN %#08x) = %#04x, not a NaN of the same sign", bits, b)
		}
	}
}

func TestBF16Rounding(t *testing.T) {
	for h := uint32(0); h < 0x7f80; h++ {
		a := BF16ToF32(uint16(h))
		if a != math.Float32frombits(h<<16) {
			t.Fatalf("BF16ToF32(%#04x) = %g", h, a)
		}
		mid := h<<16 | 0x8000
		for _, sign := range []uint32{0, 1 << 31} {
			sb := uint16(sign >> 16)
			cases := []struct {
				bits uint32
				want uint16
			}{
				{h << 16, uint16(h)},
				{mid - 1, uint16(h)},
				{mid, even(uint16(h), uint16(h+1))},
				{mid + 1, uint16(h + 1)},
			}
			for _, c := range cases {
				f := math.Float32frombits(sign | c.bits)
				if got := F32ToBF16(f); got != sb|c.want {
					t.Fatalf("F32ToBF16(%#08x = %g) = %#04x, want %#04x", sign|c.bits, f, got, sb|c.want)
				}
			}
		}
	}
	tests := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{float32(math.Inf(1)), 0x7f80},
		{float32(math.Inf(-1)), 0xff80},
		{math.MaxFloat32, 0x7f80}, // beyond the largest bfloat16 by more than half a step
		{3.14159265, 0x4049},
	}
	for _, tt := range tests {
		if got := F32ToBF16(tt.f); got != tt.want {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", tt.f, got, tt.want)
		}
	}
}
