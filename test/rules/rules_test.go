package rules_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// buyerOffers returns every price the seller received from the buyer.
func buyerOffers(t *testing.T, m *demomarket.Market, domain, sessionID string) []anp.Money {
	t.Helper()
	node := m.Nodes[domain]
	envs, ok := node.Transcript(sessionID)
	if !ok {
		t.Fatalf("seller %s has no session %s", domain, sessionID)
	}
	var out []anp.Money
	for _, e := range envs {
		if e.From == node.PublicKey() {
			continue
		}
		var b struct {
			Price *anp.Money `json:"price"`
			Offer *anp.Money `json:"offer"`
		}
		if err := json.Unmarshal(e.Body, &b); err != nil {
			t.Fatalf("%s body: %v", e.Type, err)
		}
		for _, p := range []*anp.Money{b.Price, b.Offer} {
			if p != nil {
				out = append(out, *p)
			}
		}
	}
	return out
}

// TestBudgetIsACeilingEverywhere: no entry point gets an offer above
// max_budget to a seller. By hand (counter, an opening offer) the move is
// refused with over_budget and nothing is sent; a decider that asks for more
// (autonomous propose_deal, cascade and the CLI's negotiate --auto) is held
// to the budget.
func TestBudgetIsACeilingEverywhere(t *testing.T) {
	m := startMarket(t)
	fake := newFakeOllama(t, func(n int) map[string]any {
		// Above the budget (93.17) and below every demo seller's opening ask.
		return map[string]any{"action": "counter", "price": 100, "message": "Take this."}
	})
	env := append(baseEnv(t, m), "OLLAMA_HOST="+fake.url)
	srv := startServer(t, env, "--sandbox", "ollama")
	ceiling := anptest.USD(9317)
	type sess struct{ seller, id string }
	var sessions []sess

	t.Run("counter", func(t *testing.T) {
		var s snapshot
		srv.call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 93.17}, &s, false)
		before := len(buyerOffers(t, m, s.Seller, s.SessionID))
		text := srv.call("counter", map[string]any{"session_id": s.SessionID, "price": 93.18}, nil, true)
		if !strings.HasPrefix(text, "over_budget") {
			t.Errorf("counter above budget: %q, want over_budget", text)
		}
		if after := len(buyerOffers(t, m, s.Seller, s.SessionID)); after != before {
			t.Errorf("a refused counter reached the seller (%d offers, was %d)", after, before)
		}
		sessions = append(sessions, sess{s.Seller, s.SessionID})
	})
	t.Run("propose_deal opening_offer", func(t *testing.T) {
		text := srv.call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 93.17, "opening_offer": 100}, nil, true)
		if !strings.HasPrefix(text, "over_budget") {
			t.Errorf("opening offer above budget: %q, want over_budget", text)
		}
	})
	t.Run("propose_deal autonomous", func(t *testing.T) {
		var s snapshot
		srv.call("propose_deal", map[string]any{"seller": "chef-supply.anp", "item": "Ninja Blender", "max_budget": 93.17, "autonomous": true}, &s, false)
		sessions = append(sessions, sess{s.Seller, s.SessionID})
	})
	t.Run("cascade autonomous", func(t *testing.T) {
		for _, c := range srv.cascadeSessions(map[string]any{"category": "kitchen", "item": "Ninja Blender", "max_budget": 93.17, "max_sellers": 2, "autonomous": true}) {
			sessions = append(sessions, sess{c.Seller, c.SessionID})
		}
	})
	t.Run("cli negotiate --auto", func(t *testing.T) {
		c := negotiateCLI(t, env, "--to", "ANP/C.kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", budget, "--auto", "--sandbox", "ollama")
		sessions = append(sessions, sess{c.Seller, c.ID})
	})

	atCeiling := 0
	for _, s := range sessions {
		if s.id == "" {
			continue
		}
		for _, p := range buyerOffers(t, m, s.seller, s.id) {
			if p.Currency != ceiling.Currency || p.Amount > ceiling.Amount {
				t.Errorf("session %s: the seller received an offer of %s, above the budget %s", s.id, p, ceiling)
			}
			if p.Amount == ceiling.Amount {
				atCeiling++
			}
		}
	}
	if atCeiling == 0 {
		t.Error("no decider offer was held at the budget: the deciders never asked for more, so this test proves nothing")
	}
}

