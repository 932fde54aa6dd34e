package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/degrade"
	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/pairset"
)

func newReplayCmd() *cobra.Command {
	var pairs, lr, out string
	cmd := &cobra.Command{
		Use:   "replay --pairs DIR --lr LR/NAME_kk.png --out FILE",
		Short: "Rebuild one LR image of a degrade run from its manifest line",
		Long: `replay audits a pair: it reads the manifest line of --lr in the paired folder
--pairs (made by degrade), applies exactly the recorded degradation
parameters and noise stream to the folder's HR image, and writes the result.
It equals the stored LR image bit for bit. For a synth folder it rebuilds
the initial degradation (LR_init) of the pair.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(filepath.Join(pairs, "run.json"))
			if err != nil {
				return fmt.Errorf("--pairs: %w", err)
			}
			var run struct {
				Config json.RawMessage `json:"config"`
			}
			if err := json.Unmarshal(b, &run); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(pairs, "run.json"), err)
			}
			// degrade stores the degradation config itself; synth nests it.
			var nested struct {
				Degradation *degrade.Config `json:"degradation"`
			}
			var cfg degrade.Config
			if json.Unmarshal(run.Config, &nested) == nil && nested.Degradation != nil {
				cfg = *nested.Degradation
			} else if err := json.Unmarshal(run.Config, &cfg); err != nil {
				return fmt.Errorf("%s: config: %w", filepath.Join(pairs, "run.json"), err)
			}
			pipe, err := degrade.New(cfg)
			if err != nil {
				return err
			}
			lines, err := pairset.ReadManifest(pairs)
			if err != nil {
				return err
			}
			want := filepath.ToSlash(lr)
			for _, line := range lines {
				var head struct {
					HR string `json:"hr"`
					LR string `json:"lr"`
				}
				json.Unmarshal(line, &head)
				if head.LR != want {
					continue
				}
				rec, err := degrade.ParseRecord(line)
				if err != nil {
					return err
				}
				hr, _, err := imageio.Load(filepath.Join(pairs, filepath.FromSlash(head.HR)), imageio.Options{})
				if err != nil {
					return err
				}
				m, err := degrade.Replay(pipe, hr, rec)
				if err != nil {
					return err
				}
				return imageio.Save(out, m, imageio.SaveOptions{})
			}
			return fmt.Errorf("--lr %s: no such pair in %s", lr, filepath.Join(pairs, pairset.Manifest))
		},
	}
	cmd.Flags().StringVar(&pairs, "pairs", "", "paired folder made by degrade or synth")
	cmd.Flags().StringVar(&lr, "lr", "", "the LR file to rebuild, relative to the folder (e.g. LR/img_00.png)")
	cmd.Flags().StringVar(&out, "out", "", "output image file")
	cmd.MarkFlagRequired("pairs")
	cmd.MarkFlagRequired("lr")
	cmd.MarkFlagRequired("out")
	return cmd
}
