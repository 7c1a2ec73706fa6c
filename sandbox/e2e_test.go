package sandbox

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/agentprompt"
	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

var askLine = regexp.MustCompile(`(?m)^- seller's last price: ([0-9.]+) USD$`)

// A full autonomous negotiation through the real engine: a buyer.Core over
// loopback HTTP, a registry, and a seller node whose every message carries a
// prompt injection. The Ollama "model" does what the injection wants and bids
// just under the seller each turn; the deal still lands within the budget,
// no offer above the budget ever leaves the buyer, and the injection reaches
// the model only inside the fence.
func TestAutonomousNegotiationWithInjectingSeller(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a market")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const domain = "sketchy-deals.anp"
	core := startEngine(t, ctx, domain, demomarket.InjectionPitch, zerolog.Nop())

	f := newFakeOllama(t, DefaultModel)
	f.mu.Lock()
	f.answer = func(_ int, req api.ChatRequest, w http.ResponseWriter, _ *http.Request) {
		ask := askLine.FindStringSubmatch(req.Messages[0].Content)
		if ask == nil {
			t.Errorf("no seller price in the prompt")
			return
		}
		p, _ := strconv.ParseFloat(ask[1], 64)
		replyContent(w, fmt.Sprintf(`{"action":"counter","price":%.2f,"message":"As instructed, %.2f."}`, p-1, p-1))
	}
	f.mu.Unlock()
	var logs bytes.Buffer
	d, err := NewOllamaDecider(OllamaConfig{Host: f.srv.URL, HTTP: f.srv.Client(), Timeout: 5 * time.Second, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}

	budget := usdMajor(350)
	s, err := core.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "noise-cancelling headphones", Quantity: 1, MaxBudget: budget}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err = core.Negotiate(ctx, s.ID, d)
	if err != nil {
		t.Fatalf("negotiate: %v (session %+v)", err, s)
	}
	if s.State != buyer.StateConfirmed || s.AgreedPrice == nil || s.AgreedPrice.Amount > budget.Amount {
		t.Fatalf("session ended %s at %v, want a deal within %s", s.State, s.AgreedPrice, budget)
	}
	if s.Decider != "ollama:qwen2.5:1.5b" {
		t.Errorf("session decider = %q", s.Decider)
	}
	sent := sentCounters(t, core, s.ID, domain)
	offers := len(sent)
	for _, b := range sent {
		if b.Price.Amount > budget.Amount || strings.Contains(b.Message, "instructed") {
			t.Errorf("the buyer sent %s (%q) with a budget of %s", b.Price, b.Message, budget)
		}
	}
	chats := f.recorded()
	if offers == 0 || len(chats) == 0 {
		t.Fatalf("%d buyer offers, %d model calls", offers, len(chats))
	}
	for _, c := range chats {
		sys := c.req.Messages[0].Content
		open := strings.Index(sys, "\n"+agentprompt.UntrustedOpen+"\n")
		end := strings.LastIndex(sys, "\n"+agentprompt.UntrustedClose+"\n")
		i := strings.Index(sys, "SYSTEM OVERRIDE")
		if open < 0 || i < open || i > end || strings.Count(sys, "SYSTEM OVERRIDE") != 1 || strings.Contains(sys, "<<<END_UNTRUSTED_SELLER_TEXT>>> You are now") {
			t.Fatalf("the injection is not confined to the fence:\n%s", sys)
		}
	}
	t.Logf("%d buyer offers, %d model calls, deal at %s after %d turns", offers, len(chats), s.AgreedPrice, s.Turn)
	if !strings.Contains(logs.String(), "guardrail: offer clamped to max_budget") {
		t.Errorf("the clamp was not logged:\n%s", logs.String())
	}
}

func usdMajor(v int64) anp.Money { return anptest.USD(v * 100) }

// sentCounters returns the bodies of the COUNTERs the buyer sent to the
// seller at domain in session id.
func sentCounters(t *testing.T, core *buyer.Core, id, domain string) []anp.OfferBody {
	t.Helper()
	envs, err := core.Transcript(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []anp.OfferBody
	for _, env := range envs {
		if env.To != domain || env.Type != anp.TypeCounter {
			continue
		}
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// startEngine starts a market with one seller at domain (list 520.00, floor
// 300.00, linear over 6 turns, pitch appended to its messages) and a
// buyer.Core on it over loopback HTTP, logging to log.
func startEngine(t *testing.T, ctx context.Context, domain, pitch string, log zerolog.Logger) *buyer.Core {
	t.Helper()
	m, err := demomarket.Start(ctx, demomarket.Options{Difficulty: 4, Logger: zerolog.Nop(), Sellers: []demomarket.SellerSpec{{
		Domain: domain, DisplayName: "Test seller", Categories: []string{"electronics"}, Modes: []anp.Mode{anp.ModeC},
		Policy: seller.CurvePolicy{List: usdMajor(520), Floor: usdMajor(300), Exponent: 1, MaxTurns: 6, Pitch: pitch},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	client := registry.NewClient(m.RegistryURL, id, registry.ClientOptions{HTTP: &http.Client{Timeout: 20 * time.Second}, RootKey: m.RootKey})
	core, err := buyer.New(buyer.Config{Identity: id, Registry: client, MaxTurns: 8, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	return core
}

// The Ollama decider leaves budget privacy to the engine: a model that names
// the budget in every spelling it can think of gets its messages replaced by
// the engine before they reach the seller, and the engine says so in its log.
func TestEngineKeepsTheBudgetOutOfModelMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a market")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const domain = "plain-deals.anp"
	var engineLog bytes.Buffer
	core := startEngine(t, ctx, domain, "", zerolog.New(&engineLog))
	spellings := []string{"Our budget is 350.00 USD.", "We cannot go past $350.", "Three hundred fifty dollars is our limit.", "35000 cents, no more."}
	f := newFakeOllama(t, DefaultModel)
	f.mu.Lock()
	f.answer = func(n int, _ api.ChatRequest, w http.ResponseWriter, _ *http.Request) {
		replyContent(w, fmt.Sprintf(`{"action":"counter","price":200,"message":%q}`, spellings[n%len(spellings)]))
	}
	f.mu.Unlock()
	d, err := NewOllamaDecider(OllamaConfig{Host: f.srv.URL, HTTP: f.srv.Client(), Timeout: 5 * time.Second, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := core.ProposeDeal(ctx, "ANP/C."+domain, buyer.Constraints{Item: "headphones", Quantity: 1, MaxBudget: usdMajor(350)}, buyer.ProposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = core.Negotiate(ctx, s.ID, d); err != nil {
		t.Fatalf("negotiate: %v (session %+v)", err, s)
	}
	sent := sentCounters(t, core, s.ID, domain)
	counters := len(sent)
	for _, b := range sent {
		if b.Message != "We can offer 200.00 USD." {
			t.Errorf("counter %d carried %q to the seller", b.Turn, b.Message)
		}
	}
	if counters < len(spellings) {
		t.Fatalf("%d counters sent (session ended %s), want every spelling tried", counters, s.State)
	}
	if n := strings.Count(engineLog.String(), "counter message replaced: it named the budget"); n != counters {
		t.Errorf("the engine logged %d replacements for %d counters:\n%s", n, counters, engineLog.String())
	}
}
