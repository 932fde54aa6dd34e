package cli

import (
	"encoding/json"
	"fmt"
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
			raw, err := pairset.ReadRunConfig(pairs)
			if err != nil {
				return fmt.Errorf("--pairs: %w", err)
			}
			// degrade stores the degradation config itself; synth nests it.
			var nested struct {
				Degradation *degrade.Config `json:"degradation"`
			}
			var cfg degrade.Config
			if json.Unmarshal(raw, &nested) == nil && nested.Degradation != nil {
				cfg = *nested.Degradation
			} else if err := json.Unmarshal(raw, &cfg); err != nil {
				return fmt.Errorf("%s: config: %w", filepath.Join(pairs, pairset.RunFile), err)
			}
			pipe, err := degrade.New(cfg)
			if err != nil {
				return err
			}
			line, hrFile, err := pairset.FindRecord(pairs, lr)
			if err != nil {
				return fmt.Errorf("--lr %w", err)
			}
			rec, err := degrade.ParseRecord(line)
			if err != nil {
				return err
			}
			hr, _, err := imageio.Load(hrFile, imageio.Options{})
			if err != nil {
				return err
			}
			m, err := degrade.Replay(pipe, hr, rec)
			if err != nil {
				return err
			}
			return imageio.Save(out, m, imageio.SaveOptions{})
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
