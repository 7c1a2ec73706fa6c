package registry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// clientFiles are the registry Client; sharedFiles hold what the Client and
// the Server both use. Everything else in the package is the Server's.
var (
	clientFiles = []string{"client.go", "client_ws.go", "client_logwatch.go"}
	sharedFiles = []string{"errtext.go"}
)

// TestClientUsesNoServerCode keeps the Client self-contained: its files may
// name package-level declarations of the client and shared files only.
func TestClientUsesNoServerCode(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	declaredIn := map[string]string{} // package-level name -> file
	files := map[string]*ast.File{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(".", name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					declaredIn[d.Name.Name] = name
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						declaredIn[spec.Name.Name] = name
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							declaredIn[n.Name] = name
						}
					}
				}
			}
		}
	}
	allowed := map[string]bool{}
	for _, f := range append(append([]string{}, clientFiles...), sharedFiles...) {
		if files[f] == nil {
			t.Fatalf("%s is missing: update clientFiles or sharedFiles", f)
		}
		allowed[f] = true
	}
	for _, cf := range clientFiles {
		borrowed := map[string]string{}
		var visit func(ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				ast.Inspect(n.X, visit)
				return false // n.Sel names a field, method or package member
			case *ast.KeyValueExpr:
				if _, ok := n.Key.(*ast.Ident); ok { // a struct field name
					ast.Inspect(n.Value, visit)
					return false
				}
			case *ast.Ident:
				if file, ok := declaredIn[n.Name]; ok && !allowed[file] {
					borrowed[n.Name] = file
				}
			}
			return true
		}
		ast.Inspect(files[cf], visit)
		var names []string
		for name, file := range borrowed {
			names = append(names, name+" ("+file+")")
		}
		sort.Strings(names)
		if len(names) > 0 {
			t.Errorf("%s uses server declarations: %s; move what both sides need into %v or core/anp", cf, strings.Join(names, ", "), sharedFiles)
		}
	}
}
