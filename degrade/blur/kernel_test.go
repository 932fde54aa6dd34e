package blur

import (
	"math"
	"sort"
	"strings"
	"testing"
)

// relErr is |got-want| / |want|, with an absolute floor for values that are
// subnormal or exactly zero in the reference.
func relErr(got, want float64) float64 {
	d := math.Abs(got - want)
	if d <= 1e-300 {
		return 0
	}
	return d / math.Abs(want)
}

func TestKernelsMatchBasicSR(t *testing.T) {
	o := loadOps(t)
	var names []string
	for n := range o.entries {
		if strings.HasPrefix(n, "kernel.") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) != 17 {
		t.Fatalf("found %d kernel fixtures, want 17", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, shape := o.f64(t, name)
			p := func(key string) float64 { return o.param(t, name, key) }
			var got Kernel
			switch {
			case strings.HasPrefix(name, "kernel.gauss_"):
				got = Gaussian(int(p("kernel_size")), p("sig_x"), p("sig_y"), p("theta"), p("isotropic") == 1)
			case strings.HasPrefix(name, "kernel.ggauss_"):
				got = GeneralizedGaussian(int(p("kernel_size")), p("sig_x"), p("sig_y"), p("theta"), p("beta"), p("isotropic") == 1)
			case strings.HasPrefix(name, "kernel.plateau_"):
				got = Plateau(int(p("kernel_size")), p("sig_x"), p("sig_y"), p("theta"), p("beta"), p("isotropic") == 1)
			case strings.HasPrefix(name, "kernel.sinc_"):
				got = CircularLowpass(p("cutoff"), int(p("kernel_size")), int(p("pad_to")))
			default:
				t.Fatalf("unknown kernel fixture %s", name)
			}
			if got.Size != shape[0] || got.Size != shape[1] {
				t.Fatalf("size %d, want %v", got.Size, shape)
			}
			worst := 0.0
			for i := range want {
				worst = math.Max(worst, relErr(got.W[i], want[i]))
			}
			t.Logf("max relative error %.3g", worst)
			if worst > 1e-12 {
				t.Errorf("max relative error %.3g > 1e-12", worst)
			}
		})
	}
}

func TestSigmaMatrixAndMeshGrid(t *testing.T) {
	o := loadOps(t)
	for _, name := range []string{"sigma_matrix2.3.0_1.2_0.6", "sigma_matrix2.2.8_1.4_2.2", "sigma_matrix2.0.8_0.5_-1.2"} {
		want, _ := o.f64(t, name)
		m := sigmaMatrix2(o.param(t, name, "sig_x"), o.param(t, name, "sig_y"), o.param(t, name, "theta"))
		got := []float64{m[0][0], m[0][1], m[1][0], m[1][1]}
		for i := range got {
			if e := relErr(got[i], want[i]); e > 1e-14 {
				t.Errorf("%s[%d] = %.17g, want %.17g (rel %.3g)", name, i, got[i], want[i], e)
			}
		}
	}
	want, shape := o.f64(t, "mesh_grid.7.xy")
	if shape[0] != 7 || shape[1] != 7 || shape[2] != 2 {
		t.Fatalf("mesh_grid shape %v", shape)
	}
	for i := 0; i < 7; i++ {
		for j := 0; j < 7; j++ {
			x, y := want[(i*7+j)*2], want[(i*7+j)*2+1]
			if x != meshOffset(j, 7) || y != meshOffset(i, 7) {
				t.Errorf("mesh_grid[%d][%d] = (%g,%g), want (%g,%g)", i, j, meshOffset(j, 7), meshOffset(i, 7), x, y)
			}
		}
	}
}

// TestLowPass checks the low-pass's support (about 3 sigma each side, odd)
// and that it keeps the mean.
func TestLowPass(t *testing.T) {
	for _, c := range []struct {
		sigma float64
		size  int
	}{{1.5, 11}, {1, 7}, {0.5, 5}} {
		k := LowPass(c.sigma)
		var sum float64
		for _, v := range k.W {
			sum += v
		}
		if k.Size != c.size || math.Abs(sum-1) > 1e-5 || k.W[c.size*c.size/2] <= k.W[0] {
			t.Errorf("LowPass(%g): size %d (want %d), sum %v", c.sigma, k.Size, c.size, sum)
		}
	}
}
