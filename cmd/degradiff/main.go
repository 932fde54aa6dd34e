// Command degradiff makes realistic HQ/LQ training pairs for image
// restoration: exact published degradation pipelines, a DDPM trained on real
// low-quality images that pulls synthetic LQ images towards real ones, and
// measurement of how close they get. Run "degradiff --help" for the commands.
package main

import (
	"os"

	"github.com/degradiff/degradiff/cmd/degradiff/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
