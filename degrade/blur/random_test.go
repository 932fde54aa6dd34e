package blur

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/rng"
)

// stage1 is the first-stage blur configuration of Real-ESRGAN's
// train_realesrnet_x4plus.yml, used here as a realistic test input.
var stage1 = Spec{
	KernelList: []string{"iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"},
	KernelProb: []float64{0.45, 0.25, 0.12, 0.03, 0.12, 0.03},
	BlurSigma:  [2]float64{0.2, 3},
	BetagRange: [2]float64{0.5, 4},
	BetapRange: [2]float64{1, 2},
	SincProb:   0.1,
}

func sameKernel(a, b Kernel) bool { return a.Size == b.Size && slices.Equal(a.W, b.W) }

// rebuild sends p through JSON, as a manifest would, and builds it.
func rebuild(t *testing.T, p Params) Kernel {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Params
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	k, err := Build(q)
	if err != nil {
		t.Fatalf("Build(%s): %v", b, err)
	}
	return k
}

func TestSpecSampleRebuildsFromParams(t *testing.T) {
	s := rng.New(7, "spec")
	fs := FinalSinc{Prob: 0.8}
	for i := 0; i < 300; i++ {
		k, p, err := stage1.Sample(s)
		if err != nil {
			t.Fatal(err)
		}
		if k.Size != 21 || p.PadTo != 21 {
			t.Fatalf("draw %d: size %d pad_to %d, want 21", i, k.Size, p.PadTo)
		}
		if math.Abs(k.Sum()-1) > 1e-12 {
			t.Fatalf("draw %d (%+v): sum %v", i, p, k.Sum())
		}
		if !sameKernel(rebuild(t, p), k) {
			t.Fatalf("draw %d: kernel rebuilt from %+v differs", i, p)
		}
		k, p, err = fs.Sample(s)
		if err != nil {
			t.Fatal(err)
		}
		if k.Size != 21 || !sameKernel(rebuild(t, p), k) {
			t.Fatalf("final sinc draw %d: %+v does not rebuild", i, p)
		}
		k, p, err = SampleBSRGAN(s, 4)
		if err != nil {
			t.Fatal(err)
		}
		if !sameKernel(rebuild(t, p), k) {
			t.Fatalf("BSRGAN draw %d: %+v does not rebuild", i, p)
		}
	}
}

