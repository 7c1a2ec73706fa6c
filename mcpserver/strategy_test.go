package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// The demo market's office sellers: one walks away from an opening below
// half its ask (floor 300.00), one bluffs a "final" offer at its list price
// and drops to its floor of 270.00 only at its deadline, one concedes
// plainly to 320.00.
const (
	officeBudget = 390
	bluffSeller  = "desk-bluff.anp"
	bestPrice    = 270 // the lowest floor of the three: the bluffer's
)

// Through MCP, a cascade over sellers that trip naive buyers (one walks
// away from a lowball opening, one bluffs a final offer above the budget)
// closes with the best price there is: every seller comes to terms, none
// walks away, and the bluffer, tested rather than believed, wins at its
// floor.
func TestCascadeBeatsWalkAwayAndBluff(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, order := range []string{"parallel", "sequential"} {
		t.Run(order, func(t *testing.T) {
			var out tools.CascadeOutput
			h.ok("cascade", map[string]any{"category": "office", "item": "Oak desk", "max_budget": officeBudget, "strategy": order, "max_sellers": 3}, &out)
			if out.Winner == nil || out.Winner.Seller != bluffSeller || out.Winner.AgreedPrice == nil || out.Winner.AgreedPrice.Amount != bestPrice {
				t.Fatalf("winner %+v, want %s at %d.00\noutcomes %+v", out.Winner, bluffSeller, bestPrice, out.Outcomes)
			}
			if len(out.Outcomes) != 3 {
				t.Fatalf("outcomes %+v", out.Outcomes)
			}
			for _, o := range out.Outcomes {
				if o.Detail != "" && strings.Contains(o.Detail, "rejected") {
					t.Errorf("%s ended the talk: %+v", o.Seller, o)
				}
				if order == "parallel" && o.Outcome != "confirmed" && o.Outcome != "outbid" {
					t.Errorf("%s: %+v, want every seller to come to terms", o.Seller, o)
				}
			}
			h.ok("cancel_session", map[string]any{"session_id": out.Winner.SessionID}, &snap{})
		})
	}
}

// A host model that plays each turn itself gets the strategy's suggestion
// in every snapshot, in the session resource and in the negotiation_turn
// prompt: it is never above the budget, and following it against the
// bluffing seller reaches the seller's floor.
func TestSnapshotSuggestionGuidesAHost(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": bluffSeller, "item": "Oak desk", "max_budget": officeBudget}, &s)
	sawBluff := false
	for turn := 0; s.State == "COUNTERED"; turn++ {
		if turn > 10 {
			t.Fatalf("no end after %d moves: %+v", turn, s)
		}
		sg := s.Suggestion
		if sg == nil || sg.Price == nil || sg.Strategy != "strategy:adaptive" || sg.Reason == "" {
			t.Fatalf("turn %d: suggestion %+v", s.Turn, sg)
		}
		if sg.Price.Amount > officeBudget {
			t.Fatalf("turn %d: suggested %s above the budget", s.Turn, sg.Price.Display)
		}
		if sg.Price.Amount == officeBudget {
			t.Fatalf("turn %d: the suggestion is the budget itself", s.Turn)
		}
		if s.SellerFinal && s.LastSellerPrice.Amount > officeBudget {
			sawBluff = true
			if sg.Action != "counter" {
				t.Fatalf("turn %d: a final above the budget with turns left: suggestion %s, want a counter that tests it", s.Turn, sg.Action)
			}
		}
		checkResourceAndPrompt(t, h, s)
		if s.LastOwnOffer != nil && s.LastOwnOffer.Amount >= officeBudget {
			t.Fatalf("turn %d: an offer of %s reached the budget", s.Turn, s.LastOwnOffer.Display)
		}
		var next snap // a fresh value: a field the answer leaves out must not survive from this turn
		h.ok("counter", map[string]any{"session_id": s.SessionID, "price": sg.Price.Amount}, &next)
		s = next
	}
	if !sawBluff || s.State != "CONFIRMED" || s.AgreedPrice == nil || s.AgreedPrice.Amount != bestPrice {
		t.Fatalf("ended %s at %+v (bluff seen %v), want CONFIRMED at %d.00", s.State, s.AgreedPrice, sawBluff, bestPrice)
	}
	if s.Suggestion != nil {
		t.Errorf("a CONFIRMED session carries a suggestion: %+v", s.Suggestion)
	}
	// The seller's last view of the session: the buyer's offers stayed under the budget.
	v, ok := h.market.Nodes[bluffSeller].Session(s.SessionID)
	if !ok || v.LastOffer == nil || v.LastOffer.Amount >= officeBudget*100 {
		t.Errorf("the seller's session %+v: want the buyer's last offer under the budget", v)
	}
}

// checkResourceAndPrompt: the session resource carries the same suggestion,
// and the negotiation_turn prompt shows it with its signals.
func checkResourceAndPrompt(t *testing.T, h *harness, s snap) {
	t.Helper()
	ctx := context.Background()
	rr, err := h.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "clinch://sessions/" + s.SessionID}})
	if err != nil {
		t.Fatal(err)
	}
	var res snap
	if err := json.Unmarshal([]byte(rr.Contents[0].(mcp.TextResourceContents).Text), &res); err != nil {
		t.Fatal(err)
	}
	if res.Suggestion == nil || *res.Suggestion.Price != *s.Suggestion.Price {
		t.Fatalf("resource suggestion %+v, tool suggestion %+v", res.Suggestion, s.Suggestion)
	}
	pr, err := h.client.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "negotiation_turn", Arguments: map[string]string{"session_id": s.SessionID}}})
	if err != nil {
		t.Fatal(err)
	}
	text := pr.Messages[0].Content.(mcp.TextContent).Text
	for _, want := range []string{"STRATEGY SUGGESTION", "suggested move: " + s.Suggestion.Action + " at " + s.Suggestion.Price.Display, "how the seller concedes: " + s.Suggestion.Signals.SellerReading, "estimated lowest price the seller takes"} {
		if !strings.Contains(text, want) {
			t.Fatalf("negotiation_turn lacks %q:\n%s", want, text)
		}
	}
}
