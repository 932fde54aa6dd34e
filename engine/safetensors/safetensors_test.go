package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// special holds values that exercise the conversions: signed zeros,
// subnormals of each format, rounding ties, the ends of the F16 range,
// infinities and NaN.
var special = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1.0 / 3, 65504, 65519, 65520, -1e5,
	5.9604645e-08, 2.9802322e-08, 3e-8, 6.1e-5, 1e-40, -1e-45,
	1 + 1.0/2048, 1 + 3.0/2048, 3.14159265, -2.7182817e10, math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
}

func sameFloat(a, b float32) bool {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
		return math.IsNaN(float64(a)) && math.IsNaN(float64(b))
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func TestRoundTrip(t *testing.T) {
	long := make([]float32, 40000) // longer than one encoding block
	for i := range long {
		long[i] = float32(math.Sin(float64(i))) * 100
	}
	tests := []struct {
		dtype DType
		conv  func(float32) float32
	}{
		{F32, func(v float32) float32 { return v }},
		{"", func(v float32) float32 { return v }},
		{F16, func(v float32) float32 { return F16ToF32(F32ToF16(v)) }},
		{BF16, func(v float32) float32 { return BF16ToF32(F32ToBF16(v)) }},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rt.safetensors")
			in := []Tensor{
				{Name: "special", Shape: []int{len(special)}, Data: special, DType: tt.dtype},
				{Name: "a.long", Shape: []int{200, 2, 100}, Data: long, DType: tt.dtype},
				{Name: "scalar", Shape: []int{}, Data: []float32{-7.25}, DType: tt.dtype},
				{Name: "empty", Shape: []int{3, 0}, Data: nil, DType: tt.dtype},
			}
			meta := map[string]string{"format": "pt", "note": "ünïcode"}
			if err := Write(path, in, meta); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := strings.Join(f.Names(), ","); got != "a.long,empty,scalar,special" {
				t.Errorf("Names = %s", got)
			}
			if m := f.Metadata(); m["note"] != "ünïcode" || m["format"] != "pt" || len(m) != 2 {
				t.Errorf("Metadata = %v", m)
			}
			want := tt.dtype
			if want == "" {
				want = F32
			}
			for _, x := range in {
				info, ok := f.Info(x.Name)
				if !ok || info.DType != want || !equalInts(info.Shape, x.Shape) {
					t.Errorf("%s: Info %+v, want dtype %s shape %v", x.Name, info, want, x.Shape)
				}
				data, shape, err := f.Float32(x.Name)
				if err != nil {
					t.Fatal(err)
				}
				if !equalInts(shape, x.Shape) || len(data) != len(x.Data) {
					t.Fatalf("%s: shape %v with %d values", x.Name, shape, len(data))
				}
				for i, v := range x.Data {
					if w := tt.conv(v); !sameFloat(data[i], w) {
						t.Errorf("%s[%d]: wrote %g, read %g, want %g", x.Name, i, v, data[i], w)
					}
				}
			}
			// Precision of the 16-bit formats on ordinary values: half a
			// unit in the last place.
			data, _, _ := f.Float32("a.long")
			tol := map[DType]float64{F32: 0, F16: 0x1p-11, BF16: 0x1p-8}[want]
			for i, v := range long {
				if math.Abs(float64(data[i]-v)) > tol*math.Abs(float64(v)) {
					t.Fatalf("a.long[%d]: %g read back as %g, beyond relative %g", i, v, data[i], tol)
				}
			}
			all, err := ReadAll(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 4 || all["scalar"].Data[0] != -7.25 || all["scalar"].Numel() != 1 || all["empty"].Numel() != 0 {
				t.Errorf("ReadAll: %v", all)
			}
		})
	}
}

