package diagnose

import (
	"fmt"
	"io"

	"github.com/degradiff/degradiff/internal/plot"
)

// Model is the outcome of the diagnostics for one model.
type Model struct {
	Name            string                 `json:"name"`
	SHA256          string                 `json:"sha256,omitempty"`
	SelfConsistency *SelfConsistencyResult `json:"self_consistency,omitempty"`
	Curve           *Curve                 `json:"realism_fidelity,omitempty"`
}

func fmtC2ST(r Realism) string {
	if r.C2ST == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", *r.C2ST, *r.C2STLow, *r.C2STHigh)
}

func fmtDB(v float64) string {
	if v >= maxPSNR {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteMarkdown writes the tables of the diagnostics of every model.
func WriteMarkdown(w io.Writer, models []Model) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	for _, m := range models {
		if sc := m.SelfConsistency; sc != nil {
			p("### Self-consistency: %s\n\n", m.Name)
			p("Half A of the %d real images refined at each strength, measured against half B (realism) and against the unrefined half A (fidelity; low-pass: Gaussian sigma as in the options). The reference row is half A unrefined against half B: a model of the real LQ distribution stays at its level.\n\n", sc.Images)
			p("| strength | KID x100 | FD | C2ST [95%% CI] | PSNR | SSIM | low-pass PSNR (min) | low-pass SSIM |\n|---|---|---|---|---|---|---|---|\n")
			r := sc.Reference
			p("| reference (real vs real) | %.2f ± %.2f | %.1f | %s | - | - | - | - |\n", 100*r.KID, 100*r.KIDStd, r.FD, fmtC2ST(r))
			for _, pt := range sc.Points {
				writePoint(p, pt)
			}
			p("\n")
			writeFeatures(p, "Self-consistency features", &sc.Reference, sc.Points)
		}
		if c := m.Curve; c != nil {
			p("### Realism–fidelity: %s\n\n", m.Name)
			p("Initial LQ images refined at each strength: realism against the real LQ images, fidelity against the initial images. Strength 0 is the initial degradation alone.\n\n")
			p("| strength | KID x100 | FD | C2ST [95%% CI] | PSNR | SSIM | low-pass PSNR (min) | low-pass SSIM |\n|---|---|---|---|---|---|---|---|\n")
			for _, pt := range c.Points {
				writePoint(p, pt)
			}
			p("\n")
			writeFeatures(p, "Realism–fidelity features", nil, c.Points)
		}
	}
	return err
}

// KeyFeatures are the degradation features the report tabulates per
// point: noise (luma, chroma), sharpness, JPEG blocking, colour detail.
var KeyFeatures = []string{"noise_luma", "noise_chroma", "laplacian_var", "blur_crete", "blockiness", "chroma_detail"}

func writeFeatures(p func(string, ...any), title string, ref *Realism, pts []Point) {
	p("%s: effect of each feature (standardised difference of the means, minus: lower than the real images).\n\n| strength |", title)
	for _, f := range KeyFeatures {
		p(" %s |", f)
	}
	p("\n|---|")
	for range KeyFeatures {
		p("---|")
	}
	p("\n")
	row := func(label string, r Realism) {
		p("| %s |", label)
		for _, f := range KeyFeatures {
			if v, ok := r.Features[f]; ok {
				p(" %+.2f |", v)
			} else {
				p(" - |")
			}
		}
		p("\n")
	}
	if ref != nil {
		row("reference (real vs real)", *ref)
	}
	for _, pt := range pts {
		row(pt.Label(), pt.Realism)
	}
	p("\n")
}

func writePoint(p func(string, ...any), pt Point) {
	r, f := pt.Realism, pt.Fidelity
	p("| %s | %.2f ± %.2f | %.1f | %s | %s | %.4f | %s (%s) | %.4f |\n", pt.Label(), 100*r.KID, 100*r.KIDStd, r.FD, fmtC2ST(r),
		fmtDB(f.PSNR), f.SSIM, fmtDB(f.LowPSNR), fmtDB(f.LowPSNRMin), f.LowSSIM)
}

// Charts draws, for the models with a realism–fidelity curve, realism (FD,
// and the classifier accuracy when measured) against low-pass fidelity: one
// line per model, one point per strength (the uniform point left out).
// Toward the lower right is closer and more faithful. Self-consistency
// charts show realism against strength with the real-vs-real level.
func Charts(models []Model) map[string]plot.Chart {
	out := map[string]plot.Chart{}
	fd := plot.Chart{Title: "Realism-fidelity: FD to real LQ (lower is closer)", XLabel: "low-pass PSNR to the initial LQ (dB)", YLabel: "FD"}
	acc := plot.Chart{Title: "Realism-fidelity: classifier accuracy (0.5: indistinguishable)", XLabel: "low-pass PSNR to the initial LQ (dB)", YLabel: "C2ST accuracy"}
	scFD := plot.Chart{Title: "Self-consistency: FD of refined real LQ to real LQ", XLabel: "strength", YLabel: "FD"}
	haveAcc, haveCurve, haveSC := false, false, false
	for _, m := range models {
		if c := m.Curve; c != nil {
			haveCurve = true
			s, a := plot.Series{Name: m.Name}, plot.Series{Name: m.Name}
			for _, pt := range c.Points[1:] {
				if pt.Uniform {
					continue
				}
				s.X, s.Y = append(s.X, pt.Fidelity.LowPSNR), append(s.Y, pt.Realism.FD)
				if pt.Realism.C2ST != nil {
					a.X, a.Y = append(a.X, pt.Fidelity.LowPSNR), append(a.Y, *pt.Realism.C2ST)
					haveAcc = true
				}
			}
			fd.Series, acc.Series = append(fd.Series, s), append(acc.Series, a)
		}
		if sc := m.SelfConsistency; sc != nil {
			haveSC = true
			s := plot.Series{Name: m.Name}
			ref := plot.Series{Name: m.Name + ": real vs real"}
			for _, pt := range sc.Points {
				if pt.Uniform {
					continue
				}
				s.X, s.Y = append(s.X, pt.Strength), append(s.Y, pt.Realism.FD)
				ref.X, ref.Y = append(ref.X, pt.Strength), append(ref.Y, sc.Reference.FD)
			}
			scFD.Series = append(scFD.Series, s, ref)
		}
	}
	if haveCurve {
		out["realism-fidelity-fd.png"] = fd
	}
	if haveAcc {
		out["realism-fidelity-c2st.png"] = acc
	}
	if haveSC {
		out["self-consistency-fd.png"] = scFD
	}
	return out
}
