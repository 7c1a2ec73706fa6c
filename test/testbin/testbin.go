// Package testbin builds the clinch-mcp binary once for a test binary's
// TestMain, so end-to-end tests run the real program.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Main builds clinch-mcp into a fresh temporary directory, sets *binary to
// its path, runs the tests with run and removes the directory. It exits the
// process with run's code, or 1 when the build fails.
func Main(binary *string, run func() int) {
	dir, err := os.MkdirTemp("", "clinch-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = filepath.Join(dir, "clinch-mcp")
	_, here, _, _ := runtime.Caller(0)
	pkg := filepath.Join(filepath.Dir(here), "..", "..", "cmd", "clinch-mcp")
	if out, err := exec.Command("go", "build", "-o", *binary, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build clinch-mcp: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := run()
	os.RemoveAll(dir)
	os.Exit(code)
}