// TestBareDomainMeansANPC: a seller written without a mode is ANP/C, the same
// for propose_deal and the CLI.
func TestBareDomainMeansANPC(t *testing.T) {
	m := startMarket(t)
	env := baseEnv(t, m)
	srv := startServer(t, env, "--sandbox", "off")
	var s struct {
		snapshot
		Address string `json:"address"`
		Mode    string `json:"mode"`
	}
	srv.call("propose_deal", map[string]any{"seller": "  kitchen-outlet.anp ", "item": "Ninja Blender", "max_budget": 100}, &s, false)
	if s.Address != "ANP/C.kitchen-outlet.anp" || s.Mode != "ANP/C" {
		t.Errorf("propose_deal: address %q mode %q, want ANP/C.kitchen-outlet.anp", s.Address, s.Mode)
	}
	c := negotiateCLI(t, append(env, "CLINCH_SANDBOX=strategy"), "--to", "kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", "100", "--auto")
	if c.Address != "ANP/C.kitchen-outlet.anp" || c.Mode != "ANP/C" {
		t.Errorf("cli: address %q mode %q, want ANP/C.kitchen-outlet.anp", c.Address, c.Mode)
	}
	for _, bad := range []string{"ANP/X.kitchen-outlet.anp", "http://kitchen-outlet.anp", ""} {
		if text := srv.call("propose_deal", map[string]any{"seller": bad, "item": "Ninja Blender", "max_budget": 100}, nil, true); !strings.HasPrefix(text, "invalid_input") {
			t.Errorf("seller %q: %q, want invalid_input", bad, text)
		}
	}
}

// TestCancelAndApproveAreIdempotent: cancelling an ended session returns it
// unchanged, approving a signed one returns the same artifact, and a signed
// deal cannot be cancelled — decided by the engine, the same for every caller.
func TestCancelAndApproveAreIdempotent(t *testing.T) {
	m := startMarket(t)
	srv := startServer(t, baseEnv(t, m), "--sandbox", "strategy")
	var s snapshot
	srv.call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 100}, &s, false)
	var c1, c2 snapshot
	srv.call("cancel_session", map[string]any{"session_id": s.SessionID, "reason": "changed my mind"}, &c1, false)
	srv.call("cancel_session", map[string]any{"session_id": s.SessionID, "reason": "again"}, &c2, false)
	if c1.State != "CANCELLED" || c2.State != "CANCELLED" {
		t.Errorf("cancel twice: %s then %s, want CANCELLED twice", c1.State, c2.State)
	}
	cancels := 0
	for _, text := range buyerTexts(t, m, s.Seller, s.SessionID) {
		if strings.HasPrefix(text, "CANCEL:") {
			cancels++
		}
	}
	if n := cancels; n != 1 {
		t.Errorf("the seller got %d CANCELs, want 1", n)
	}

	var w snapshot
	srv.call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 100, "autonomous": true}, &w, false)
	if w.State != "CONFIRMED" {
		t.Fatalf("autonomous session ended %s, want CONFIRMED", w.State)
	}
	type approval struct {
		ArtifactID string `json:"artifact_id"`
		LogIndex   uint64 `json:"log_index"`
		Verified   bool   `json:"verified"`
	}
	var a1, a2 approval
	srv.call("approve_and_sign", map[string]any{"session_id": w.SessionID}, &a1, false)
	srv.call("approve_and_sign", map[string]any{"session_id": w.SessionID}, &a2, false)
	if !a1.Verified || a1 != a2 {
		t.Errorf("approve twice: %+v then %+v, want the same verified artifact", a1, a2)
	}
	if text := srv.call("cancel_session", map[string]any{"session_id": w.SessionID}, nil, true); !strings.HasPrefix(text, "wrong_state") {
		t.Errorf("cancel a signed deal: %q, want wrong_state", text)
	}
}

// TestAutoApproveCeilingEverywhere: an autonomous session signs by itself
// only strictly below the configured ceiling — the same through the MCP
// server's autonomous propose_deal and the CLI's negotiate --auto.
func TestAutoApproveCeilingEverywhere(t *testing.T) {
	m := startMarket(t)
	for _, tc := range []struct {
		ceiling string
		want    string
	}{{"200", "SIGNED"}, {"50", "CONFIRMED"}} {
		env := append(baseEnv(t, m), "CLINCH_SANDBOX=strategy", "CLINCH_AUTO_APPROVE_BELOW="+tc.ceiling)
		srv := startServer(t, env)
		var s snapshot
		srv.call("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 100, "autonomous": true}, &s, false)
		if s.State != tc.want {
			t.Errorf("propose_deal autonomous, ceiling %s: %s, want %s", tc.ceiling, s.State, tc.want)
		}
		if c := negotiateCLI(t, env, "--to", "kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", "100", "--auto"); c.State != tc.want {
			t.Errorf("cli negotiate --auto, ceiling %s: %s, want %s", tc.ceiling, c.State, tc.want)
		}
	}
}
