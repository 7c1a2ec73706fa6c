package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// exitReputationDiffers is reputation's exit code when the registry serves
// figures other than the ones its log gives.
const exitReputationDiffers = 5

// errReputationDiffers marks served scores that the log does not give.
var errReputationDiffers = errors.New("the registry's reputation differs from the one its log gives")

// reputationFlags are the flags of reputation.
type reputationFlags struct {
	logSource
	asJSON bool
}

func (f *reputationFlags) register(fs *flag.FlagSet, env *cliEnv) {
	f.logSource.register(fs, env)
	fs.BoolVar(&f.asJSON, "json", false, "print the recomputed report as JSON (the registry's format) instead of text")
}

// runReputation recomputes the registry's reputation figures from its
// transparency log and compares them with what it serves.
func runReputation(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "reputation", "reputation --registry URL [--registry-key HEX] [--json] [--state FILE] [PARTY]",
		"Fetches the reputation the registry serves (every party, or PARTY: a seller domain, or a buyer as\n"+
			"id:KEY or key:KEY), then its signed tree head (checked against the remembered one, as monitor does)\n"+
			"and every log entry up to it; the entries must rebuild the head's root (else exit code 4). The\n"+
			"scores are recomputed from the entries the registry read, at its time, with formula\n"+
			reputation.FormulaVersion+" (docs/reputation.md), each deal event replayed through its deal's\n"+
			"lifecycle rules, and printed with their evidence. Figures that\n"+
			"differ from the served ones are printed and end with exit code 5; a fork exits with code 3.")
	var f reputationFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.registry == "" || fs.NArg() > 1 {
		return &exitError{2, fmt.Errorf("reputation: --registry is required, with at most one PARTY")}
	}
	c, closer, err := f.client(env)
	if err != nil {
		return err
	}
	defer closer.Close()
	r := &recompute{env: env, c: c, party: fs.Arg(0), asJSON: f.asJSON}
	return r.run(ctx)
}

// recompute is one run of reputation.
type recompute struct {
	env    *cliEnv
	c      *registry.Client
	party  string
	asJSON bool
}

func (r *recompute) run(ctx context.Context) error {
	served, size, at, err := r.served(ctx)
	if err != nil {
		return fmt.Errorf("reputation: %w", err)
	}
	book, head, err := r.readLog(ctx, size)
	if err != nil {
		var fe *registry.ForkError
		if errors.As(err, &fe) {
			return forkExit(r.env, fe)
		}
		if errors.Is(err, errEntriesMismatch) {
			fmt.Fprintf(r.env.stdout, "ENTRIES DO NOT MATCH: %v\n", err)
			return &exitError{exitEntries, fmt.Errorf("reputation: %w", err)}
		}
		return fmt.Errorf("reputation: %w", err)
	}
	mine := r.report(book, size, at)
	if err := r.print(mine, head, size); err != nil {
		return err
	}
	if !reflect.DeepEqual(normalise(served), normalise(mine)) {
		diff := firstDifference(served, mine)
		fmt.Fprintf(r.env.stdout, "DIFFERS: %s\n", diff)
		return &exitError{exitReputationDiffers, fmt.Errorf("reputation: %w: %s", errReputationDiffers, diff)}
	}
	if !r.asJSON {
		fmt.Fprintf(r.env.stdout, "the registry serves the same figures (%d log entries, formula %s)\n", size, reputation.FormulaVersion)
	}
	return nil
}

// served fetches the registry's figures, and the log size and time they are for.
func (r *recompute) served(ctx context.Context) (any, uint64, time.Time, error) {
	if r.party == "" {
		rep, err := r.c.Reputation(ctx, time.Time{})
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		return rep, rep.LogSize, time.UnixMilli(rep.At), nil
	}
	rep, err := r.c.PartyReputation(ctx, r.party, time.Time{})
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	return rep, rep.LogSize, time.UnixMilli(rep.At), nil
}

// report recomputes what served holds from book.
func (r *recompute) report(book *reputation.Book, size uint64, at time.Time) any {
	if r.party == "" {
		rep := book.Report(at)
		rep.LogSize = size
		return &rep
	}
	rep := book.PartyReport(reputation.Party(r.party), at)
	rep.LogSize = size
	return &rep
}

