package blur

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/degradiff/degradiff/raster"
	"github.com/degradiff/degradiff/rng"
)

func fixtureKernel(t *testing.T, o *ops, name string) Kernel {
	t.Helper()
	w, shape := o.f64(t, name)
	return Kernel{Size: shape[0], W: w}
}

// TestFilter2DMatchesBasicSR runs testFilter2DMatchesBasicSR on every corrRow path.
func TestFilter2DMatchesBasicSR(t *testing.T) { forEachPath(t, testFilter2DMatchesBasicSR) }

func testFilter2DMatchesBasicSR(t *testing.T) {
	o := loadOps(t)
	img := o.image(t, "image")
	for _, tc := range []struct{ out, kernel string }{
		{"filter2D.gauss_aniso_21", "kernel.gauss_aniso_21"},
		{"filter2D.gauss_aniso_7", "kernel.gauss_aniso_7"},
	} {
		want := o.image(t, tc.out)
		got := Filter2D(img, fixtureKernel(t, o, tc.kernel))
		d := maxAbsDiff(got.Pix, want.Pix)
		t.Logf("%s: max abs diff %.3g", tc.out, d)
		if d > 1e-5 {
			t.Errorf("%s: max abs diff %.3g > 1e-5", tc.out, d)
		}
		// The kernels are point-symmetric, so a flip cannot be seen, but
		// swapping rows and columns can: the anisotropic kernels detect it.
		if d := maxAbsDiff(Filter2D(img, transpose(fixtureKernel(t, o, tc.kernel))).Pix, want.Pix); d < 1e-3 {
			t.Errorf("%s: transposed kernel also matches (diff %.3g)", tc.out, d)
		}
	}
	// batch2: sample 0 is the image with gauss_aniso_21, sample 1 its
	// horizontal mirror with sinc_7_pi2_pad21.
	want, shape := o.f32(t, "filter2D.batch2")
	n := shape[1] * shape[2] * shape[3]
	mirror := raster.New(img.C, img.H, img.W)
	for c := 0; c < img.C; c++ {
		for y := 0; y < img.H; y++ {
			for x := 0; x < img.W; x++ {
				mirror.Set(c, y, x, img.At(c, y, img.W-1-x))
			}
		}
	}
	for i, tc := range []struct {
		in     *raster.Image
		kernel string
	}{{img, "kernel.gauss_aniso_21"}, {mirror, "kernel.sinc_7_pi2_pad21"}} {
		got := Filter2D(tc.in, fixtureKernel(t, o, tc.kernel))
		d := maxAbsDiff(got.Pix, want[i*n:(i+1)*n])
		t.Logf("batch2[%d]: max abs diff %.3g", i, d)
		if d > 1e-5 {
			t.Errorf("batch2[%d]: max abs diff %.3g > 1e-5", i, d)
		}
	}
}

func transpose(k Kernel) Kernel {
	out := NewKernel(k.Size)
	for i := 0; i < k.Size; i++ {
		for j := 0; j < k.Size; j++ {
			out.W[j*k.Size+i] = k.At(i, j)
		}
	}
	return out
}

// naiveFilter is the definition of Filter2D in float64 with explicit
// reflect indexing, the reference for the fast paths.
func naiveFilter(img *raster.Image, k Kernel) *raster.Image {
	out := raster.New(img.C, img.H, img.W)
	h := k.Size / 2
	for c := 0; c < img.C; c++ {
		for y := 0; y < img.H; y++ {
			for x := 0; x < img.W; x++ {
				s := 0.0
				for i := 0; i < k.Size; i++ {
					for j := 0; j < k.Size; j++ {
						sy := reflectIndex(y+i-h, img.H)
						sx := reflectIndex(x+j-h, img.W)
						s += float64(float32(k.At(i, j))) * float64(img.At(c, sy, sx))
					}
				}
				out.Set(c, y, x, float32(s))
			}
		}
	}
	return out
}

// offCentre is a 21x21 kernel with two taps right of and below the centre,
// so that its support box starts at column offset +2.
func offCentre() Kernel {
	k := NewKernel(21)
	k.W[3*21+17] = 0.25
	k.W[15*21+12] = 0.75
	return k
}

// sepOffCentre is a separable 21x21 kernel whose support lies below and
// left of the centre, so the vertical pass of the separable path reads
// reflected rows from one side only.
func sepOffCentre() Kernel {
	k := NewKernel(21)
	u := []float64{0.2, 0.5, 0.3}
	v := []float64{0.6, 0.1, 0.3}
	for i, a := range u {
		for j, b := range v {
			k.W[(15+i)*21+2+j] = a * b
		}
	}
	return k
}

