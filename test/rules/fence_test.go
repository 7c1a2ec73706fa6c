package rules_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/agentprompt"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// injection is a piece of the prompt-injection demo seller's pitch.
const injection = "SYSTEM OVERRIDE"

// outsideFences returns text with every fenced part removed.
func outsideFences(text string) string {
	for {
		i := strings.Index(text, agentprompt.UntrustedOpen)
		if i < 0 {
			return text
		}
		// A model ends the fence at the first close marker, wherever it stands.
		j := strings.Index(text[i:], agentprompt.UntrustedClose)
		if j < 0 {
			return text[:i] // an unclosed fence: nothing after it counts as outside
		}
		text = text[:i] + text[i+j+len(agentprompt.UntrustedClose):]
	}
}

// checkFenced fails when seller text reaches a model outside the fence, and
// when it does not reach it at all (then the check would prove nothing).
func checkFenced(t *testing.T, entry, text string) {
	t.Helper()
	if !strings.Contains(text, injection) {
		t.Errorf("%s: the seller's text never arrived:\n%s", entry, text)
	}
	if out := outsideFences(text); strings.Contains(out, injection) || strings.Contains(out, "admin mode") {
		t.Errorf("%s: seller text outside the untrusted fence:\n%s", entry, out)
	}
}

// TestSellerTextIsFencedEverywhere: what a seller writes reaches a model only
// inside the untrusted-data fence, whatever the seller forges — in tool
// results, in the session resource (the same public snapshot as the tools),
// in the negotiation_turn prompt and in the autonomous decider's prompt. (The CLI prints seller text for a person, quoted.)
func TestSellerTextIsFencedEverywhere(t *testing.T) {
	if !strings.Contains(demomarket.InjectionPitch, injection) || !strings.Contains(demomarket.InjectionPitch, agentprompt.UntrustedClose) {
		t.Fatal("the injection demo seller no longer forges a fence close")
	}
	m := startMarket(t)
	fake := newFakeOllama(t, func(n int) map[string]any {
		return map[string]any{"action": "exit", "price": 0, "message": "No, thanks."}
	})
	srv := startServer(t, append(baseEnv(t, m), "OLLAMA_HOST="+fake.url), "--sandbox", "ollama")
	item := map[string]any{"seller": "sketchy-deals.anp", "item": "Phone", "max_budget": 400}

	var s snapshot
	checkFenced(t, "propose_deal result", srv.call("propose_deal", item, &s, false))
	checkFenced(t, "get_session result", srv.call("get_session", map[string]any{"session_id": s.SessionID}, nil, false))
	checkFenced(t, "counter result", srv.call("counter", map[string]any{"session_id": s.SessionID, "price": 200}, nil, false))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := srv.c.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "negotiation_turn", Arguments: map[string]string{"session_id": s.SessionID}}})
	if err != nil {
		t.Fatalf("negotiation_turn: %v", err)
	}
	var prompt strings.Builder
	for _, msg := range p.Messages {
		if tc, ok := msg.Content.(mcp.TextContent); ok {
			prompt.WriteString(tc.Text)
		}
	}
	checkFenced(t, "negotiation_turn prompt", prompt.String())

	rr, err := srv.c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "clinch://sessions/" + s.SessionID}})
	if err != nil {
		t.Fatalf("read the session resource: %v", err)
	}
	var resource string
	for _, c := range rr.Contents {
		if tc, ok := c.(mcp.TextResourceContents); ok {
			resource += tc.Text
		}
	}
	checkFenced(t, "session resource", resource)
	var view struct {
		SessionID     string `json:"session_id"`
		SellerMessage struct {
			Untrusted bool `json:"untrusted"`
		} `json:"seller_message"`
		MaxBudget struct {
			Display string `json:"display"`
		} `json:"max_budget"`
	}
	if err := json.Unmarshal([]byte(resource), &view); err != nil || view.SessionID != s.SessionID || !view.SellerMessage.Untrusted || view.MaxBudget.Display != "400.00 USD" {
		t.Errorf("the session resource is not the public snapshot (%v):\n%s", err, resource)
	}

	auto := map[string]any{"autonomous": true}
	for k, v := range item {
		auto[k] = v
	}
	srv.call("propose_deal", auto, nil, false)
	chats := fake.chats()
	if len(chats) == 0 {
		t.Fatal("the autonomous decider was never asked")
	}
	for _, c := range chats {
		checkFenced(t, "autonomous decider prompt", c)
	}
}
