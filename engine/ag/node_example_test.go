package ag_test

import (
	"fmt"

	"github.com/degradiff/degradiff/engine/ag"
	"github.com/degradiff/degradiff/engine/tensor"
)

// cubeNode is the tape node of cube.
type cubeNode struct{ x, y *ag.Var }

// Backward adds 3x²·dy into x's gradient.
func (n *cubeNode) Backward(g *ag.Graph) {
	if gx := g.GradOf(n.x); gx != nil {
		for i, v := range n.x.Value.Data {
			gx.Data[i] += 3 * v * v * n.y.Grad.Data[i]
		}
	}
}

// cube returns x³ elementwise: an operation defined outside package ag,
// which allocates nothing once the graph's pool and arenas are filled.
func cube(g *ag.Graph, x *ag.Var) *ag.Var {
	out := g.AllocUninit(x.Value.Shape...)
	for i, v := range x.Value.Data {
		out.Data[i] = v * v * v
	}
	y := g.Result(out, x)
	if y.RequiresGrad() {
		n := ag.New[cubeNode](g)
		*n = cubeNode{x: x, y: y}
		g.RecordNode(y, n)
	}
	return y
}

func ExampleGraph_RecordNode() {
	g := ag.NewGraph(true)
	x := ag.Param("x", tensor.FromData([]float32{1, 2}, 2))
	g.Backward(cube(g, x))
	fmt.Println(x.Grad.Data)
	// Output: [3 12]
}
