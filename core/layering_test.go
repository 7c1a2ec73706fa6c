// Package core_test holds checks on the core/ tree as a whole.
package core_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const (
	module     = "github.com/clinch-protocol/clinch-mcp"
	secretsPkg = module + "/secrets"
)

// TestCoreDoesNotImportSecrets: the protocol engine never depends on the
// top-level secrets package (key files and redaction), neither directly nor
// through another package, in its code or its tests. Everything sealed on
// the wire or at rest is core/anp's.
func TestCoreDoesNotImportSecrets(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies of core/: %v", err)
	}
	// Every package in the build graph of core/... and its tests, each with
	// its direct imports.
	cmd := exec.Command(goTool, "list", "-deps", "-test", "-f", "{{.ImportPath}}{{range .Imports}}|{{.}}{{end}}", module+"/core/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	if bad := importersOf(out, secretsPkg); len(bad) > 0 {
		t.Fatalf("core/ depends on %s: imported by %s", secretsPkg, strings.Join(bad, ", "))
	}
	if !bytes.Contains(out, []byte(module+"/core/anp")) {
		t.Fatalf("go list printed no core packages:\n%.500s", out)
	}
}

// importersOf returns the packages in a go list listing (one package a line:
// its path, then "|" and each import) that import pkg. A path may carry the
// test variant it was built for ("p [q.test]").
func importersOf(listing []byte, pkg string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(listing))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "|")
		for _, imp := range fields[1:] {
			if path, _, _ := strings.Cut(imp, " "); path == pkg {
				out = append(out, fields[0])
			}
		}
	}
	return out
}

func TestImportersOf(t *testing.T) {
	listing := []byte("a/x|b/y|" + secretsPkg + "\n" + secretsPkg + "|fmt\nc/z|fmt|" + secretsPkg + "x\n\n" +
		"a/w [a/w.test]|" + secretsPkg + " [a/w.test]\n")
	got := strings.Join(importersOf(listing, secretsPkg), ",")
	if want := "a/x,a/w [a/w.test]"; got != want {
		t.Fatalf("importersOf = %q, want %q", got, want)
	}
}