func equalInts(a, b []int) bool {
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

// TestHeaderLayout checks the bytes against the format: a little-endian
// length, a JSON header padded with spaces to 8 bytes, then the data in
// name order.
func TestHeaderLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	err := Write(path, []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, -2}},
		{Name: "a", Shape: []int{1}, Data: []float32{0.5}, DType: F16},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 || int(8+n) > len(raw) {
		t.Fatalf("header length %d in a %d-byte file", n, len(raw))
	}
	hdr := raw[8 : 8+n]
	if trimmed := bytes.TrimRight(hdr, " "); !json.Valid(trimmed) || bytes.ContainsAny(hdr[len(trimmed):], "\x00\n") {
		t.Errorf("header %q is not JSON padded with spaces", hdr)
	}
	var h map[string]Info
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["__metadata__"]; ok {
		t.Errorf("empty metadata written")
	}
	if h["a"].Offsets != [2]int{0, 2} || h["b"].Offsets != [2]int{2, 10} {
		t.Errorf("offsets %v %v, want a then b", h["a"].Offsets, h["b"].Offsets)
	}
	data := raw[8+n:]
	want := []byte{0x00, 0x38, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}
	if !bytes.Equal(data, want) {
		t.Errorf("data % x, want % x", data, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm()&0o044 == 0 {
		t.Errorf("file mode %v is private", st.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"size", []Tensor{{Name: "a", Shape: []int{3}, Data: []float32{1}}}, `tensor "a": 1 values for shape [3]`},
		{"dtype", []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}, DType: I64}}, `cannot write dtype "I64"`},
		{"repeated", []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{2}}}, `"a" repeated`},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, "reserved"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name+".safetensors")
		err := Write(path, tt.ts, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %q and the path", tt.name, err, tt.want)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: a file was left at %s", tt.name, path)
		}
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir.safetensors"), nil, nil); err == nil {
		t.Errorf("writing into a missing folder succeeded")
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.safetensors"))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want ErrNotFound and fs.ErrNotExist", err)
	}
	_, err = Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Open of a folder: %v", err)
	}
}

// rawFile assembles a file from a header object and data bytes.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32Bytes(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// corrupt lists malformed files with the phrase their error must contain.
var corrupt = []struct {
	name string
	file []byte
	want string
}{
	{"empty", nil, "cannot read the 8-byte header length"},
	{"short length", []byte{1, 2, 3}, "cannot read the 8-byte header length"},
	{"truncated header", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1))[:30], "truncated header"},
	{"huge header length", append(binary.LittleEndian.AppendUint64(nil, 1<<40), "{}"...), "exceeds the"},
	{"header length past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "truncated header"},
	{"truncated data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1, 2)[:6]), "outside the 6 data bytes"},
	{"offsets beyond data", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32Bytes(1)), "outside the 4 data bytes"},
	{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32Bytes(1)), "offsets [4, 0]"},
	{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32Bytes(1)), "offsets [-4, 0]"},
	{"size not matching shape", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32Bytes(1)), "4 bytes for shape [2] of F32 (want 8)"},
	{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "too large"},
	{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2)), "overlap"},
	{"hole", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2)), "unused data bytes"},
	{"trailing data", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1, 2)), "data bytes after the last tensor"},
	{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32Bytes(1, 2)), "want [begin, end]"},
	{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32Bytes(1)), "negative dimension"},
	{"no shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32Bytes(1)), "no shape"},
	{"unknown dtype", rawFile(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), `unknown dtype "F128"`},
	{"bad JSON", rawFile(`{"a":{"dtype":"F32",`, nil), "bad JSON header"},
	{"JSON array", rawFile(`[1,2]`, nil), "bad JSON header"},
	{"JSON null", rawFile(`null`, nil), "not an object"},
	{"bad entry", rawFile(`{"a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}`, f32Bytes(1)), `tensor "a": bad header entry`},
	{"bad metadata", rawFile(`{"__metadata__":{"v":1}}`, nil), "bad __metadata__"},
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to name the file and contain %q", err, tt.want)
			}
		})
	}
}

