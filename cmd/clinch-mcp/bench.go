package main

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/sandbox/bench"
)

// benchColumns explains the tables `bench negotiate` prints (see also
// docs/benchmarks.md).
const benchColumns = `It plays seeded scenarios of every buyer decider against an opponent suite of seller policies from the
automated-negotiation literature, with hidden floors, and prints two tables.
Columns of the first (one row per buyer decider):
  agreement (zone)                  deals / scenarios that have a zone of agreement (budget above the seller's floor)
  zone share (deals)                mean of (budget - price) / (budget - floor) over the deals: 1 = bought at the
                                    seller's floor, 0 = at the buyer's own budget
  zone share (all zone scenarios)   the same over every zone scenario, a failed negotiation counting 0
  lowest family agreement           the agreement rate against the opponent family the buyer does worst against
  mean rounds                       mean turn at which the session ended, over all scenarios
  deals above budget                deals above the buyer's budget (must be 0)
  deals without zone                deals where no zone of agreement exists (must be 0)
  guard changes                     decisions the engine's guardrails (buyer.Guard) had to change
  errors                            decider errors
The second table: per opponent family, agreement rate / mean zone share over that family's zone scenarios.
--split tuned plays the parameters strategies were tuned on (published with seed 1), --split held-out the
parameters kept out of tuning (published with seed 2).`

func runBench(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "negotiate" {
		fmt.Fprintf(env.stderr, "Usage: clinch-mcp bench negotiate [--split tuned|held-out] [--seed N] [--scenarios N]\n\n%s\n", benchColumns)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelpShown
		}
		return &exitError{2, fmt.Errorf("bench needs a benchmark name: negotiate")}
	}
	fs := newFlags(env, "bench negotiate", "bench negotiate [--split tuned|held-out] [--seed N] [--scenarios N]", benchColumns)
	splitName := fs.String("split", string(bench.SplitHeldOut), "opponent parameters: tuned or held-out")
	seed := fs.Int64("seed", 0, "random seed of the scenarios (0: the split's published seed, 1 for tuned, 2 for held-out)")
	n := fs.Int("scenarios", 2400, "number of scenarios (at least 1200 for the published tables)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	split, err := bench.ParseSplit(*splitName)
	if err != nil {
		return &exitError{2, fmt.Errorf("--split: %w", err)}
	}
	if *n < 1 || *n > 100000 {
		return &exitError{2, fmt.Errorf("--scenarios %d must be between 1 and 100000", *n)}
	}
	if *seed == 0 {
		*seed = split.DefaultSeed()
	}
	r := bench.RunBenchmark(bench.Config{Seed: *seed, Scenarios: *n, Split: split}, bench.DefaultBuyers())
	fmt.Fprint(env.stdout, r.Markdown())
	return nil
}
