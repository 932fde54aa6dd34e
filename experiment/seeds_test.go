package experiment

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/degradiff/degradiff/internal/atomicfile"
	"github.com/degradiff/degradiff/pairset/pairread"

	"github.com/degradiff/degradiff/measure/c2st"
)

func TestWelchCI(t *testing.T) {
	a, b := []float64{1, 2, 3}, []float64{2, 4, 6}
	d, ci, ok := WelchCI(a, b)
	// Means 2 and 4, variances 1 and 4: standard error sqrt(1/3 + 4/3),
	// Welch–Satterthwaite degrees of freedom (5/3)² / ((1/3)²/2 + (4/3)²/2) = 50/17.
	h := c2st.StudentQuantile(0.975, 50.0/17) * math.Sqrt(5.0/3)
	if d != -2 || math.Abs(ci[0]-(-2-h)) > 1e-12 || math.Abs(ci[1]-(-2+h)) > 1e-12 || !ok {
		t.Errorf("WelchCI = %v %v %v, want -2 ± %v", d, ci, ok, h)
	}
	if _, _, ok := WelchCI([]float64{5, 5}, []float64{4, 4}); ok {
		t.Error("WelchCI of seeds without spread must not give an interval")
	}
	if m, s := MeanStd([]float64{1, 2, 3, 4}); m != 2.5 || math.Abs(s-math.Sqrt(5.0/3)) > 1e-12 {
		t.Errorf("MeanStd = %v, %v", m, s)
	}
	if m, s := MeanStd([]float64{7}); m != 7 || s != 0 {
		t.Errorf("MeanStd of one value = %v, %v", m, s)
	}
}

// testResult makes a test result with the given per-image PSNRs (SSIM a
// hundredth of them) for the pairs a, b, c, ...
func testResult(psnr ...float64) TestResult {
	var t TestResult
	for i, p := range psnr {
		t.Images = append(t.Images, Score{Name: string(rune('a' + i)), PSNR: p, SSIM: p / 100})
		t.PSNR += p / float64(len(psnr))
		t.SSIM += p / 100 / float64(len(psnr))
	}
	return t
}

func TestAggregate(t *testing.T) {
	one := aggregate("s", []TestResult{testResult(20, 22)}, []uint64{0})
	if one.PSNR != 21 || one.Seeds != nil || len(one.Images) != 2 {
		t.Fatalf("one seed: %+v", one)
	}
	row := aggregate("s", []TestResult{testResult(20, 22), testResult(21, 25), testResult(22, 22)}, []uint64{0, 1, 2})
	// Seed means 21, 23, 22.
	if math.Abs(row.PSNR-22) > 1e-12 || math.Abs(row.PSNRStd-1) > 1e-12 || len(row.Seeds) != 3 || row.Seeds[2].Seed != 2 {
		t.Errorf("PSNR %v ± %v, seeds %+v; want 22 ± 1", row.PSNR, row.PSNRStd, row.Seeds)
	}
	if row.Images[0].Name != "a" || math.Abs(row.Images[0].PSNR-21) > 1e-12 || math.Abs(row.Images[1].PSNR-23) > 1e-12 {
		t.Errorf("per-image means %+v, want a: 21, b: 23", row.Images)
	}
}

// TestReadScores checks that a seed's result on other pairs than the
// selected ones is refused, naming its file.
func TestReadScores(t *testing.T) {
	dir := t.TempDir()
	r := &runner{cfg: Config{SRSeeds: 2}}
	set := &pairread.Set{Pairs: []pairread.Pair{{Name: "a"}, {Name: "b"}}}
	file := func(run srRun) string { return filepath.Join(dir, run.key()+".json") }
	write := func(run srRun, tr TestResult) {
		if err := atomicfile.WriteJSON(file(run), tr); err != nil {
			t.Fatal(err)
		}
	}
	write(srRun{"s", 0}, testResult(20, 22))
	write(srRun{"s", 1}, testResult(21, 23))
	if row, err := r.readScores("s", set, "test", file); err != nil || row.PSNR != 21.5 {
		t.Fatalf("readScores: %+v, %v", row, err)
	}
	other := testResult(20, 22)
	other.Images[1].Name = "z"
	for _, bad := range []TestResult{other, testResult(20, 22, 24)} {
		write(srRun{"s", 1}, bad)
		_, err := r.readScores("s", set, "validation", file)
		if err == nil || !strings.Contains(err.Error(), "s.seed1.json") || !strings.Contains(err.Error(), "validation pairs") {
			t.Errorf("mismatched pairs: error %v, want one naming s.seed1.json", err)
		}
	}
}