func TestSpecSampleDistribution(t *testing.T) {
	const n = 20000
	s := rng.New(11, "distribution")
	count := map[string]int{}
	sizes := map[int]int{}
	betaBelow1 := map[string]int{}
	for i := 0; i < n; i++ {
		_, p, err := stage1.Sample(s)
		if err != nil {
			t.Fatal(err)
		}
		count[p.Type]++
		sizes[p.Size]++
		switch p.Type {
		case TypeSinc:
			lo := math.Pi / 3
			if p.Size >= 13 {
				lo = math.Pi / 5
			}
			if p.OmegaC < lo || p.OmegaC >= math.Pi {
				t.Fatalf("sinc size %d omega_c %v outside [%v, π)", p.Size, p.OmegaC, lo)
			}
		case TypeIso, TypeGeneralizedIso, TypePlateauIso:
			if p.SigmaY != p.SigmaX || p.Theta != 0 {
				t.Fatalf("%s: sigma_y %v theta %v, want sigma_x and 0", p.Type, p.SigmaY, p.Theta)
			}
		default:
			if p.Theta < -math.Pi || p.Theta >= math.Pi || p.SigmaY < 0.2 || p.SigmaY >= 3 {
				t.Fatalf("%s: %+v outside ranges", p.Type, p)
			}
		}
		if p.Type != TypeSinc && (p.SigmaX < 0.2 || p.SigmaX >= 3) {
			t.Fatalf("sigma_x %v outside [0.2, 3)", p.SigmaX)
		}
		if strings.HasPrefix(p.Type, "generalized") {
			if p.Beta < 0.5 || p.Beta >= 4 {
				t.Fatalf("betag %v outside [0.5, 4)", p.Beta)
			}
			if p.Beta < 1 {
				betaBelow1["g"]++
			}
			betaBelow1["gn"]++
		}
		if strings.HasPrefix(p.Type, "plateau") {
			// betap_range [1, 2]: the "below 1" branch gives exactly 1.
			if p.Beta < 1 || p.Beta >= 2 {
				t.Fatalf("betap %v outside [1, 2)", p.Beta)
			}
			if p.Beta == 1 {
				betaBelow1["p"]++
			}
			betaBelow1["pn"]++
		}
	}
	// Expected frequencies: sinc 0.1, the rest 0.9·kernel_prob.
	want := map[string]float64{TypeSinc: 0.1}
	for i, k := range stage1.KernelList {
		want[k] = 0.9 * stage1.KernelProb[i]
	}
	for k, p := range want {
		got := float64(count[k]) / n
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(got-p) > 5*se {
			t.Errorf("%s: frequency %.4f, want %.4f ± %.4f", k, got, p, 5*se)
		}
	}
	for _, sz := range DefaultKernelRange {
		got := float64(sizes[sz]) / n
		if se := math.Sqrt(0.125 * 0.875 / n); math.Abs(got-0.125) > 5*se {
			t.Errorf("size %d: frequency %.4f, want 0.125", sz, got)
		}
	}
	for _, k := range []string{"g", "p"} {
		got := float64(betaBelow1[k]) / float64(betaBelow1[k+"n"])
		if se := math.Sqrt(0.25 / float64(betaBelow1[k+"n"])); math.Abs(got-0.5) > 5*se {
			t.Errorf("beta branch %s: fraction below 1 = %.3f, want 0.5", k, got)
		}
	}
}

func TestSampleDeterministic(t *testing.T) {
	draw := func() []Params {
		s := rng.New(5, "img.png", "degrade")
		var out []Params
		for i := 0; i < 50; i++ {
			_, p, _ := stage1.Sample(s)
			out = append(out, p)
		}
		return out
	}
	if a, b := draw(), draw(); !slices.Equal(a, b) {
		t.Fatal("same stream gave different draws")
	}
}

func TestFinalSincProbabilities(t *testing.T) {
	s := rng.New(3, "final")
	for _, tc := range []struct {
		prob float64
		want string
	}{{0, TypePulse}, {1, TypeSinc}} {
		for i := 0; i < 200; i++ {
			k, p, err := FinalSinc{Prob: tc.prob}.Sample(s)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != tc.want || k.Size != 21 {
				t.Fatalf("prob %v: got %+v", tc.prob, p)
			}
			if p.Type == TypeSinc && (p.OmegaC < math.Pi/3 || p.OmegaC >= math.Pi) {
				t.Fatalf("omega_c %v outside [π/3, π)", p.OmegaC)
			}
			if p.Type == TypePulse && !sameKernel(k, Pulse(21)) {
				t.Fatal("pulse kernel wrong")
			}
		}
	}
}