func randomImage(s *rng.Stream, c, h, w int) *raster.Image {
	img := raster.New(c, h, w)
	for i := range img.Pix {
		img.Pix[i] = float32(s.Float64())
	}
	return img
}

// TestFilter2DPaths runs testFilter2DPaths on every corrRow path.
func TestFilter2DPaths(t *testing.T) { forEachPath(t, testFilter2DPaths) }

func testFilter2DPaths(t *testing.T) {
	s := rng.New(1, "filter paths")
	kernels := map[string]Kernel{
		"aniso21":       Gaussian(21, 3, 1.2, 0.6, false),
		"iso21":         Gaussian(21, 2, 2, 0, true), // separable
		"iso7pad21":     Gaussian(7, 1.1, 1.1, 0, true).Pad(21),
		"plateau9pad21": Plateau(9, 1.5, 0.8, 1.0, 1.3, false).Pad(21),
		"sinc13":        CircularLowpass(1.2, 13, 0),
		"pulse21":       Pulse(21),
		"ggauss5":       GeneralizedGaussian(5, 1, 0.7, 0.3, 0.6, false),
		"size1":         Pulse(1),
		"offcentre":     offCentre(),
		"sepoffcentre":  sepOffCentre(),
	}
	sizes := [][2]int{{1, 1}, {1, 9}, {2, 3}, {5, 17}, {23, 31}, {37, 8}}
	for name, k := range kernels {
		for _, hw := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", name, hw[0], hw[1]), func(t *testing.T) {
				img := randomImage(s, 2, hw[0], hw[1])
				want := naiveFilter(img, k)
				got := Filter2D(img, k)
				if d := maxAbsDiff(got.Pix, want.Pix); d > 2e-6 {
					t.Errorf("max abs diff %.3g > 2e-6", d)
				}
			})
		}
	}
}

func TestReflectIndex(t *testing.T) {
	tests := []struct {
		n    int
		from int
		want []int
	}{
		{1, -3, []int{0, 0, 0, 0, 0, 0, 0}},
		{2, -4, []int{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}},
		{3, -5, []int{1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2}},
		{4, -3, []int{3, 2, 1, 0, 1, 2, 3, 2, 1, 0}},
	}
	for _, tc := range tests {
		for k, want := range tc.want {
			if got := reflectIndex(tc.from+k, tc.n); got != want {
				t.Errorf("reflectIndex(%d, %d) = %d, want %d", tc.from+k, tc.n, got, want)
			}
		}
	}
}

// TestFilter2DSmallImage checks the documented behaviour when the pad is at
// least the image side (torch raises there): reflection repeats.
func TestFilter2DSmallImage(t *testing.T) {
	img := &raster.Image{C: 1, H: 1, W: 3, Pix: []float32{1, 2, 4}}
	k := NewKernel(7)
	k.W[3*7+0] = 1 // tap at column offset -3
	got := Filter2D(img, k)
	// Row 0 reflects to itself; columns x-3 for x = 0, 1, 2 are -3, -2, -1,
	// which reflect to 1, 2, 1 (period 4: ... 2 1 | 0 1 2 | 1 0 ...).
	want := []float32{2, 4, 2}
	for i := range want {
		if got.Pix[i] != want[i] {
			t.Fatalf("got %v, want %v", got.Pix, want)
		}
	}
}

func TestFilter2DPulseIsIdentity(t *testing.T) {
	img := randomImage(rng.New(2, "pulse"), 3, 19, 26)
	got := Filter2D(img, Pulse(21))
	for i := range img.Pix {
		if got.Pix[i] != img.Pix[i] {
			t.Fatalf("pixel %d: %v != %v", i, got.Pix[i], img.Pix[i])
		}
	}
}

func TestFilter2DConstantPreserved(t *testing.T) {
	img := raster.New(1, 30, 30)
	for i := range img.Pix {
		img.Pix[i] = 0.25
	}
	for _, k := range []Kernel{Gaussian(21, 4, 0.5, 1, false), CircularLowpass(0.7, 21, 0)} {
		for i, v := range Filter2D(img, k).Pix {
			if math.Abs(float64(v)-0.25) > 1e-6 {
				t.Fatalf("pixel %d = %v, want 0.25", i, v)
			}
		}
	}
}

func BenchmarkFilter2D21x21_512(b *testing.B) {
	img := randomImage(rng.New(3, "bench"), 3, 512, 512)
	k := Gaussian(21, 3, 1.2, 0.6, false)
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		Filter2D(img, k)
	}
	b.ReportMetric(float64(3*512*512*441*2)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	reportCPU(b, cpu0)
}