func TestReadConversions(t *testing.T) {
	// One tensor of each integer and float type, written by hand.
	var data []byte
	le := binary.LittleEndian
	data = le.AppendUint64(data, math.Float64bits(-1.5))     // F64 [0,8)
	data = le.AppendUint64(data, uint64(0xffffffffffffff9c)) // I64 -100 [8,16)
	data = le.AppendUint32(data, uint32(0xfffffffe))         // I32 -2 [16,20)
	data = le.AppendUint32(data, 4000000001)                 // U32 [20,24)
	data = le.AppendUint16(data, 0x8000)                     // I16 -32768 [24,26)
	data = le.AppendUint16(data, 0xffff)                     // U16 [26,28)
	data = append(data, 0xff, 200, 1, 0)                     // I8 -1 [28,29), U8 200 [29,30), BOOL 1 0 [30,32)
	data = le.AppendUint16(data, 0x3c00)                     // F16 1 [32,34)
	data = le.AppendUint16(data, 0xbf80)                     // BF16 -1 [34,36)
	data = le.AppendUint64(data, 1<<40)                      // U64 [36,44)
	data = append(data, 0x38)                                // F8_E4M3 [44,45)
	hdr := `{"f64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},` +
		`"i64":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},` +
		`"i32":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},` +
		`"u32":{"dtype":"U32","shape":[1],"data_offsets":[20,24]},` +
		`"i16":{"dtype":"I16","shape":[1],"data_offsets":[24,26]},` +
		`"u16":{"dtype":"U16","shape":[1],"data_offsets":[26,28]},` +
		`"i8":{"dtype":"I8","shape":[1],"data_offsets":[28,29]},` +
		`"u8":{"dtype":"U8","shape":[1],"data_offsets":[29,30]},` +
		`"bool":{"dtype":"BOOL","shape":[2],"data_offsets":[30,32]},` +
		`"f16":{"dtype":"F16","shape":[1],"data_offsets":[32,34]},` +
		`"bf16":{"dtype":"BF16","shape":[1],"data_offsets":[34,36]},` +
		`"u64":{"dtype":"U64","shape":[1],"data_offsets":[36,44]},` +
		`"f8":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[44,45]}}`
	path := filepath.Join(t.TempDir(), "types.safetensors")
	os.WriteFile(path, rawFile(hdr, data), 0o644)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]float64{"f64": -1.5, "i64": -100, "i32": -2, "u32": 4000000001, "i16": -32768, "u16": 65535,
		"i8": -1, "u8": 200, "bool": 1, "f16": 1, "bf16": -1, "u64": 1 << 40}
	for name, w := range want {
		v, _, err := f.Float32(name)
		if err != nil || v[0] != float32(w) {
			t.Errorf("Float32(%s) = %v, %v; want %v", name, v, err, w)
		}
		d, _, err := f.Float64(name) // exact for these integers
		if err != nil || d[0] != w {
			t.Errorf("Float64(%s) = %v, %v; want %v", name, d, err, w)
		}
	}
	for _, name := range []string{"i64", "i32", "u32", "i16", "u16", "i8", "u8", "bool"} {
		v, _, err := f.Int64(name)
		if err != nil || float64(v[0]) != want[name] {
			t.Errorf("Int64(%s) = %v, %v; want %v", name, v, err, want[name])
		}
	}
	if _, _, err := f.Int64("f32"); err == nil || !strings.Contains(err.Error(), `no tensor "f32"`) {
		t.Errorf("Int64 of a missing tensor: %v", err)
	}
	if _, _, err := f.Int64("f16"); err == nil || !strings.Contains(err.Error(), "not an integer type") {
		t.Errorf("Int64 of F16: %v", err)
	}
	if _, _, err := f.Float32("f8"); err == nil || !strings.Contains(err.Error(), "cannot convert F8_E4M3") {
		t.Errorf("Float32 of F8_E4M3: %v", err)
	}
}