func TestCompareRows(t *testing.T) {
	row := func(source string, seeds ...TestResult) Row {
		return aggregate(source, seeds, []uint64{0, 1, 2}[:len(seeds)])
	}
	// Real after the source, so that the source's share must wait for
	// Real's comparison.
	res := &Results{Rows: []Row{
		row(Official, testResult(20, 22, 24), testResult(21, 22, 24), testResult(20, 23, 24)),
		row("flat", testResult(22, 24, 26), testResult(22, 24, 26), testResult(22, 24, 26)),
		row(Real, testResult(24, 26, 28), testResult(25, 27, 29), testResult(24, 27, 28)),
		row(Upscale, testResult(19, 21, 23)),
	}}
	res.compareRows()
	flat, real, up := res.Rows[1], res.Rows[2], res.Rows[3]
	if c := real.VsOfficial; c == nil || c.SeedCI == nil || !c.Significant || c.Better != 3 {
		t.Fatalf("real against official: %+v", c)
	}
	if up.VsOfficial != nil || up.GapClosed != nil || real.GapClosed != nil {
		t.Errorf("upscale and real rows get no share: %+v %+v", up, real)
	}
	// flat is 2 dB above official, whose mean is 22.22; real 26.78.
	want := (flat.PSNR - res.Rows[0].PSNR) / (real.PSNR - res.Rows[0].PSNR)
	if flat.GapClosed == nil || math.Abs(*flat.GapClosed-want) > 1e-12 {
		t.Errorf("gap closed %v, want %v", flat.GapClosed, want)
	}
	// Seeds that agree exactly give no interval over seeds: the paired
	// interval over images decides.
	res = &Results{Rows: []Row{
		row(Official, testResult(20, 22, 24), testResult(20, 22, 24)),
		row("same", testResult(20.1, 21.9, 24), testResult(20.1, 21.9, 24)),
	}}
	res.compareRows()
	if c := res.Rows[1].VsOfficial; c == nil || c.SeedCI != nil || c.Significant {
		t.Errorf("seeds without spread: %+v, want no seed interval and not significant", c)
	}
	// A Real row no better than Official gives no share.
	res = &Results{Rows: []Row{
		row(Official, testResult(20, 22, 24), testResult(21, 22, 24), testResult(20, 23, 24)),
		row(Real, testResult(20, 22, 24), testResult(21, 22, 23), testResult(20, 22, 24)),
		row("flat", testResult(22, 24, 26), testResult(22, 24, 26), testResult(22, 24, 26)),
	}}
	res.compareRows()
	if g := res.Rows[2].GapClosed; g != nil {
		t.Errorf("gap share %v against a Real row inside the noise", *g)
	}
}

func TestSeenLR(t *testing.T) {
	dir := t.TempDir()
	set := &pairread.Set{Pairs: []pairread.Pair{{LRPath: filepath.Join(dir, "LR", "a.png")}, {LRPath: filepath.Join(dir, "LR", "b.png")}}}
	real := &lqSet{files: []string{filepath.Join(dir, "LR", "b.png"), filepath.Join(dir, "other", "a.png")}}
	if n := seenLR(set, real); n != 1 {
		t.Errorf("seenLR = %d, want 1 (b.png only: a.png of another folder is another image)", n)
	}
}
