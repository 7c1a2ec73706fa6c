package rules_test

import (
	"strings"
	"testing"
)

// budget is the buyer's max_budget in every test here: 93.17 USD.
const budget = "93.17"

// budgetSpellings are buyer texts that name the budget, each in another
// spelling. None of them may reach a seller, whatever the entry point.
var budgetSpellings = []string{
	"My hard limit is 93.17.",
	"I can go to $93.17 at most.",
	"Budget: USD 93.17, no more.",
	"93,17 is my ceiling.",
	"Up to 93.170 and not a cent above.",
	"I have 93 dollars and 17 cents for this.",
	"9317 cents, not one more.",
	"Ninety-three dollars and seventeen cents is all I have.",
	"93.17USD max",
	"My limit is 1,093.17 minus a thousand, so 93.17.",
}

// control is a buyer text that names no budget: it must arrive unchanged, so
// the tests would notice if buyer texts never reached the seller at all.
const control = "Blue 42 is a fine colour."

// leaks reports whether a text the seller received names the budget in any
// of the spellings above.
func leaks(text string) bool {
	low := strings.ToLower(text)
	return strings.Contains(low, "93") || strings.Contains(low, "ninety")
}

// checkTexts fails the test for a text that names the budget and reports
// whether the control text arrived.
func checkTexts(t *testing.T, entry string, texts []string) (controlSeen bool) {
	t.Helper()
	for _, s := range texts {
		if leaks(s) {
			t.Errorf("%s: the seller received the budget: %q", entry, s)
		}
		if strings.HasSuffix(s, ": "+control) {
			controlSeen = true
		}
	}
	return controlSeen
}

type snapshot struct {
	SessionID    string   `json:"session_id"`
	Seller       string   `json:"seller"`
	State        string   `json:"state"`
	AllowedMoves []string `json:"allowed_moves"`
}

func (s snapshot) may(move string) bool {
	for _, m := range s.AllowedMoves {
		if m == move {
			return true
		}
	}
	return false
}

// TestBudgetNeverReachesTheSellerInText: a counter message (counter tool), a
// cancel reason (cancel_session tool), the autonomous decider's messages and
// exit reason (propose_deal and cascade with autonomous, and the CLI's
// negotiate --auto) — every text the buyer side writes is checked by the
// engine, and the budget in any spelling never reaches the seller.
func TestBudgetNeverReachesTheSellerInText(t *testing.T) {
	m := startMarket(t)
	// The autonomous decider: a model that names the budget in every message
	// and exits after four counters, giving the budget as its reason.
	fake := newFakeOllama(t, func(n int) map[string]any {
		msg := budgetSpellings[n%len(budgetSpellings)]
		if n%5 == 4 {
			return map[string]any{"action": "exit", "price": 0, "message": msg}
		}
		return map[string]any{"action": "counter", "price": 40 + 2*(n%5), "message": msg}
	})
	env := append(baseEnv(t, m), "OLLAMA_HOST="+fake.url)
	srv := startServer(t, env, "--sandbox", "ollama")
	item := map[string]any{"seller": "kitchen-outlet.anp", "item": "Ninja Blender", "max_budget": 93.17, "max_turns": 30}
	var sessions []snapshot

	t.Run("counter", func(t *testing.T) {
		texts := append([]string{control}, budgetSpellings...)
		var s snapshot
		price := 40.0
		for _, text := range texts {
			if !s.may("counter") {
				srv.call("propose_deal", item, &s, false)
				sessions = append(sessions, s)
				price = 40
			}
			price++
			srv.call("counter", map[string]any{"session_id": s.SessionID, "price": price, "message": text}, &s, false)
		}
	})
	t.Run("cancel_session", func(t *testing.T) {
		for _, text := range budgetSpellings {
			var s snapshot
			srv.call("propose_deal", item, &s, false)
			srv.call("cancel_session", map[string]any{"session_id": s.SessionID, "reason": text}, &s, false)
			if s.State != "CANCELLED" {
				t.Fatalf("cancel: state %s", s.State)
			}
			sessions = append(sessions, s)
		}
	})
	t.Run("propose_deal autonomous", func(t *testing.T) {
		for range 3 {
			var s snapshot
			auto := map[string]any{"autonomous": true}
			for k, v := range item {
				auto[k] = v
			}
			srv.call("propose_deal", auto, &s, false)
			if s.State != "CANCELLED" {
				t.Fatalf("autonomous session ended %s, want CANCELLED (the decider exits)", s.State)
			}
			sessions = append(sessions, s)
		}
	})
	t.Run("cascade autonomous", func(t *testing.T) {
		sessions = append(sessions, srv.cascadeSessions(map[string]any{"category": "kitchen", "item": "Ninja Blender", "max_budget": 93.17, "max_sellers": 2, "autonomous": true})...)
	})
	t.Run("cli negotiate --auto", func(t *testing.T) {
		for range 2 {
			c := negotiateCLI(t, env, "--to", "kitchen-outlet.anp", "--item", "Ninja Blender", "--max-budget", budget, "--max-turns", "30", "--auto", "--sandbox", "ollama")
			sessions = append(sessions, snapshot{SessionID: c.ID, Seller: c.Seller, State: c.State})
		}
	})

	var all []string
	for _, s := range sessions {
		if s.SessionID == "" {
			continue
		}
		all = append(all, buyerTexts(t, m, s.Seller, s.SessionID)...)
	}
	if !checkTexts(t, "all entry points", all) {
		t.Errorf("the control text never reached the seller: buyer texts do not arrive, so this test proves nothing")
	}
	if len(all) < 2*len(budgetSpellings) {
		t.Errorf("only %d buyer texts reached the sellers", len(all))
	}
	t.Logf("%d sessions, %d buyer texts checked at the sellers", len(sessions), len(all))
}
