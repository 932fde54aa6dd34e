package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/degrade"
)

func newPresetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "presets",
		Short: "List or print the shipped degradation presets",
		Long: `Degradation presets are YAML files shipped inside the binary. Print one,
copy it, change any key and pass it to degrade or synth with --config: a
config file overrides only the keys it sets (it may name its base with
"preset: NAME").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range degrade.Presets() {
				b, _ := degrade.PresetYAML(name)
				fmt.Fprintf(cmd.OutOrStdout(), "%-11s %s\n", name, firstComment(string(b)))
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:       "show NAME",
		Short:     "Print a preset's YAML",
		Args:      cobra.ExactArgs(1),
		ValidArgs: degrade.Presets(),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := degrade.PresetYAML(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// firstComment returns the first line of a preset's header comment.
func firstComment(text string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "# ") {
			return strings.TrimPrefix(line, "# ")
		}
	}
	return ""
}
