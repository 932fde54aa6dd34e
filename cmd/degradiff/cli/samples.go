package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/imageio"
	"github.com/degradiff/degradiff/samples"
)

func newSamplesCmd() *cobra.Command {
	var out string
	var size int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "samples --out DIR",
		Short: "Render procedural HQ sample images (for trying degradiff out)",
		Long: `samples renders a few high-quality test scenes (shapes, rings, a fractal,
a landscape, bricks, text-like stripes) as PNG files, so that degradiff can be
tried without any third-party image. The scenes have the sharp edges, fine
textures and smooth gradients that degradations act on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if size < 32 || size > 8192 {
				return fmt.Errorf("--size: %d is outside 32..8192", size)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			for _, name := range samples.Names {
				m, err := samples.Render(name, size, size, seed)
				if err != nil {
					return err
				}
				p := filepath.Join(out, name+".png")
				if err := imageio.Save(p, m, imageio.SaveOptions{}); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output folder")
	cmd.Flags().IntVar(&size, "size", 512, "image width and height")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the random scenes")
	cmd.MarkFlagRequired("out")
	return cmd
}
