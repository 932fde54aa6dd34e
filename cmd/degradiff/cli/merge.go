package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/pairset"
)

func newMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge OUT_1 ... OUT_N --out DIR",
		Short: "Join the folders of a sharded synth run",
		Long: `merge joins the output folders of "degradiff synth --shard I/N" runs into one
paired folder. It checks that every shard 0..N-1 is there exactly once, that
all were made with the same settings, that every pair each shard was to
make is complete (no pair missing) and that no pair appears twice; then it
copies (hard-links when possible) HR/, LR/, LR_init/ and the records, and
rebuilds meta_info.txt and manifest.jsonl in name order. The result is
byte-identical to an unsharded run with the same seed (plus merge.json,
which records what was merged).

--out must be a new or empty folder, or one that an earlier (possibly
interrupted) merge of the same shards wrote; it may not be a shard folder
or lie inside one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := mergeShards(args, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "merge: %d shard(s), %d pairs in %s\n", len(args), n, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "merged output folder")
	cmd.MarkFlagRequired("out")
	return cmd
}

func mergeShards(dirs []string, out string) (int, error) {
	// Merging replaces each target file: with --out equal to or inside a
	// shard it would delete the shard's own files.
	var ins [][2]string
	for _, d := range dirs {
		ins = append(ins, [2]string{"shard folder", d})
	}
	if err := checkSeparate("--out", out, ins); err != nil {
		return 0, err
	}
	return pairset.Merge(dirs, out)
}
