package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// fakeOllama speaks Ollama's real API (/api/version, /api/tags, /api/show,
// /api/chat). Its "model" reads the negotiation state from the prompt and
// concedes in steps, accepting once the seller is within reach.
func fakeOllama(t *testing.T, chats *atomic.Int64) *httptest.Server {
	num := func(re *regexp.Regexp, s string) float64 {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	sellerRe := regexp.MustCompile(`seller's last price: ([0-9.]+)`)
	budgetRe := regexp.MustCompile(`maximum budget: ([0-9.]+)`)
	ownRe := regexp.MustCompile(`your last offer: ([0-9.]+)`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"version":"0.17.4"}`) })
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"models":[{"name":"qwen2.5:1.5b","model":"qwen2.5:1.5b","size":986061892}]}`)
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"details":{"family":"qwen2"},"model_info":{"qwen2.context_length":32768},"capabilities":["completion"]}`)
	})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		chats.Add(1)
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
			Stream   *bool                      `json:"stream"`
			Format   json.RawMessage            `json:"format"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Stream == nil || *req.Stream || len(req.Format) == 0 {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		prompt := req.Messages[0].Content
		seller, budget, own := num(sellerRe, prompt), num(budgetRe, prompt), num(ownRe, prompt)
		reply := map[string]any{"action": "counter", "message": "Could you do better?"}
		switch {
		case seller > 0 && seller <= budget*0.9:
			reply = map[string]any{"action": "accept", "price": seller, "message": "Deal."}
		default:
			offer := max(own+budget*0.06, budget*0.55)
			if offer >= seller {
				offer = seller - 1
			}
			reply["price"] = float64(int(offer*100)) / 100
		}
		content, _ := json.Marshal(reply)
		out, _ := json.Marshal(map[string]any{"model": "qwen2.5:1.5b", "message": map[string]any{"role": "assistant", "content": string(content)}, "done": true, "done_reason": "stop"})
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Write(append(out, '\n'))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestAutonomousProposeAndCascade: with the sandbox on, propose_deal and
// cascade with autonomous:true run until approval is required — no further
// tool calls — and cascade reports progress. Once with the Ollama decider
// (against a server speaking Ollama's API) and once with the strategy that
// auto mode falls back to when Ollama does not answer.
func TestAutonomousProposeAndCascade(t *testing.T) {
	var chats atomic.Int64
	ollama := fakeOllama(t, &chats)
	cases := []struct {
		name, host, wantDecider string
	}{
		{"ollama", ollama.URL, "ollama:qwen2.5:1.5b"},
		{"fallback", "http://127.0.0.1:1", "strategy:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, desc, err := sandbox.Select(context.Background(), sandbox.ModeAuto, sandbox.OllamaConfig{Host: tc.host, Logger: zerolog.Nop()}, zerolog.Nop())
			if err != nil || !strings.HasPrefix(desc, tc.wantDecider) {
				t.Fatalf("select: %q, %v", desc, err)
			}
			h := newHarness(t, harnessOpts{decider: d})
			var s snap
			h.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100, "autonomous": true}, &s)
			if s.State != "CONFIRMED" || !strings.HasPrefix(s.Decider, tc.wantDecider) {
				t.Fatalf("autonomous propose: state %s decider %q (%s)", s.State, s.Decider, s.Reason)
			}
			if s.AgreedPrice.Amount > 100 || s.Turn < 3 {
				t.Fatalf("autonomous deal: %+v", s)
			}
			// The cascade runs over real stdio, where progress is strictly
			// ordered before the result.
			c := startStdio(t, mcpserver.New(&tools.Deps{Core: h.core, Decider: d, RegistryRootKey: h.market.RootKey, Logger: zerolog.Nop()}, zerolog.Nop()))
			var res cascadeResult
			progress := c.callWithProgress("cascade", map[string]any{"category": "kitchen", "item": "Mixer", "max_budget": 100, "strategy": "sequential",
				"autonomous": true, "per_seller_timeout_seconds": 20}, "autonomous-cascade", &res)
			out := res.StructuredContent
			if res.IsError || out.Winner == nil || out.Winner.State != "CONFIRMED" || !strings.HasPrefix(out.Winner.Decider, tc.wantDecider) {
				t.Fatalf("cascade: %+v", res)
			}
			checkCascadeProgress(t, progress, res)
			if len(progress) < 3 {
				t.Fatalf("%d progress notifications for %d sellers", len(progress), len(out.Outcomes))
			}
		})
	}
	if chats.Load() == 0 {
		t.Fatal("the Ollama decider never asked the model")
	}
}
