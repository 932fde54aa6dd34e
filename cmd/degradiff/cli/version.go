package cli

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/engine/gemm"
	"github.com/degradiff/degradiff/internal/kernel"
	"github.com/degradiff/degradiff/models/defaultmodel"
)

// versionTemplate is what "degradiff --version" prints: the program version
// and the identity of the built-in models (the SHA-256 that synth's manifests
// record), and the kernels this CPU gets, which reproductions, bug reports
// and the choice of --precision need.
const versionTemplate = `degradiff {{.Version}}
{{builtinModels}}
{{kernels}}
{{goVersion}}
`

func init() {
	cobra.AddTemplateFunc("builtinModels", func() string {
		var lines []string
		for _, m := range defaultmodel.All {
			lines = append(lines, fmt.Sprintf("built-in model %s (--model %s): sha256 %s", m.Name, m.Spec, m.SHA256()))
		}
		return strings.Join(lines, "\n")
	})
	cobra.AddTemplateFunc("kernels", func() string {
		bf16 := "in Go, slower than fp32 here"
		switch gemm.BF16Kernel() {
		case "amx":
			bf16 = "AMX tiles"
		case "avx512bf16":
			bf16 = "AVX512_BF16"
		}
		return fmt.Sprintf("kernels: %s; bf16 products (--precision bf16): %s", kernel.Chosen(), bf16)
	})
	cobra.AddTemplateFunc("goVersion", func() string {
		return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	})
}
