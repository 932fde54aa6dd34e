package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/measure"
	"github.com/degradiff/degradiff/pairset"
)

func newGapCmd() *cobra.Command {
	var asJSON, noC2ST bool
	var seed uint64
	var top int
	var out string
	cmd := &cobra.Command{
		Use:   "gap REAL_DIR SYNTH_DIR",
		Short: "Measure how far synthetic LQ images are from real ones",
		Long: `gap compares two folders of low-quality images, typically real ones and
synthetic ones (the LR/ folder of degrade or synth output), and prints:

  - KID (kernel inception-style distance with the unbiased MMD estimator
    and a cubic kernel) and the Frechet distance over a fixed, documented
    set of 53 degradation features computed on random 64x64 crops: noise
    level, sharpness and blur, JPEG blockiness, the radial frequency
    spectrum, colour statistics and BRISQUE-style MSCN statistics at two
    scales (see the measure/features package). 0 means the feature
    distributions match; lower is closer.
  - a classifier two-sample test: a small CNN learns to tell real from
    synthetic patches on half of the images and is tested on the other
    half, over repeated splits; accuracy 0.5 means indistinguishable. The
    interval is a corrected resampled-t confidence interval.
  - the features whose means differ most, with the direction.

The two sets should show similar subjects (the classifier sees high-pass
residuals, but content can still leak). --json prints the whole report.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			real, err := measure.Dir(args[0])
			if err != nil {
				return err
			}
			synth, err := measure.Dir(args[1])
			if err != nil {
				return err
			}
			opt := measure.Options{SkipC2ST: noC2ST, Seed: seed}
			rep, err := measure.Gap(real, synth, opt)
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(rep, "", "  ")
			if out != "" {
				if err := pairset.WriteFileAtomic(out, append(b, '\n')); err != nil {
					return err
				}
			}
			if asJSON {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			printGap(cmd.OutOrStdout(), args[0], args[1], rep, top)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the full report as JSON")
	cmd.Flags().StringVar(&out, "report", "", "also write the JSON report to this file")
	cmd.Flags().BoolVar(&noC2ST, "no-c2st", false, "skip the classifier test (fast)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of crops, subsets and splits (0: the defaults)")
	cmd.Flags().IntVar(&top, "top", 8, "how many of the most different features to list")
	return cmd
}

func printGap(w io.Writer, realDir, synthDir string, r measure.Report, top int) {
	fmt.Fprintf(w, "real:  %s (%d images, %d patches)\n", realDir, r.Real.Images, r.Real.Patches)
	fmt.Fprintf(w, "synth: %s (%d images, %d patches)\n", synthDir, r.Synth.Images, r.Synth.Patches)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped (%s) %s: %s\n", s.Set, s.Name, s.Reason)
	}
	fmt.Fprintf(w, "KID  %.4f ± %.4f  (lower is closer; %d subsets of %d)\n", r.KID.Mean, r.KID.Std, r.KID.Subsets, r.KID.SubsetSize)
	fmt.Fprintf(w, "FD   %.4f\n", r.FD)
	if c := r.C2ST; c != nil {
		fmt.Fprintf(w, "C2ST accuracy %.3f  [%.3f, %.3f] at %.0f%%, p = %.3g  (0.5 = indistinguishable; %d images per set, %d splits)\n",
			c.Accuracy, c.CILow, c.CIHigh, 100*c.Confidence, c.PValue, c.ImagesPerSet, len(c.SplitAccuracies))
	}
	fs := append([]measure.FeatureGap(nil), r.Features...)
	sort.Slice(fs, func(i, j int) bool { return math.Abs(fs[i].Effect) > math.Abs(fs[j].Effect) })
	if top > len(fs) {
		top = len(fs)
	}
	if top > 0 {
		fmt.Fprintf(w, "most different features (effect = (synth - real) / pooled sd):\n")
		for _, f := range fs[:top] {
			fmt.Fprintf(w, "  %-28s %+7.2f  real %.4g  synth %.4g\n", f.Name, f.Effect, f.RealMean, f.SynthMean)
		}
	}
}
