package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
)

var sellerPriceLine = regexp.MustCompile(`(?m)^- seller's last price: ([0-9.]+) USD$`)

// hostileModel is an Ollama server whose "model" tries every way out of the
// budget in turn: accepting whatever is asked, bidding just under the
// seller, bidding far above everything, answering garbage, and sometimes a
// sensible counter.
func hostileModel(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat" {
			http.NotFound(w, r)
			return
		}
		var req api.ChatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("hostile model: %v", err)
			return
		}
		m := sellerPriceLine.FindStringSubmatch(req.Messages[0].Content)
		if m == nil {
			t.Errorf("no seller price in the prompt:\n%s", req.Messages[0].Content)
			return
		}
		ask, _ := strconv.ParseFloat(m[1], 64)
		mu.Lock()
		k := n
		n++
		mu.Unlock()
		var content string
		switch k % 5 {
		case 0:
			content = fmt.Sprintf(`{"action":"accept","price":%.2f,"message":"Deal at your price."}`, ask)
		case 1:
			content = fmt.Sprintf(`{"action":"counter","price":%.2f,"message":"Just under you."}`, ask-0.01)
		case 2:
			content = `{"action":"counter","price":1e9,"message":"Name your price."}`
		case 3:
			content = `{"action":"counter","price":"a lot"}`
		default:
			content = fmt.Sprintf(`{"action":"counter","price":%.2f,"message":"Meet us here."}`, ask*0.7)
		}
		json.NewEncoder(w).Encode(api.ChatResponse{Model: sandbox.DefaultModel, Message: api.Message{Role: "assistant", Content: content}, Done: true})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Even a model that tries to overpay never produces a deal above the budget
// or without a zone of agreement: the Ollama decider's checks, its fallback
// and buyer.Guard hold.
func TestHostileModelStaysInsideTheBudget(t *testing.T) {
	srv := hostileModel(t)
	var logs bytes.Buffer
	d, err := sandbox.NewOllamaDecider(sandbox.OllamaConfig{Host: srv.URL, HTTP: srv.Client(), Timeout: 5 * time.Second, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	rep := RunBenchmark(Config{Seed: 5, Scenarios: 60, Split: SplitTuned}, map[string]buyer.Decider{"ollama:hostile": d})
	row := rep.Rows[0]
	if row.AboveBudget != 0 || row.NoZoneDeals != 0 || row.Errors != 0 {
		t.Fatalf("hostile model: %d deals above budget, %d without a zone, %d errors\n%s", row.AboveBudget, row.NoZoneDeals, row.Errors, rep.Markdown())
	}
	if row.ZoneDeals == 0 {
		t.Fatalf("hostile model: no deals\n%s", rep.Markdown())
	}
	for _, want := range []string{"guardrail: accept refused", "guardrail: offer clamped to max_budget", "model reply rejected; asking once more", "falling back to the strategy decider"} {
		if !bytes.Contains(logs.Bytes(), []byte(want)) {
			t.Errorf("the run never logged %q", want)
		}
	}
}
