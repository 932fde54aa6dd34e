package nn_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/degradiff/degradiff/engine/nn"
	"github.com/degradiff/degradiff/engine/safetensors"
	"github.com/degradiff/degradiff/rng"
)

// Save a layer in half precision and load it into a model that uses newer
// key names.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "nn-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "attn.safetensors")

	r := rng.New(1, "init")
	old := nn.NewLinear("attn.query", 4, 4, true, r)
	if err := nn.Save(path, old.Params(), safetensors.F16, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}

	cur := nn.NewLinear("attn.to_q", 4, 4, true, rng.New(2, "init"))
	rename := strings.NewReplacer(".query.", ".to_q.").Replace
	if err := nn.Load(path, cur.Params(), rename); err != nil {
		panic(err)
	}
	fmt.Println(nn.Count(cur.Params()), "parameters loaded into", cur.Weight.Name)
	diff := cur.Weight.Value.Data[0] - old.Weight.Value.Data[0]
	fmt.Println("F16 rounding within 2^-11:", diff*diff <= 1.0/(1<<22)*old.Weight.Value.Data[0]*old.Weight.Value.Data[0])
	// Output:
	// 20 parameters loaded into attn.to_q.weight
	// F16 rounding within 2^-11: true
}
