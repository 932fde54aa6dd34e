package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/degradiff/degradiff/models/defaultmodel"
)

// versionTemplate is what "degradiff --version" prints: the program version
// and the identity of the built-in model (the SHA-256 that synth's manifests
// record), which reproductions and bug reports need.
const versionTemplate = `degradiff {{.Version}}
built-in model: {{builtinModel}}
{{goVersion}}
`

func init() {
	cobra.AddTemplateFunc("builtinModel", func() string {
		w := defaultmodel.Files()["diffusion_pytorch_model.safetensors"]
		sum := sha256.Sum256(w)
		return defaultmodel.Name + ", sha256 " + hex.EncodeToString(sum[:])
	})
	cobra.AddTemplateFunc("goVersion", func() string {
		return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	})
}
