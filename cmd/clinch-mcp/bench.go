package main

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/sandbox/bench"
)

func runBench(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "negotiate" {
		fmt.Fprintln(env.stderr, "Usage: clinch-mcp bench negotiate [--seed N] [--scenarios N]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelpShown
		}
		return &exitError{2, fmt.Errorf("bench needs a benchmark name: negotiate")}
	}
	fs := newFlags(env, "bench negotiate", "bench negotiate [--seed N] [--scenarios N]")
	seed := fs.Int64("seed", 1, "random seed of the scenarios")
	n := fs.Int("scenarios", 400, "number of scenarios (at least 200 for the published table)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *n < 1 || *n > 100000 {
		return &exitError{2, fmt.Errorf("--scenarios %d must be between 1 and 100000", *n)}
	}
	r := bench.RunBenchmark(*seed, *n, bench.DefaultBuyers())
	fmt.Fprint(env.stdout, r.Markdown())
	return nil
}
