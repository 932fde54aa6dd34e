package cli

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/gemm"
)

// precisionFlag is the --precision flag of the commands that run a network.
type precisionFlag struct {
	name      string
	precision gemm.Precision // set by parse
}

func (f *precisionFlag) register(fl interface {
	StringVar(*string, string, string, string)
}) {
	fl.StringVar(&f.name, "precision", "fp32", "arithmetic of the network's products: fp32, or bf16 (bfloat16 factors, float32 sums: faster where the CPU has AMX-BF16 tiles or AMD's AVX512_BF16, slower elsewhere; degradiff --version names the kernels; README \"Precision\")")
}

func (f *precisionFlag) parse() error {
	p, err := gemm.ParsePrecision(f.name)
	if err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	f.precision = p
	return nil
}

// usePrecision switches the engine to the parsed precision until the
// returned function restores the previous one.
func (f *precisionFlag) usePrecision() (restore func()) { return gemm.SetPrecision(f.precision) }
