package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// maxReputationPairs bounds the directed pairs get_reputation returns.
const maxReputationPairs = 20

// ReputationInput names the party of get_reputation.
type ReputationInput struct {
	Party string `json:"party" jsonschema:"a seller domain as discover_sellers lists it (kitchen-outlet.anp), or a buyer as id:KEY or key:KEY" limits:"minLength=1,maxLength=260"`
}

// Evidence is what a reputation score rests on.
type Evidence = anp.ReputationEvidence

// PairInfo is the directed score of To as From experienced it.
type PairInfo struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Score    float64  `json:"score" jsonschema:"0 to 100, from their deals with each other only"`
	Evidence Evidence `json:"evidence"`
}

// ReputationOutput is the result of get_reputation.
type ReputationOutput struct {
	Party      string     `json:"party"`
	Score      float64    `json:"score" jsonschema:"0 to 100; a party without history has 50"`
	Evidence   Evidence   `json:"evidence" jsonschema:"the counts behind the score"`
	Formula    string     `json:"formula" jsonschema:"the formula version (docs/reputation.md)"`
	At         string     `json:"at" jsonschema:"the registry time the score is computed for (RFC 3339)"`
	LogEntries uint64     `json:"log_entries" jsonschema:"how many entries of the registry's transparency log the score reads"`
	Pairs      []PairInfo `json:"pairs" jsonschema:"directed scores with the party's counterparties, at most 20"`
	PairsTotal int        `json:"pairs_total"`
}

func getReputation(d *Deps) Tool {
	return newTool(d, "get_reputation", "Read a reputation",
		"Read a seller's (or buyer's) reputation: a score from 0 to 100 that the registry computes from its public transparency log alone "+
			"(deals delivered on time or late, breaches, disputes won and lost, with decay over inactivity), with the evidence behind it. "+
			"Anyone can recompute it from the log with `clinch-mcp reputation`.",
		Hints{ReadOnly: flag(true), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(true)},
		func(ctx context.Context, req mcp.CallToolRequest, in ReputationInput) (ReputationOutput, string, error) {
			if _, err := reputation.ParseParty(in.Party); err != nil {
				return ReputationOutput{}, "", inputErrorf("party: %v", err)
			}
			r, err := d.Core.Reputation(ctx, in.Party)
			if err != nil {
				return ReputationOutput{}, "", err
			}
			out := reputationOutput(r)
			e := out.Evidence
			text := fmt.Sprintf("%s: reputation %.2f/100 over %s (%d completed, %d on time, %d late, %d breaches, disputes won %d lost %d split %d), formula %s.",
				out.Party, out.Score, count(e.Deals, "deal"), e.Completed, e.OnTime, e.Late, e.Breaches, e.DisputesWon, e.DisputesLost, e.DisputesSplit, out.Formula)
			return out, text, nil
		})
}

// reputationOutput turns the registry's report into the tool's output.
func reputationOutput(r *reputation.PartyReport) ReputationOutput {
	out := ReputationOutput{Party: string(r.Score.Party), Score: r.Score.Score, Evidence: r.Score.Evidence, Formula: r.Formula,
		At: time.UnixMilli(r.At).UTC().Format(time.RFC3339), LogEntries: r.LogSize, Pairs: []PairInfo{}, PairsTotal: len(r.Pairs)}
	for _, p := range r.Pairs[:min(len(r.Pairs), maxReputationPairs)] {
		out.Pairs = append(out.Pairs, PairInfo{From: string(p.From), To: string(p.To), Score: p.Score, Evidence: p.Evidence})
	}
	return out
}
