package mcpserver_test

import (
	"testing"

	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

func domains(out tools.DiscoverOutput) []string {
	var ds []string
	for _, s := range out.Sellers {
		ds = append(ds, s.Domain)
	}
	return ds
}

// TestReputationThroughMCP: on the demo market with its history, a real MCP
// client sees the three kitchen sellers ranked by reputation with their
// evidence; min_trust 50 leaves the reliable one alone in discovery and in
// a cascade, 99 leaves no seller; get_reputation (read-only) gives the
// score discovery showed, with its evidence.
func TestReputationThroughMCP(t *testing.T) {
	h := newHarness(t, harnessOpts{history: true, decider: strategyDecider()})
	var all tools.DiscoverOutput
	h.ok("discover_sellers", map[string]any{"category": "kitchen"}, &all)
	if d := domains(all); len(d) != 3 || d[0] != demomarket.ReliableSeller {
		t.Fatalf("kitchen sellers %v, want %s first of 3", d, demomarket.ReliableSeller)
	}
	score := map[string]tools.SellerInfo{}
	for _, s := range all.Sellers {
		score[s.Domain] = s
	}
	if late := score[demomarket.LateSeller]; late.Evidence.Late != 3 || late.Score >= 50 {
		t.Fatalf("often-late seller listed as %+v", late)
	}
	var trusted tools.DiscoverOutput
	h.ok("discover_sellers", map[string]any{"category": "kitchen", "min_trust": 50}, &trusted)
	if d := domains(trusted); len(d) != 1 || d[0] != demomarket.ReliableSeller {
		t.Fatalf("min_trust 50: %v, want only %s", d, demomarket.ReliableSeller)
	}
	var rep tools.ReputationOutput
	h.ok("get_reputation", map[string]any{"party": demomarket.DisputedSeller}, &rep)
	if rep.Score != score[demomarket.DisputedSeller].Score || rep.Evidence.DisputesLost != 1 || rep.Formula != "clinch-reputation/1" || rep.PairsTotal != 6 {
		t.Fatalf("get_reputation %+v, discovery showed %v", rep, score[demomarket.DisputedSeller].Score)
	}
	h.fail("get_reputation", map[string]any{"party": "not a domain!"}, "invalid_input")

	var cas tools.CascadeOutput
	h.ok("cascade", map[string]any{"category": "kitchen", "item": "Cast iron pan", "max_budget": 150, "min_trust": 50, "max_sellers": 3}, &cas)
	if len(cas.Outcomes) != 1 || cas.Outcomes[0].Seller != demomarket.ReliableSeller {
		t.Fatalf("cascade with min_trust 50 negotiated with %+v, want only %s", cas.Outcomes, demomarket.ReliableSeller)
	}
	msg := h.fail("cascade", map[string]any{"category": "kitchen", "item": "Cast iron pan", "max_budget": 150, "min_trust": 99}, "no_sellers")
	t.Logf("min_trust 99: %s", msg)
}

// TestMinTrustFloorCannotBeLowered: the engine's --min-trust floor holds
// when a tool call asks for less.
func TestMinTrustFloorCannotBeLowered(t *testing.T) {
	h := newHarness(t, harnessOpts{history: true, minTrust: 50})
	var out tools.DiscoverOutput
	h.ok("discover_sellers", map[string]any{"category": "kitchen", "min_trust": 0}, &out)
	if d := domains(out); len(d) != 1 || d[0] != demomarket.ReliableSeller {
		t.Fatalf("floor 50, asked 0: %v, want only %s", d, demomarket.ReliableSeller)
	}
}