func BenchmarkFilter2DIso21_512(b *testing.B) {
	img := randomImage(rng.New(3, "bench"), 3, 512, 512)
	k := Gaussian(21, 3, 3, 0, true)
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		Filter2D(img, k)
	}
	reportCPU(b, cpu0)
}

// BenchmarkFilter2DStage1_512 filters with kernels drawn from Real-ESRGAN's
// first-stage distribution (sizes 7-21 padded to 21, 45% separable
// isotropic Gaussians): the cost the pipeline sees on average.
func BenchmarkFilter2DStage1_512(b *testing.B) {
	img := randomImage(rng.New(3, "bench"), 3, 512, 512)
	s := rng.New(4, "bench kernels")
	ks := make([]Kernel, 32)
	for i := range ks {
		ks[i], _, _ = stage1.Sample(s)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		Filter2D(img, ks[i%len(ks)])
	}
	reportCPU(b, cpu0)
}

// reportCPU adds the process's CPU time per operation since cpu0, which
// stays meaningful on a loaded machine.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
}

func TestSupport(t *testing.T) {
	// A 7x7 kernel padded to 21: the box is exactly the 7x7 block.
	k := Plateau(7, 1, 1, 0, 1.5, true).Pad(21)
	r0, r1, c0, c1, ok := support(k.Float32(), 21)
	if !ok || r0 != 7 || r1 != 13 || c0 != 7 || c1 != 13 {
		t.Errorf("padded 7x7: box rows %d-%d cols %d-%d", r0, r1, c0, c1)
	}
	// A narrow Gaussian: the trimmed mass stays within trimTol.
	k = Gaussian(21, 0.8, 0.5, 0.4, false)
	w := k.Float32()
	r0, r1, c0, c1, _ = support(w, 21)
	if r1-r0 >= 20 || c1-c0 >= 20 {
		t.Errorf("narrow Gaussian not trimmed: rows %d-%d cols %d-%d", r0, r1, c0, c1)
	}
	dropped, total := 0.0, 0.0
	for i := 0; i < 21; i++ {
		for j := 0; j < 21; j++ {
			a := math.Abs(float64(w[i*21+j]))
			total += a
			if i < r0 || i > r1 || j < c0 || j > c1 {
				dropped += a
			}
		}
	}
	if dropped > trimTol*total {
		t.Errorf("dropped weight %g > %g", dropped, trimTol*total)
	}
	// A wide kernel keeps its full support.
	if r0, r1, c0, c1, _ := support(CircularLowpass(0.7, 21, 0).Float32(), 21); r0 != 0 || r1 != 20 || c0 != 0 || c1 != 20 {
		t.Errorf("sinc trimmed to rows %d-%d cols %d-%d", r0, r1, c0, c1)
	}
	if _, _, _, _, ok := support(make([]float32, 9), 3); ok {
		t.Error("all-zero kernel reported a support")
	}
}

func TestFilter2DIndependentOfWorkers(t *testing.T) {
	img := randomImage(rng.New(5, "workers"), 3, 67, 45)
	for _, k := range []Kernel{Gaussian(21, 3, 1, 0.3, false), Gaussian(15, 2, 2, 0, true)} {
		prev := runtime.GOMAXPROCS(1)
		one := Filter2D(img, k)
		runtime.GOMAXPROCS(prev)
		two := Filter2D(img, k)
		if d := maxAbsDiff(one.Pix, two.Pix); d != 0 {
			t.Errorf("GOMAXPROCS 1 vs %d: results differ by %g", prev, d)
		}
	}
}

// Issue 12 case 1: NaN weights made support loop forever.
func TestSupportNaNTerminates(t *testing.T) {
	w := make([]float32, 9)
	for i := range w {
		w[i] = float32(math.NaN())
	}
	done := make(chan struct{})
	go func() {
		support(w, 3)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("support does not return on NaN weights")
	}
}

// Issue 12 case 1: a sigma whose square overflows is refused, not built
// into a NaN kernel.
func TestExtremeSigmaRefused(t *testing.T) {
	sp := Spec{KernelList: []string{TypeIso}, KernelProb: []float64{1}, BlurSigma: [2]float64{0.2, 1e160}}
	if err := sp.Validate(); err == nil || !strings.Contains(err.Error(), "sigma") {
		t.Fatalf("blur_sigma [0.2, 1e160]: %v", err)
	}
	sp.BlurSigma = [2]float64{1e-170, 1}
	if err := sp.Validate(); err == nil {
		t.Fatal("blur_sigma [1e-170, 1] accepted")
	}
	if _, err := Build(Params{Type: TypeIso, Size: 7, SigmaX: 1e-170, SigmaY: 1e-170}); err == nil {
		t.Fatal("Build made a kernel with sigma 1e-170")
	}
}
