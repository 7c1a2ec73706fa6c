package mcpserver_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// TestToolsListGolden snapshots the whole tools/list answer: names, schemas
// and annotations. Regenerate with UPDATE_GOLDEN=1 go test ./mcpserver.
func TestToolsListGolden(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	res, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(res.Tools, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "tools_list.golden.json")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing (run UPDATE_GOLDEN=1 go test ./mcpserver): %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("tools/list changed; if intended, run UPDATE_GOLDEN=1 go test ./mcpserver and review the diff.\ngot:\n%s", got)
	}
}

// TestEveryToolSetsEveryAnnotation fails when a tool leaves any of the four
// hints to mcp-go's defaults (which mark everything destructive).
func TestEveryToolSetsEveryAnnotation(t *testing.T) {
	want := map[string][4]bool{ // readOnly, destructive, idempotent, openWorld
		"discover_sellers": {true, false, true, true},
		"propose_deal":     {false, false, false, true},
		"counter":          {false, false, false, true},
		"ask_seller":       {false, false, false, true},
		"get_session":      {true, false, true, false},
		"list_sessions":    {true, false, true, false},
		"approve_and_sign": {false, true, true, true},
		"cancel_session":   {false, true, true, true},
		"cascade":          {false, false, false, true},
		"verify_artifact":  {true, false, true, false},
		"open_decision":    {false, false, false, false},
		"cast_vote":        {false, false, false, false},
		"get_decision":     {true, false, true, false},
		"confirm_delivery": {false, false, true, true},
		"open_dispute":     {false, true, false, true},
		"get_reputation":   {true, false, true, true},
	}
	all := tools.All(&tools.Deps{})
	if len(all) != len(want) {
		t.Fatalf("%d tools, the table lists %d: add the new tool here with its annotations", len(all), len(want))
	}
	for _, tl := range all {
		h := tl.Hints
		if h.ReadOnly == nil || h.Destructive == nil || h.Idempotent == nil || h.OpenWorld == nil {
			t.Errorf("%s leaves an annotation unset: %+v", tl.Def.Name, h)
			continue
		}
		w, ok := want[tl.Def.Name]
		if !ok {
			t.Errorf("%s is not in the annotation table", tl.Def.Name)
			continue
		}
		got := [4]bool{*h.ReadOnly, *h.Destructive, *h.Idempotent, *h.OpenWorld}
		if got != w {
			t.Errorf("%s annotations = %v, want %v", tl.Def.Name, got, w)
		}
		a := tl.Def.Annotations
		if *a.ReadOnlyHint != got[0] || *a.DestructiveHint != got[1] || *a.IdempotentHint != got[2] || *a.OpenWorldHint != got[3] {
			t.Errorf("%s: definition annotations differ from its hints", tl.Def.Name)
		}
		if tl.Def.Description == "" || len(tl.Def.RawInputSchema) == 0 || tl.Def.OutputSchema.Type != "object" {
			t.Errorf("%s lacks a description, input schema or output schema", tl.Def.Name)
		}
	}
}

