// Package cli implements the degradiff command line: one cobra command per
// file, each a thin layer over the library packages.
package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the program version, set at build time with
// -ldflags "-X github.com/degradiff/degradiff/cmd/degradiff/cli.Version=v1.2.3";
// otherwise it comes from the module build information.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	v := "devel" // a build without module version (go build in the source tree)
	if bi, ok := debug.ReadBuildInfo(); ok {
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v = mv
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
			if s.Key == "vcs.modified" && s.Value == "true" {
				v += " +modified" // built from a tree with uncommitted changes
			}
		}
	}
	return v
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// NewRoot returns the root command with every subcommand attached.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "degradiff",
		Short: "Realistic HQ/LQ training pairs for image restoration",
		Long: `degradiff makes training pairs for image restoration (super-resolution,
face restoration) whose low-quality images look like real ones.

It applies the published degradation pipelines exactly (bicubic,
Real-ESRGAN, BSRGAN, GFPGAN faces) with every sampled parameter logged, and
refines their output with a diffusion model trained on real low-quality
images (Yang et al. 2023, "Synthesizing Realistic Image Restoration Training
Pairs: A Diffusion Approach").`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(versionTemplate)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newPresetsCmd(),
		newDegradeCmd(),
		newSamplesCmd(),
		newSynthCmd(),
		newMergeCmd(),
		newReplayCmd(),
		newGapCmd(),
		newDiagnoseCmd(),
		newCalibrateCmd(),
		newBenchCmd(),
		newSRCmd(),
		newBFRCmd(),
		newTrainCmd(),
		newExportCmd(),
		newFacesCmd(),
	)
	refuseRepeats(root)
	return root
}

// refuseRepeats makes every single-valued flag of cmd and its subcommands
// refuse a second value. pflag keeps the last one silently, so `synth --hq
// A --hq B` would read B alone, while bench and calibrate take --hq again
// and again; the error says so instead. Flags that collect values
// (stringArray and the like) and switches (bool, count) are left alone.
func refuseRepeats(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch t := f.Value.Type(); {
		case t == "bool", t == "count", strings.HasSuffix(t, "Array"), strings.HasSuffix(t, "Slice"):
			return
		}
		if _, done := f.Value.(*onceValue); !done {
			f.Value = &onceValue{Value: f.Value}
		}
	})
	for _, c := range cmd.Commands() {
		refuseRepeats(c)
	}
}

// onceValue is a flag value that may be set once per command line.
type onceValue struct {
	pflag.Value
	set bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		return fmt.Errorf("given more than once: this flag takes one value (%q was already given)", v.String())
	}
	v.set = true
	return v.Value.Set(s)
}

// Main runs the command line with args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "degradiff:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}
