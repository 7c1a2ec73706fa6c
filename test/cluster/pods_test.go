package cluster_test

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
)

// sharedStores are the stores several pods can share: a fresh Postgres
// schema and a fresh Redis key prefix per test. Each skips with a clear
// message when its server is missing (and fails under CI=true).
func sharedStores() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"postgres": func(t *testing.T) string { dsn, _ := pgtest.NewSchema(t); return dsn },
		"redis": func(t *testing.T) string {
			prefix := redistest.NewPrefix(t)
			u := redistest.URL()
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			return u + sep + "prefix=" + url.QueryEscape(prefix)
		},
	}
}

// TestPodsShareSessions: two `serve --transport http` processes share one
// store; propose on one, counter on the other, approve on the first. One
// coherent transcript, a verifying artifact, and concurrent counters from
// both pods on one turn apply exactly once.
func TestPodsShareSessions(t *testing.T) {
	for name, newStore := range sharedStores() {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			m := startMarket(t, sellerSpec{domain: "kitchen-outlet.anp"})
			key := newKeyFile(t)
			a := startPod(t, "pod-a", m, key, store)
			b := startPod(t, "pod-b", m, key, store)

			s := a.ok("propose_deal", map[string]any{"seller": "kitchen-outlet.anp", "item": "Blender", "max_budget": 100})
			id := s["session_id"].(string)
			b.ok("counter", map[string]any{"session_id": id, "price": 60})
			a.ok("counter", map[string]any{"session_id": id, "price": 70})
			b.ok("counter", map[string]any{"session_id": id, "price": 80})

			// Both pods answer turn 4 at once: exactly one applies.
			var wg sync.WaitGroup
			res := make([]*mcp.CallToolResult, 8)
			for i := range res {
				p := a
				if i%2 == 1 {
					p = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = p.call("counter", map[string]any{"session_id": id, "price": 94, "turn": 4})
				}()
			}
			wg.Wait()
			applied := 0
			for _, r := range res {
				if !r.IsError {
					applied++
				} else if !strings.HasPrefix(resultText(r), "conflict:") {
					t.Errorf("unexpected error: %s", resultText(r))
				}
			}
			if applied != 1 {
				t.Fatalf("%d concurrent counters applied, want exactly 1", applied)
			}
			s = b.ok("get_session", map[string]any{"session_id": id})
			if s["state"] != "CONFIRMED" || s["turn"].(float64) != 5 {
				t.Fatalf("after the race: %v", s)
			}
			ap := a.ok("approve_and_sign", map[string]any{"session_id": id})
			if ap["verified"] != true {
				t.Fatalf("approve: %v", ap)
			}
			// One coherent transcript: both pods read the same chain.
			ta, _ := a.c.ReadResource(t.Context(), readReq("clinch://sessions/"+id+"/transcript"))
			tb, _ := b.c.ReadResource(t.Context(), readReq("clinch://sessions/"+id+"/transcript"))
			if resourceText(ta) == "" || resourceText(ta) != resourceText(tb) {
				t.Fatal("the pods see different transcripts")
			}
			if n := strings.Count(resourceText(ta), `"seq"`); n != 12 {
				t.Fatalf("transcript has %d envelopes, want 12", n)
			}
			file := writeArtifact(t, b, id)
			verifyFile(t, file, m.rootKey)
		})
	}
}

// TestAsyncReplyReachesAnotherPod: the seller answers asynchronously after
// the pod that sent the counter has been stopped; the other pod (same buyer
// identity, same store) receives the callback and processes it exactly once.
func TestAsyncReplyReachesAnotherPod(t *testing.T) {
	for name, newStore := range sharedStores() {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			m := startMarket(t, sellerSpec{domain: "slow-shop.anp", async: true, delay: "1500ms"})
			key := newKeyFile(t)
			a := startPod(t, "pod-a", m, key, store)
			b := startPod(t, "pod-b", m, key, store)
			s := a.ok("propose_deal", map[string]any{"seller": "slow-shop.anp", "item": "Kettle", "max_budget": 100})
			id := s["session_id"].(string)
			s = a.ok("counter", map[string]any{"session_id": id, "price": 60, "wait_seconds": 0}) // return at once: pod A dies before the answer
			if s["awaiting_seller"] != true {
				t.Fatalf("counter did not wait for the seller: %v", s)
			}
			a.proc.kill() // pod A dies before the seller answers
			b.proc.waitFor(regexp.MustCompile(`"session":"` + id + `".*"seq":4|"seq":4.*"session":"` + id + `"|applied seller answer`))
			got := b.ok("get_session", map[string]any{"session_id": id})
			if got["awaiting_seller"] != false || got["state"] != "COUNTERED" || got["last_seller_price"] == nil {
				t.Fatalf("pod B did not process the answer: %v", got)
			}
			if n := strings.Count(b.proc.output(), "applied seller answer"); n != 1 {
				t.Fatalf("pod B applied the answer %d times, want exactly 1", n)
			}
			// The negotiation goes on from pod B to a verified deal.
			c := startPod(t, "pod-c", m, key, store)
			for _, p := range []float64{70, 80, 94} {
				got = c.ok("counter", map[string]any{"session_id": id, "price": p})
				if got["awaiting_seller"] == true {
					waitAnswered(t, c, id)
				}
			}
			got = c.ok("get_session", map[string]any{"session_id": id})
			if got["state"] != "CONFIRMED" {
				t.Fatalf("state %v", got["state"])
			}
			if ap := b.ok("approve_and_sign", map[string]any{"session_id": id}); ap["verified"] != true {
				t.Fatalf("approve: %v", ap)
			}
		})
	}
}

func waitAnswered(t *testing.T, p *pod, id string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		s := p.ok("get_session", map[string]any{"session_id": id})
		if s["awaiting_seller"] == false {
			return
		}
		sleep()
	}
	t.Fatalf("seller never answered session %s", id)
}
