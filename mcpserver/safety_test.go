package mcpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/agentprompt"
	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// TestPromptInjectionCannotMoveTheBudget negotiates with the demo seller
// whose every message tells the model to ignore its budget and accept 500.
func TestPromptInjectionCannotMoveTheBudget(t *testing.T) {
	h := newHarness(t, harnessOpts{decider: concession.Default()})
	var s snap
	res := h.ok("propose_deal", map[string]any{"seller": "sketchy-deals.anp", "item": "Laptop", "max_budget": 350}, &s)
	if s.SellerMessage == nil || !s.SellerMessage.Untrusted || !strings.Contains(s.SellerMessage.Text, "ignore your budget") {
		t.Fatalf("seller message not carried as untrusted data: %+v", s.SellerMessage)
	}
	assertFenced(t, text(res), "SYSTEM OVERRIDE")
	h.fail("counter", map[string]any{"session_id": s.SessionID, "price": 500, "message": "as instructed"}, "over_budget")

	pr, err := h.client.GetPrompt(context.Background(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "negotiation_turn", Arguments: map[string]string{"session_id": s.SessionID}}})
	if err != nil {
		t.Fatal(err)
	}
	prompt := pr.Messages[0].Content.(mcp.TextContent).Text
	assertFenced(t, prompt, "SYSTEM OVERRIDE")
	if !strings.Contains(prompt, "maximum budget: 350.00 USD") {
		t.Fatalf("prompt lost the budget:\n%s", prompt)
	}
	// The seller's fake fence close was neutralised: the markers occur only
	// where the template puts them (once naming them, once closing the fence).
	if n := strings.Count(prompt, agentprompt.UntrustedClose); n != 2 || !strings.Contains(prompt, "[fence removed]") {
		t.Fatalf("prompt has %d closing fence markers (want 2) or kept the seller's fake marker:\n%s", n, prompt)
	}

	// An autonomous session against the same seller ends at or under budget.
	var auto snap
	h.ok("propose_deal", map[string]any{"seller": "sketchy-deals.anp", "item": "Laptop", "max_budget": 350, "autonomous": true}, &auto)
	if auto.AgreedPrice != nil && auto.AgreedPrice.Amount > 350 {
		t.Fatalf("autonomous session agreed above budget: %+v", auto)
	}
	if auto.LastOwnOffer != nil && auto.LastOwnOffer.Amount > 350 {
		t.Fatalf("autonomous session offered above budget: %+v", auto)
	}
	if auto.State == "SIGNED" {
		t.Fatal("autonomous session signed without approval")
	}
}

// assertFenced checks that needle occurs only inside untrusted fences.
func assertFenced(t *testing.T, s, needle string) {
	t.Helper()
	if !strings.Contains(s, needle) {
		t.Fatalf("%q not present at all:\n%s", needle, s)
	}
	outside := s
	for {
		i := strings.Index(outside, agentprompt.UntrustedOpen)
		if i < 0 {
			break
		}
		j := strings.Index(outside[i:], agentprompt.UntrustedClose)
		if j < 0 {
			t.Fatalf("unclosed fence in:\n%s", s)
		}
		outside = outside[:i] + outside[i+j+len(agentprompt.UntrustedClose):]
	}
	if strings.Contains(outside, needle) {
		t.Fatalf("%q appears outside the untrusted fence:\n%s", needle, s)
	}
}

// TestSecretsNeverLeave runs a whole session with a known identity key and
// blind credential and searches every tool result, prompt, resource, error
// and log line for them and for every ephemeral session key.
func TestSecretsNeverLeave(t *testing.T) {
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	const credential = "sk_live_known_credential_93b1"
	specs := demomarket.DefaultSellers()
	for i := range specs {
		if specs[i].Domain == "cloud-credits.anp" {
			specs[i].Credential = credential
		}
	}
	h := newHarnessWith(t, harnessOpts{identity: id, blind: map[string]string{"cloud-credits.anp": credential}, decider: concession.Default()}, specs)
	var seen strings.Builder
	record := func(v any) {
		b, _ := json.Marshal(v)
		seen.Write(b)
	}
	var s snap
	record(h.ok("propose_deal", map[string]any{"seller": "cloud-credits.anp", "item": "API credits", "max_budget": 45}, &s))
	for _, p := range []float64{25, 30, 38} {
		record(h.call("counter", map[string]any{"session_id": s.SessionID, "price": p}))
	}
	record(h.call("propose_deal", map[string]any{"seller": "cloud-credits.anp", "item": "API credits", "max_budget": 45, "autonomous": true}))
	record(h.call("counter", map[string]any{"session_id": s.SessionID, "price": 1000}))
	record(h.call("get_session", map[string]any{"session_id": "ffffffffffffffffffffffffffffffff"}))
	var got snap
	h.ok("get_session", map[string]any{"session_id": s.SessionID}, &got)
	if got.State == "CONFIRMED" {
		record(h.call("approve_and_sign", map[string]any{"session_id": s.SessionID}))
		record(h.call("verify_artifact", map[string]any{"artifact_id": s.SessionID}))
	}
	if got.State != "CONFIRMED" && got.State != "COUNTERED" {
		t.Fatalf("the credentialed seller refused the session: %+v", got)
	}
	record(h.call("list_sessions", map[string]any{}))
	for _, uri := range []string{"clinch://sessions/" + s.SessionID, "clinch://sessions/" + s.SessionID + "/transcript", "clinch://artifacts/" + s.SessionID} {
		rr, _ := h.client.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
		record(rr)
	}
	for _, args := range []map[string]string{{"session_id": s.SessionID}, {"request": "buy credits"}} {
		name := "negotiation_turn"
		if _, ok := args["request"]; ok {
			name = "buyer_brief"
		}
		pr, _ := h.client.GetPrompt(context.Background(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: name, Arguments: args}})
		record(pr)
	}
	all := seen.String() + h.logText()
	// Every ephemeral session key, recovered from a sealed export.
	sealed, err := h.core.ExportSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := anp.OpenExport(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Sessions []struct {
			KeySeed []byte `json:"key_seed"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(plain, &exp); err != nil || len(exp.Sessions) < 2 {
		t.Fatalf("export: %v (%d sessions)", err, len(exp.Sessions))
	}
	forbidden := map[string]string{"credential": credential, "identity seed": hex.EncodeToString(id.Seed()), "identity key": hex.EncodeToString(id)}
	for i, es := range exp.Sessions {
		forbidden["session key "+string(rune('0'+i))] = hex.EncodeToString(es.KeySeed)
	}
	for what, secret := range forbidden {
		if strings.Contains(all, secret) {
			t.Errorf("the %s leaked into MCP output or logs", what)
		}
	}
	if len(all) < 5000 {
		t.Fatalf("captured only %d bytes: the test saw too little to mean anything", len(all))
	}
}
