package schedule

import (
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"testing"

	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/engine/tensor"
	"github.com/degradiff/degradiff/internal/fixture"
	"github.com/degradiff/degradiff/rng"
)

// openFixture opens the diffusers scheduler fixtures or skips the test.
func openFixture(t *testing.T) *safetensors.File {
	t.Helper()
	dir := fixture.Dir(t, "fixtures", "diffusers")
	f, err := safetensors.Open(filepath.Join(dir, "schedulers.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func f32(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ints(t *testing.T, f *safetensors.File, name string) []int {
	t.Helper()
	v, _, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func ddpmSchedule(t *testing.T) *Schedule {
	t.Helper()
	cfg, err := Defaults(DDPMClass)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTablesMatchTorch checks that the linear schedule's betas, alphas and
// alphas_cumprod are bit-identical to diffusers' float32 tensors.
func TestTablesMatchTorch(t *testing.T) {
	f := openFixture(t)
	s := ddpmSchedule(t)
	for _, tc := range []struct {
		name string
		got  []float32
	}{
		{"ddpm.betas", s.Betas},
		{"ddpm.alphas", s.Alphas},
		{"ddpm.alphas_cumprod", s.AlphasCumprod},
	} {
		want := f32(t, f, tc.name)
		if len(want) != len(tc.got) {
			t.Fatalf("%s: %d values, want %d", tc.name, len(tc.got), len(want))
		}
		diff, maxAbs := 0, 0.0
		for i := range want {
			if want[i] != tc.got[i] {
				diff++
				maxAbs = max(maxAbs, math.Abs(float64(want[i]-tc.got[i])))
			}
		}
		if diff != 0 {
			t.Errorf("%s: %d of %d values differ from torch (max %g)", tc.name, diff, len(want), maxAbs)
		}
	}
	// The float64 recomputation stays within the README's 2.5e-7.
	ref, _, err := f.Float64("aux.alphas_cumprod_f64")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ref {
		if d := math.Abs(v - float64(s.AlphasCumprod[i])); d > 1e-6 {
			t.Fatalf("alphas_cumprod[%d] = %g, float64 reference %g (diff %g > 1e-6)", i, s.AlphasCumprod[i], v, d)
		}
	}
}

func TestAddNoiseMatchesTorch(t *testing.T) {
	f := openFixture(t)
	s := ddpmSchedule(t)
	load := func(name string) *tensor.Tensor {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return tensor.FromData(v, shape...)
	}
	x0, noise, want := load("add_noise.x0"), load("add_noise.noise"), load("add_noise.out")
	got := s.AddNoise(x0, noise, ints(t, f, "add_noise.timesteps"))
	if d := tensor.MaxAbsDiff(got, want); d != 0 {
		t.Errorf("AddNoise differs from diffusers by %g (want bit-identical)", d)
	}
}

func TestAddNoise(t *testing.T) {
	s := ddpmSchedule(t)
	x0 := tensor.New(2, 1, 2, 2)
	noise := tensor.New(2, 1, 2, 2)
	for i := range x0.Data {
		x0.Data[i] = float32(i) / 8
		noise.Data[i] = 1 - float32(i)/4
	}
	for _, tc := range []struct {
		name string
		ts   []int
	}{
		{"per item", []int{0, 999}},
		{"broadcast", []int{500}},
	} {
		got := s.AddNoise(x0, noise, tc.ts)
		for b := range 2 {
			tb := tc.ts[0]
			if len(tc.ts) > 1 {
				tb = tc.ts[b]
			}
			a := float64(s.AlphasCumprod[tb])
			for i := range 4 {
				j := b*4 + i
				want := math.Sqrt(a)*float64(x0.Data[j]) + math.Sqrt(1-a)*float64(noise.Data[j])
				if d := math.Abs(float64(got.Data[j]) - want); d > 1e-6 {
					t.Errorf("%s: item %d element %d = %g, want %g", tc.name, b, i, got.Data[j], want)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("AddNoise with 3 timesteps for batch 2 did not panic")
		}
	}()
	s.AddNoise(x0, noise, []int{1, 2, 3})
}

func TestSNR(t *testing.T) {
	s := ddpmSchedule(t)
	prev := math.Inf(1)
	for ts := range s.Len() {
		snr := s.SNR(ts)
		if !(snr < prev) || snr <= 0 {
			t.Fatalf("SNR(%d) = %g is not positive and below SNR(%d) = %g", ts, snr, ts-1, prev)
		}
		prev = snr
		alpha, sigma, lambda := s.VP(ts)
		if d := math.Abs(alpha*alpha/(sigma*sigma)-snr) / snr; d > 1e-5 {
			t.Fatalf("SNR(%d) = %g disagrees with (alpha/sigma)^2 = %g", ts, snr, alpha*alpha/(sigma*sigma))
		}
		if d := math.Abs(2*lambda - math.Log(snr)); d > 1e-5 {
			t.Fatalf("lambda(%d) = %g, want log(SNR)/2 = %g", ts, lambda, math.Log(snr)/2)
		}
	}
}

func TestBetaSchedules(t *testing.T) {
	base, _ := Defaults(DDPMClass)
	t.Run("linear endpoints", func(t *testing.T) {
		s, err := New(base)
		if err != nil {
			t.Fatal(err)
		}
		if s.Betas[0] != float32(1e-4) || s.Betas[999] != float32(0.02) {
			t.Errorf("betas[0], betas[999] = %g, %g; want 1e-4, 0.02 exactly", s.Betas[0], s.Betas[999])
		}
	})
	t.Run("scaled_linear", func(t *testing.T) {
		cfg := base
		cfg.BetaSchedule, cfg.BetaStart, cfg.BetaEnd = ScaledLinear, 0.00085, 0.012
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r0, r1 := float32(math.Sqrt(0.00085)), float32(math.Sqrt(0.012))
		if s.Betas[0] != r0*r0 || s.Betas[999] != r1*r1 {
			t.Errorf("betas[0], betas[999] = %g, %g; want %g, %g", s.Betas[0], s.Betas[999], r0*r0, r1*r1)
		}
		for i := 1; i < 999; i++ {
			mid := (math.Sqrt(float64(s.Betas[i-1])) + math.Sqrt(float64(s.Betas[i+1]))) / 2
			if d := math.Abs(math.Sqrt(float64(s.Betas[i])) - mid); d > 1e-6 {
				t.Fatalf("sqrt(betas) not linear at %d: off by %g", i, d)
			}
		}
	})
	t.Run("squaredcos_cap_v2", func(t *testing.T) {
		cfg := base
		cfg.BetaSchedule = SquaredCosCapV2
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		abar := func(x float64) float64 { c := math.Cos((x + 0.008) / 1.008 * math.Pi / 2); return c * c }
		for _, i := range []int{0, 1, 500, 998} {
			want := float32(1 - abar(float64(i+1)/1000)/abar(float64(i)/1000))
			if s.Betas[i] != want {
				t.Errorf("betas[%d] = %g, want %g", i, s.Betas[i], want)
			}
		}
		if s.Betas[999] != float32(0.999) {
			t.Errorf("last beta = %g, want the 0.999 cap", s.Betas[999])
		}
	})
	t.Run("trained_betas", func(t *testing.T) {
		cfg := base
		cfg.NumTrainTimesteps = 3
		cfg.TrainedBetas = []float64{0.1, 0.2, 0.5}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.5}
		for i := range want {
			if math.Abs(float64(s.AlphasCumprod[i]-want[i])) > 1e-7 {
				t.Errorf("alphas_cumprod = %v, want %v", s.AlphasCumprod, want)
				break
			}
		}
		cfg.NumTrainTimesteps = 4
		if _, err := New(cfg); err == nil {
			t.Error("3 trained betas for 4 timesteps: no error")
		}
	})
	t.Run("rescale_betas_zero_snr", func(t *testing.T) {
		cfg := base
		cfg.RescaleBetasZeroSNR = true
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		plain := ddpmSchedule(t)
		if s.AlphasCumprod[999] != 0 {
			t.Errorf("terminal alphas_cumprod = %g, want 0", s.AlphasCumprod[999])
		}
		if d := math.Abs(float64(s.AlphasCumprod[0] - plain.AlphasCumprod[0])); d > 1e-6 {
			t.Errorf("alphas_cumprod[0] moved by %g", d)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		cfg := base
		cfg.BetaSchedule = "cosine"
		if _, err := New(cfg); err == nil {
			t.Error("unknown beta_schedule: no error")
		}
	})
}

// TestFMAF32 checks the single-rounding float32 FMA against exact rational
// arithmetic.
func TestFMAF32(t *testing.T) {
	r := rng.New(1, "fma")
	for i := range 100000 {
		a := float32(r.Norm() * math.Pow(2, float64(r.Intn(20)-10)))
		b := float32(r.Norm() * math.Pow(2, float64(r.Intn(20)-10)))
		c := float32(r.Norm() * math.Pow(2, float64(r.Intn(40)-20)))
		if i%3 == 0 {
			c = -float32(float64(a) * float64(b)) // near-cancellation
		}
		exact := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		exact.Mul(exact, new(big.Float).SetFloat64(float64(b)))
		exact.Add(exact, new(big.Float).SetFloat64(float64(c)))
		want, _ := exact.Float32()
		if got := fmaF32(a, b, c); got != want {
			t.Fatalf("fmaF32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
}

func TestTimesteps(t *testing.T) {
	for _, tc := range []struct {
		sp        Spacing
		multistep bool
		numTrain  int
		n, offset int
		want      []int
	}{
		{Leading, false, 1000, 50, 0, seq(980, 0, 20)},
		{Leading, false, 1000, 10, 1, seq(901, 1, 100)},
		{Linspace, false, 1000, 10, 0, seq(999, 0, 111)},
		{Linspace, false, 6, 3, 0, []int{5, 2, 0}}, // numpy rounds 2.5 to even
		{Trailing, false, 1000, 10, 0, seq(999, 99, 100)},
		{Leading, true, 1000, 50, 0, seq(950, 19, 19)},
		{Leading, true, 1000, 10, 1, seq(901, 91, 90)},
		{Linspace, true, 1000, 10, 0, []int{999, 899, 799, 699, 599, 500, 400, 300, 200, 100}},
		{Trailing, true, 1000, 50, 0, seq(999, 19, 20)},
		// Repeated values are dropped (T//(n+1) = 0 makes all ten 0).
		{Leading, true, 10, 10, 0, []int{0}},
		{Linspace, true, 10, 15, 0, []int{9, 8, 7, 6, 5, 4, 3, 2, 1}},
	} {
		name := fmt.Sprintf("%s/multistep=%v/T=%d/n=%d/offset=%d", tc.sp, tc.multistep, tc.numTrain, tc.n, tc.offset)
		fn := Timesteps
		if tc.multistep {
			fn = MultistepTimesteps
		}
		got, err := fn(tc.sp, tc.numTrain, tc.n, tc.offset)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, tc.want)
		}
	}
	for _, bad := range []struct {
		sp Spacing
		n  int
	}{{Leading, 0}, {Leading, 1001}, {"even", 10}} {
		if _, err := Timesteps(bad.sp, 1000, bad.n, 0); err == nil {
			t.Errorf("Timesteps(%q, 1000, %d): no error", bad.sp, bad.n)
		}
	}
	if _, err := MultistepTimesteps("even", 1000, 10, 0); err == nil {
		t.Error("MultistepTimesteps with an unknown spacing: no error")
	}
}

func TestTimestepsMatchFixtures(t *testing.T) {
	f := openFixture(t)
	for _, tc := range []struct {
		name      string
		sp        Spacing
		multistep bool
	}{
		{"ddim.timesteps", Leading, false},
		{"img2img.leading.timesteps_full", Leading, true},
		{"img2img.linspace.timesteps_full", Linspace, true},
		{"img2img.trailing.timesteps_full", Trailing, true},
	} {
		fn := Timesteps
		if tc.multistep {
			fn = MultistepTimesteps
		}
		got, err := fn(tc.sp, 1000, 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := ints(t, f, tc.name); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, want)
		}
	}
}

// seq returns from, from-step, ..., down to last.
func seq(from, last, step int) []int {
	var out []int
	for v := from; v >= last; v -= step {
		out = append(out, v)
	}
	return out
}

func ExampleMultistepTimesteps() {
	// UniPC with the "leading" spacing that a saved DDPM config carries.
	ts, _ := MultistepTimesteps(Leading, 1000, 10, 0)
	fmt.Println(ts)
	// Output: [900 810 720 630 540 450 360 270 180 90]
}

func ExampleSchedule_AddNoise() {
	cfg, _ := Defaults(DDPMClass)
	s, _ := New(cfg)
	x0 := tensor.Full(1, 1, 1, 1, 1)
	noise := tensor.Full(0, 1, 1, 1, 1)
	// At t=999 almost all of the signal is gone: sqrt(acp[999]) = 0.0064.
	fmt.Printf("%.4f\n", s.AddNoise(x0, noise, []int{999}).Data[0])
	// Output: 0.0064
}