// readLog fetches the signed head (at least size entries), reads every
// entry up to it, checks that they rebuild its root, and applies the
// facts of the first size entries to a new book.
func (r *recompute) readLog(ctx context.Context, size uint64) (*reputation.Book, *anp.SignedTreeHead, error) {
	head, err := r.c.LogHead(ctx)
	if err != nil {
		return nil, nil, err
	}
	if head.Size < size {
		return nil, nil, fmt.Errorf("the registry's reputation reads %d log entries, its signed head %s has fewer", size, registry.DescribeHead(head))
	}
	keys, err := r.c.Keys(ctx) // fetched after the head: its chain holds every key that countersigned up to it
	if err != nil {
		return nil, nil, err
	}
	replayer := reputation.NewReplayer(keys.RootKey, keys.Chain)
	book := reputation.NewBook()
	rng := rangeFactory.NewEmptyRange(0)
	for rng.End() < head.Size {
		page, err := r.c.LogEntries(ctx, rng.End(), head.Size)
		if err != nil {
			return nil, nil, fmt.Errorf("log entries from %d: %w", rng.End(), err)
		}
		for _, leaf := range page {
			idx := rng.End()
			if err := rng.Append(anp.LeafHash(leaf), nil); err != nil {
				return nil, nil, fmt.Errorf("log entry %d: %w", idx, err)
			}
			if idx < size {
				applyLeaf(book, replayer, idx, leaf)
			}
		}
	}
	if head.Size > 0 {
		root, err := rng.GetRootHash(nil)
		if err != nil {
			return nil, nil, fmt.Errorf("rebuild the log root: %w", err)
		}
		if hex.EncodeToString(root) != head.RootHash {
			return nil, nil, fmt.Errorf("%w: entries 0..%d make root %x, the registry signed %s", errEntriesMismatch, head.Size-1, root, registry.DescribeHead(head))
		}
	}
	return book, head, nil
}

// applyLeaf applies the facts of one entry, each deal event replayed
// through its deal's lifecycle rules; entries, events and facts the
// formula skips are skipped here too.
func applyLeaf(book *reputation.Book, replayer *reputation.Replayer, idx uint64, leaf []byte) {
	facts, err := replayer.Facts(idx, leaf)
	if err != nil {
		return
	}
	for _, f := range facts {
		_ = book.Apply(f)
	}
}

// normalise turns a report into its JSON value, as the registry sent it.
func normalise(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	return out
}

// firstDifference names the first party (or pair) whose figures differ.
func firstDifference(served, mine any) string {
	a, b := scoreLines(served), scoreLines(mine)
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return "the registry does not serve " + b[i]
		case i >= len(b):
			return "the log does not give " + a[i]
		case a[i] != b[i]:
			return fmt.Sprintf("the registry serves %s, the log gives %s", a[i], b[i])
		}
	}
	return "the reports differ outside the scores (formula, time or counts)"
}

// scoreLines lists a report's scores, one line each.
func scoreLines(v any) []string {
	var out []string
	switch rep := v.(type) {
	case *reputation.Report:
		for _, s := range rep.Parties {
			out = append(out, scoreLine(s))
		}
		for _, p := range rep.Pairs {
			out = append(out, pairLine(p))
		}
	case *reputation.PartyReport:
		out = append(out, scoreLine(rep.Score))
		for _, p := range rep.Pairs {
			out = append(out, pairLine(p))
		}
	}
	return out
}

func scoreLine(s reputation.Score) string {
	kind := "seller"
	if reputation.IsBuyer(s.Party) {
		kind = "buyer"
	}
	return fmt.Sprintf("%s %s score %.6f mass %.6f penalty %.6f %s", kind, s.Party, s.Score, s.Mass, s.Penalty, evidenceText(s.Evidence))
}

func pairLine(p reputation.PairScore) string {
	return fmt.Sprintf("pair %s -> %s score %.6f %s", p.From, p.To, p.Score, evidenceText(p.Evidence))
}

func evidenceText(e reputation.Evidence) string {
	last := "never"
	if e.LastActivity > 0 {
		last = time.UnixMilli(e.LastActivity).UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("(deals %d completed %d on_time %d late %d awaiting %d received %d breaches %d disputes opened %d against %d won %d lost %d split %d counterparties %d last %s)",
		e.Deals, e.Completed, e.OnTime, e.Late, e.Awaiting, e.Received, e.Breaches, e.DisputesOpened, e.DisputesAgainst, e.DisputesWon, e.DisputesLost, e.DisputesSplit, e.Counterparties, last)
}

// print prints the recomputed report.
func (r *recompute) print(mine any, head *anp.SignedTreeHead, size uint64) error {
	if r.asJSON {
		enc := json.NewEncoder(r.env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(mine)
	}
	fmt.Fprintf(r.env.stdout, "recomputed from log entries 0..%d of the head %s\n", int64(size)-1, registry.DescribeHead(head))
	for _, l := range scoreLines(mine) {
		fmt.Fprintln(r.env.stdout, l)
	}
	return nil
}