func TestToolsHappyPath(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var disc tools.DiscoverOutput
	h.ok("discover_sellers", map[string]any{"category": "kitchen"}, &disc)
	if len(disc.Sellers) < 3 {
		t.Fatalf("discover kitchen: %+v", disc)
	}
	for _, s := range disc.Sellers {
		if !s.Demo || !strings.HasPrefix(s.Address, "ANP/") {
			t.Errorf("seller %+v", s)
		}
	}
	s := h.confirmed()
	if s.AgreedPrice == nil || s.AgreedPrice.Amount != 94 || strings.Join(s.AllowedMoves, ",") != "approve_and_sign,cancel" {
		t.Fatalf("confirmed snapshot: %+v", s)
	}
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.State != "CONFIRMED" || got.Turn != 5 {
		t.Fatalf("get_session: %+v", got)
	}
	var ap tools.ApproveOutput
	h.ok("approve_and_sign", map[string]any{"session_id": s.SessionID}, &ap)
	if !ap.Verified || ap.Session.State != "SIGNED" || ap.Price.Amount != 94 || ap.ArtifactID != s.SessionID {
		t.Fatalf("approve: %+v", ap)
	}
	var again tools.ApproveOutput
	h.ok("approve_and_sign", map[string]any{"session_id": s.SessionID}, &again)
	if again.LogIndex != ap.LogIndex {
		t.Fatalf("approve twice signed twice: log index %d then %d", ap.LogIndex, again.LogIndex)
	}
	var v tools.VerifyOutput
	h.ok("verify_artifact", map[string]any{"artifact_id": s.SessionID}, &v)
	if !v.Valid || !v.Pinned || v.Price.Amount != 94 {
		t.Fatalf("verify: %+v", v)
	}
	// The artifact resource round-trips through verify_artifact as JSON text.
	rr, err := h.client.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "clinch://artifacts/" + s.SessionID}})
	if err != nil {
		t.Fatal(err)
	}
	art := rr.Contents[0].(mcp.TextResourceContents).Text
	h.ok("verify_artifact", map[string]any{"artifact": art}, &v)
	if !v.Valid {
		t.Fatalf("verify of the resource JSON: %+v", v)
	}
	tampered := strings.Replace(art, `"amount": 9400`, `"amount": 9300`, 1)
	if tampered == art {
		t.Fatal("could not tamper with the artifact")
	}
	h.ok("verify_artifact", map[string]any{"artifact": tampered}, &v)
	if v.Valid || !strings.Contains(v.Problem, "signature") {
		t.Fatalf("tampered artifact: %+v", v)
	}
	// A second session, cancelled.
	var s2 snap
	h.ok("propose_deal", map[string]any{"seller": "chef-supply.anp", "item": "Knife", "max_budget": 90, "terms": map[string]any{"delivery": "3 days"}}, &s2)
	h.ok("cancel_session", map[string]any{"session_id": s2.SessionID, "reason": "changed my mind"}, &s2)
	if s2.State != "CANCELLED" {
		t.Fatalf("cancel: %+v", s2)
	}
	h.ok("cancel_session", map[string]any{"session_id": s2.SessionID}, &s2) // idempotent
	var list tools.ListSessionsOutput
	h.ok("list_sessions", map[string]any{}, &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("list: %d sessions", len(list.Sessions))
	}
	h.ok("list_sessions", map[string]any{"state": "SIGNED"}, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ArtifactID == "" {
		t.Fatalf("list SIGNED: %+v", list)
	}
	// Resources.
	for _, uri := range []string{"clinch://sessions/" + s.SessionID, "clinch://sessions/" + s.SessionID + "/transcript"} {
		rr, err := h.client.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
		if err != nil || len(rr.Contents) != 1 || !json.Valid([]byte(rr.Contents[0].(mcp.TextResourceContents).Text)) {
			t.Fatalf("read %s: %v", uri, err)
		}
	}
}

func TestToolErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "ANP/C.kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	cases := []struct {
		tool string
		args map[string]any
		code string
	}{
		{"counter", map[string]any{"session_id": s.SessionID, "price": 100.01}, "over_budget"},
		{"propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "x", "max_budget": 100, "opening_offer": 500}, "over_budget"},
		{"approve_and_sign", map[string]any{"session_id": s.SessionID}, "wrong_state"},
		{"get_session", map[string]any{"session_id": "0123456789abcdef0123456789abcdef"}, "unknown_session"},
		{"counter", map[string]any{"session_id": s.SessionID, "price": 50.123}, "invalid_input"},
		{"counter", map[string]any{"session_id": s.SessionID, "price": -5}, "invalid_input"},
		{"propose_deal", map[string]any{"seller": "ANP/Z.kitchen-outlet.anp", "item": "x", "max_budget": 10}, "invalid_input"},
		{"propose_deal", map[string]any{"seller": "ANP/B.kitchen-outlet.anp", "item": "x", "max_budget": 10}, "seller_refused"},
		{"propose_deal", map[string]any{"seller": "no-such-shop.anp", "item": "x", "max_budget": 10}, "seller_refused"},
		{"propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "x", "max_budget": 10, "autonomous": true}, "invalid_input"},
		{"verify_artifact", map[string]any{}, "invalid_input"},
		{"verify_artifact", map[string]any{"artifact_id": s.SessionID}, "invalid_input"},
		{"cascade", map[string]any{"category": "kitchen", "item": "x", "max_budget": 10, "strategy": "random"}, "invalid_input"},
	}
	for _, tc := range cases {
		t.Run(tc.tool+"/"+tc.code, func(t *testing.T) {
			msg := h.fail(tc.tool, tc.args, tc.code)
			if !strings.Contains(msg, "\n") {
				t.Errorf("error has no advice line: %q", msg)
			}
		})
	}
	// Unknown arguments are refused by schema validation as a tool error.
	res := h.call("get_session", map[string]any{"session_id": s.SessionID, "budget_override": 500})
	if !res.IsError {
		t.Fatalf("unknown argument accepted: %s", text(res))
	}
	// The session is unchanged by all of the above.
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.Turn != 1 || got.State != "COUNTERED" || got.LastOwnOffer != nil {
		t.Fatalf("session changed by refused calls: %+v", got)
	}
}

// TestSellerUnreachable stops a seller's server and checks the tool error.
func TestSellerUnreachable(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "gadget-hub.anp", "item": "Phone", "max_budget": 400}, &s)
	h.market.StopSeller("gadget-hub.anp")
	h.fail("counter", map[string]any{"session_id": s.SessionID, "price": 300}, "seller_unreachable")
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.Turn != 1 || got.LastOwnOffer != nil {
		t.Fatalf("failed counter changed the session: %+v", got)
	}
}

