package rng

import (
	"math"
	"runtime"
	"testing"
)

func TestKeyedStreamsReproduce(t *testing.T) {
	a, b := New(7, "img.png", "0"), New(7, "img.png", "0")
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same key, different draws")
		}
	}
	c := New(7, "img.png", "1")
	d := New(7, "img.png0") // the parts are length-prefixed: no collision
	e := New(7, "img.png", "0")
	if c.Uint64() == e.Uint64() || d.Key() == New(7, "img.png", "0").Key() {
		t.Fatal("different keys gave equal streams")
	}
}

func TestDeriveDoesNotConsume(t *testing.T) {
	a, b := New(1, "x"), New(1, "x")
	_ = a.Derive("child").Uint64()
	if a.Uint64() != b.Uint64() {
		t.Fatal("Derive shifted the parent stream")
	}
}

func TestStateRestore(t *testing.T) {
	for skip := 0; skip < 5; skip++ {
		a := New(3, "s")
		for i := 0; i < skip; i++ {
			a.Uint64()
		}
		b := Restore(a.State())
		for i := 0; i < 10; i++ {
			if x, y := a.Uint64(), b.Uint64(); x != y {
				t.Fatalf("skip %d draw %d: %x != %x", skip, i, x, y)
			}
		}
	}
}

func TestUniformMoments(t *testing.T) {
	s := New(11, "moments")
	const n = 200000
	sum, sq := 0.0, 0.0
	for i := 0; i < n; i++ {
		v := s.Float64()
		if v < 0 || v >= 1 {
			t.Fatalf("Float64 out of [0,1): %v", v)
		}
		sum += v
		sq += v * v
	}
	mean, vr := sum/n, sq/n-(sum/n)*(sum/n)
	// Standard errors: mean 0.00065, variance 0.00019.
	if math.Abs(mean-0.5) > 0.004 || math.Abs(vr-1.0/12) > 0.002 {
		t.Fatalf("uniform mean %v var %v", mean, vr)
	}
}

func TestIntnUnbiased(t *testing.T) {
	s := New(5, "intn")
	var counts [6]int
	const n = 60000
	for i := 0; i < n; i++ {
		counts[s.Intn(6)]++
	}
	for k, c := range counts {
		// Expected 10000, sd about 91.
		if c < 9500 || c > 10500 {
			t.Fatalf("Intn(6): value %d drawn %d times of %d", k, c, n)
		}
	}
}

func TestFillNormalWorkerIndependent(t *testing.T) {
	fill := func(procs, n int) []float32 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		s := New(9, "noise")
		out := make([]float32, n)
		s.FillNormal(out, 1)
		// The stream must continue from the same point.
		out = append(out, float32(s.Float64()))
		return out
	}
	for _, n := range []int{1, 7, 4097, 50001} {
		a, b := fill(1, n), fill(4, n)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("n=%d: element %d differs between 1 and 4 workers", n, i)
			}
		}
	}
	big := fill(2, 200000)[:200000]
	sum, sq := 0.0, 0.0
	for _, v := range big {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean, vr := sum/200000, sq/200000
	if math.Abs(mean) > 0.01 || math.Abs(vr-1) > 0.015 {
		t.Fatalf("normal mean %v var %v", mean, vr)
	}
}

func TestPoissonMoments(t *testing.T) {
	for _, lam := range []float64{0.5, 3, 9.9, 10, 37, 400} {
		s := New(13, "poisson")
		const n = 40000
		sum, sq := 0.0, 0.0
		for i := 0; i < n; i++ {
			k := float64(s.Poisson(lam))
			sum += k
			sq += k * k
		}
		mean := sum / n
		vr := sq/n - mean*mean
		// Mean standard error sqrt(lam/n); allow 5 of them.
		if math.Abs(mean-lam) > 5*math.Sqrt(lam/n) || math.Abs(vr-lam) > 0.05*lam+0.05 {
			t.Fatalf("Poisson(%v): mean %v var %v", lam, mean, vr)
		}
	}
}

func TestChoice(t *testing.T) {
	s := New(2, "choice")
	probs := []float64{0.45, 0.25, 0.12, 0.03, 0.12, 0.03}
	var counts [6]int
	const n = 100000
	for i := 0; i < n; i++ {
		counts[s.Choice(probs)]++
	}
	for i, p := range probs {
		got := float64(counts[i]) / n
		if math.Abs(got-p) > 5*math.Sqrt(p*(1-p)/n) {
			t.Fatalf("Choice index %d frequency %v, want %v", i, got, p)
		}
	}
}

func TestPhiloxKnownAnswer(t *testing.T) {
	// Random123 known-answer test for Philox4x32-10 with counter and key
	// all zero: 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
	got := philox(0, 0)
	want := [2]uint64{0xe169c58d6627e8d5, 0x9b00dbd8bc57ac4c}
	if got != want {
		t.Fatalf("philox(0,0) = %x, want %x", got, want)
	}
}
