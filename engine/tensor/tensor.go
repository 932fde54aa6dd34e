// Package tensor defines the dense float32 tensor that the engine computes on.
//
// A Tensor is contiguous and row-major; images and feature maps are NCHW.
// Shape mismatches are programming errors: functions that check shapes panic
// with a *ShapeError that names the operation and the shapes involved.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a contiguous row-major float32 array with a shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) with the given shape. It panics if the
// lengths disagree.
func FromData(data []float32, shape ...int) *Tensor {
	if len(data) != Numel(shape) {
		panic(&ShapeError{Op: "tensor.FromData", Msg: fmt.Sprintf("%d values for shape", len(data)), Shapes: [][]int{shape}})
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Full returns a tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Numel returns the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Numel returns the number of elements of t.
func (t *Tensor) Numel() int { return len(t.Data) }

// Dims returns the number of dimensions of t.
func (t *Tensor) Dims() int { return len(t.Shape) }

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape of the same size.
// One dimension may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer := -1
	known := 1
	for i, d := range shape {
		if d == -1 {
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 && known > 0 {
		shape[infer] = len(t.Data) / known
	}
	if Numel(shape) != len(t.Data) {
		panic(&ShapeError{Op: "Reshape", Shapes: [][]int{t.Shape, shape}})
	}
	return &Tensor{Shape: shape, Data: t.Data}
}

// Zero sets every element of t to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// CopyFrom copies src's values into t; the shapes must have the same size.
func (t *Tensor) CopyFrom(src *Tensor) {
	if len(src.Data) != len(t.Data) {
		panic(&ShapeError{Op: "CopyFrom", Shapes: [][]int{t.Shape, src.Shape}})
	}
	copy(t.Data, src.Data)
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String formats the shape and a few values, for debugging.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.Shape)
	for i, v := range t.Data {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.4g", v)
	}
	b.WriteByte(']')
	return b.String()
}

// MaxAbsDiff returns max |a-b| over all elements; the shapes must match.
func MaxAbsDiff(a, b *Tensor) float64 {
	if !SameShape(a.Shape, b.Shape) {
		panic(&ShapeError{Op: "MaxAbsDiff", Shapes: [][]int{a.Shape, b.Shape}})
	}
	m := 0.0
	for i := range a.Data {
		d := math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

// ShapeError reports operands whose shapes do not fit an operation.
type ShapeError struct {
	Op     string  // the operation, e.g. "Conv2d"
	Msg    string  // what is wrong, optional
	Shapes [][]int // the shapes involved
}

// Error formats the problem for people.
func (e *ShapeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: shape mismatch", e.Op)
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	for i, s := range e.Shapes {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(" vs ")
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}

// Check panics with a *ShapeError for op when ok is false. A passing check
// allocates nothing: the error holds copies of the shapes, so the arguments
// stay on the caller's stack.
func Check(ok bool, op, msg string, shapes ...[]int) {
	if !ok {
		Fail(op, msg, shapes...)
	}
}

// Fail panics with a *ShapeError for op, holding copies of the shapes. It is
// Check for a message that is formatted, in the failing branch only:
//
//	if c%groups != 0 {
//		tensor.Fail("GroupNorm", fmt.Sprintf("%d channels in %d groups", c, groups), shape)
//	}
func Fail(op, msg string, shapes ...[]int) {
	cp := make([][]int, len(shapes))
	for i, s := range shapes {
		cp[i] = append([]int(nil), s...)
	}
	panic(&ShapeError{Op: op, Msg: msg, Shapes: cp})
}