// TestFinalSincNarrowed draws the final sinc from narrowed sizes and
// cutoffs, and checks that the narrowing leaves the draws of the other
// settings alone: the same stream state, the same number of draws.
func TestFinalSincNarrowed(t *testing.T) {
	narrow := FinalSinc{Prob: 1, KernelRange: []int{7, 9}, Omega: []float64{2, 2.2}}
	for i := 0; i < 200; i++ {
		s1, s2 := rng.New(uint64(i), "final"), rng.New(uint64(i), "final")
		_, p, err := narrow.Sample(s1)
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != TypeSinc || (p.Size != 7 && p.Size != 9) || p.OmegaC < 2 || p.OmegaC >= 2.2 || p.PadTo != 21 {
			t.Fatalf("draw %d: %+v outside sizes 7, 9 and omega [2, 2.2)", i, p)
		}
		if _, _, err := (FinalSinc{Prob: 1}).Sample(s2); err != nil {
			t.Fatal(err)
		}
		if a, b := s1.Uint64(), s2.Uint64(); a != b {
			t.Fatalf("draw %d: narrowing changed the number of draws", i)
		}
	}
	for _, omega := range [][]float64{{1}, {2, 1}, {0, 1}, {1, 4}, {math.NaN(), 1}} {
		if _, _, err := (FinalSinc{Prob: 1, Omega: omega}).Sample(rng.New(1)); err == nil {
			t.Errorf("omega %v accepted", omega)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	bad := []struct {
		name string
		edit func(*Spec)
	}{
		{"unknown kind", func(s *Spec) { s.KernelList[0] = "skew" }},
		{"prob count", func(s *Spec) { s.KernelProb = s.KernelProb[:2] }},
		{"zero probs", func(s *Spec) { s.KernelProb = make([]float64, 6) }},
		{"negative prob", func(s *Spec) { s.KernelProb[1] = -1 }},
		{"sigma order", func(s *Spec) { s.BlurSigma = [2]float64{3, 0.2} }},
		{"sigma zero", func(s *Spec) { s.BlurSigma = [2]float64{0, 1} }},
		{"betag", func(s *Spec) { s.BetagRange = [2]float64{0, 4} }},
		{"sinc prob", func(s *Spec) { s.SincProb = 1.5 }},
		{"even size", func(s *Spec) { s.KernelRange = []int{7, 8} }},
		{"size over pad", func(s *Spec) { s.KernelRange = []int{23} }},
		{"even pad", func(s *Spec) { s.PadTo = 22 }},
	}
	for _, tc := range bad {
		sp := stage1
		sp.KernelList = slices.Clone(stage1.KernelList)
		sp.KernelProb = slices.Clone(stage1.KernelProb)
		tc.edit(&sp)
		if err := sp.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", tc.name, sp)
		}
		if _, _, err := sp.Sample(rng.New(1)); err == nil {
			t.Errorf("%s: Sample accepted %+v", tc.name, sp)
		}
	}
	if err := stage1.Validate(); err != nil {
		t.Errorf("stage1: %v", err)
	}
}

func TestSpecJSON(t *testing.T) {
	src := `{"kernel_list": ["iso", "aniso"], "kernel_prob": [0.7, 0.3], "blur_sigma": [0.2, 1.5],
		"betag_range": [0.5, 4], "betap_range": [1, 2], "sinc_prob": 0.1, "kernel_range": [7, 9, 11]}`
	var sp Spec
	if err := json.Unmarshal([]byte(src), &sp); err != nil {
		t.Fatal(err)
	}
	if sp.BlurSigma != [2]float64{0.2, 1.5} || len(sp.KernelRange) != 3 || sp.SincProb != 0.1 {
		t.Fatalf("decoded %+v", sp)
	}
	for i := 0; i < 100; i++ {
		_, p, err := sp.Sample(rng.New(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		if p.Size > 11 || p.PadTo != 21 {
			t.Fatalf("%+v: size outside kernel_range or pad_to not 21", p)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, p := range []Params{
		{Type: "iso", Size: 8, SigmaX: 1},
		{Type: "iso", Size: 7},
		{Type: "aniso", Size: 7, SigmaX: 1},
		{Type: "generalized_iso", Size: 7, SigmaX: 1},
		{Type: "sinc", Size: 7},
		{Type: "kair_aniso", Size: 7, L1: 1},
		{Type: "blob", Size: 7},
		{Type: "iso", Size: 7, SigmaX: 1, PadTo: 20},
		{Type: "iso", Size: 7, SigmaX: math.Inf(1)},
		{Type: "aniso", Size: 7, SigmaX: 1, SigmaY: 1, Theta: math.NaN()},
	} {
		if _, err := Build(p); err == nil {
			t.Errorf("Build(%+v) succeeded", p)
		}
	}
}
