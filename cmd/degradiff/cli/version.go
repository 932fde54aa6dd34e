package cli

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/models/defaultmodel"
)

// versionTemplate is what "degradiff --version" prints: the program version
// and the identity of the built-in models (the SHA-256 that synth's manifests
// record), which reproductions and bug reports need.
const versionTemplate = `degradiff {{.Version}}
{{builtinModels}}
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
	cobra.AddTemplateFunc("goVersion", func() string {
		return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	})
}
