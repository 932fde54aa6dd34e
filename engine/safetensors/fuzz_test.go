package safetensors

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Open. It must never panic, and a file
// it accepts must be self-consistent: every tensor reads with as many
// values as its shape holds. The seed corpus (valid files of each written
// dtype and the corrupt files of TestCorruptFiles) runs with go test.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	for i, dt := range []DType{F32, F16, BF16} {
		path := filepath.Join(dir, string(dt)+".safetensors")
		err := Write(path, []Tensor{
			{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, float32(i)}, DType: dt},
			{Name: "b", Shape: []int{}, Data: []float32{-1}, DType: dt},
			{Name: "e", Shape: []int{0}, DType: dt},
		}, map[string]string{"k": "v"})
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, c := range corrupt {
		f.Add(c.file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sf, err := Open(path)
		if err != nil {
			return
		}
		defer sf.Close()
		total := 0
		for _, name := range sf.Names() {
			in, _ := sf.Info(name)
			n := numel(in.Shape)
			total += n * in.DType.Size()
			if in.Offsets[1]-in.Offsets[0] != n*in.DType.Size() {
				t.Fatalf("%s: offsets %v for %d elements of %s", name, in.Offsets, n, in.DType)
			}
			v, shape, err := sf.Float32(name)
			if in.DType == F8E4M3 || in.DType == F8E5M2 {
				if err == nil {
					t.Fatalf("%s: converted %s", name, in.DType)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: accepted by Open but unreadable: %v", name, err)
			}
			if len(v) != numel(shape) {
				t.Fatalf("%s: %d values for shape %v", name, len(v), shape)
			}
			if in.DType.integer() {
				if iv, _, err := sf.Int64(name); (err != nil) != (in.DType == U64) || (err == nil && len(iv) != n) {
					t.Fatalf("%s: Int64 gave %d values, %v", name, len(iv), err)
				}
			}
		}
		hlen := 0
		for i := 0; i < 8; i++ {
			hlen |= int(data[i]) << (8 * i)
		}
		if want := len(data) - 8 - hlen; total != want {
			t.Fatalf("tensors cover %d bytes, the data has %d", total, want)
		}
	})
}