// TestConcurrentCountersApplyOnce: hosts run tool calls in parallel; on one
// session exactly one counter per turn applies, the others get conflict.
func TestConcurrentCountersApplyOnce(t *testing.T) {
	for _, seller := range []string{"kitchen-outlet.anp", "bargain-bin.anp"} { // synchronous and asynchronous answers
		t.Run(seller, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			var s snap
			h.ok("propose_deal", map[string]any{"seller": seller, "item": "Pan", "max_budget": 100}, &s)
			const n = 16
			var wg sync.WaitGroup
			results := make([]*mcp.CallToolResult, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = h.call("counter", map[string]any{"session_id": s.SessionID, "price": 50 + float64(i), "turn": 1})
				}()
			}
			wg.Wait()
			okCount := 0
			for _, r := range results {
				switch {
				case !r.IsError:
					okCount++
				case !strings.HasPrefix(text(r), "conflict:"):
					t.Errorf("unexpected error: %s", text(r))
				}
			}
			if okCount != 1 {
				t.Fatalf("%d counters applied, want exactly 1", okCount)
			}
			var got snap
			h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
			if got.Turn != 2 {
				t.Fatalf("turn = %d after one applied counter, want 2", got.Turn)
			}
		})
	}
}

func TestArgumentsAreCheckedReadably(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var s snap
	h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100}, &s)
	msg := h.fail("counter", map[string]any{"session_id": s.SessionID, "price": 60, "bogus": 1}, "invalid_input")
	if !strings.Contains(msg, "bogus") || strings.Contains(msg, "&{") {
		t.Errorf("unknown-argument message = %q", msg)
	}
	msg = h.fail("counter", map[string]any{"session_id": s.SessionID, "price": "sixty"}, "invalid_input")
	if !strings.Contains(msg, "price") || strings.Contains(msg, "&{") {
		t.Errorf("wrong-type message = %q", msg)
	}
	msg = h.fail("counter", map[string]any{"price": 60}, "invalid_input")
	if !strings.Contains(msg, "session_id") {
		t.Errorf("missing-argument message = %q", msg)
	}
	// A stored credential typed into an argument is refused, not sent anywhere.
	h.fail("propose_deal", map[string]any{"seller": "cloud-credits.anp", "item": "use key demo-credential-cloud-credits", "max_budget": 40}, "invalid_input")
}

func TestSellerRefusalIsAToolError(t *testing.T) {
	h := newHarness(t, harnessOpts{blind: map[string]string{}}) // no credential for cloud-credits.anp
	msg := h.fail("propose_deal", map[string]any{"seller": "cloud-credits.anp", "item": "API credits", "max_budget": 40}, "seller_refused")
	if !strings.Contains(msg, "cloud-credits.anp") {
		t.Errorf("message = %q", msg)
	}
}
