package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/degradiff/degradiff/"

// TestImportsPointDown reads the imports of every non-test Go file of the
// module and fails on any that points to a higher layer, or on a package
// no layer holds.
func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "docs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		pkg := filepath.ToSlash(rel)
		from := Of(pkg)
		if from < 0 {
			t.Errorf("%s: package %s is in no layer (add it to layers.Order)", p, pkg)
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(ip, module) {
				continue
			}
			dep := strings.TrimPrefix(ip, module)
			if to := Of(dep); to > from {
				t.Errorf("%s: %s (%s) imports %s (%s), a higher layer", path.Join(pkg, filepath.Base(p)), pkg, Order[from].Name, dep, Order[to].Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d files: is the walk broken?", files)
	}
}

func TestOf(t *testing.T) {
	for pkg, want := range map[string]string{
		"rng": "ground", "engine/gemm": "engine", "degrade": "degradations", "degrade/blur": "degradations",
		"experiment/facebench": "experiments", "cmd/degradiff/cli": "command line and tools", "measure": "measurement",
	} {
		if i := Of(pkg); i < 0 || Order[i].Name != want {
			t.Errorf("Of(%s) = %d, want layer %s", pkg, i, want)
		}
	}
	if Of("nowhere") != -1 || Of("synthesis") != -1 {
		t.Error("unknown packages got a layer")
	}
}
