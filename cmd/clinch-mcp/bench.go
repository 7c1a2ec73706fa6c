package main

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/sandbox/bench"
)

// benchColumns explains the table `bench negotiate` prints (see also
// docs/benchmarks.md).
const benchColumns = `It plays seeded scenarios of every buyer decider against hidden-floor sellers and prints two tables.
Columns of the first (one row per buyer decider):
  agreement (zone)                  deals / scenarios that have a zone of agreement (budget above the seller's floor)
  zone share (deals)                mean of (budget - price) / (budget - floor) over the deals: 1 = bought at the
                                    seller's floor, 0 = at the buyer's own budget
  zone share (all zone scenarios)   the same over every zone scenario, a failed negotiation counting 0
  mean rounds                       mean turn at which the session ended, over all scenarios
  deals above budget                deals above the buyer's budget (must be 0)
  deals without zone                deals where no zone of agreement exists (must be 0)
  guard changes                     decisions the engine's guardrails (buyer.Guard) had to change
  errors                            decider errors
The second table: per seller policy (boulware, linear, conceder, tit-for-tat, hard-liner), agreement rate / mean
zone share of the deals, over that policy's zone scenarios.`

func runBench(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "negotiate" {
		fmt.Fprintf(env.stderr, "Usage: clinch-mcp bench negotiate [--seed N] [--scenarios N]\n\n%s\n", benchColumns)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelpShown
		}
		return &exitError{2, fmt.Errorf("bench needs a benchmark name: negotiate")}
	}
	fs := newFlags(env, "bench negotiate", "bench negotiate [--seed N] [--scenarios N]", benchColumns)
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
