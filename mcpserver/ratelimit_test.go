package mcpserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/secrets"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// TestRateLimitedReachesTheModel: the registry's rate limits reach the
// model as the tool error rate_limited with advice to wait, not as
// internal_error. A real registry on loopback with a clock that never moves
// (so no bucket refills during the test) allows one new session per buyer
// identity and a burst of 20 logins per address: the buyer's second
// propose_deal is refused (the relay's 429 names the wait in its message),
// and once the test has spent the address's logins a second buyer's
// discover_sellers is refused by a 429 whose Retry-After (30 s) the advice
// repeats. Nothing of the refused requests reached the seller.
func TestRateLimitedReachesTheModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clock := anptest.NewClock(time.Now())
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	reg, err := registry.New(ctx, registry.Config{Root: root, Ledger: memstore.NewLedger(), Difficulty: 4, OpenEnrollment: true,
		AllowPrivateEndpoints: true, SessionRate: 1.0 / 60, SessionBurst: 1, AuthRate: 1.0 / 30, AuthBurst: 20,
		Now: clock.Now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	regTS := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { regTS.Close(); _ = reg.Close() })
	rootKey := anp.PublicKeyHex(root.Public().(ed25519.PublicKey))

	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	pol := seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 6}
	node, err := seller.NewNode(seller.Config{Domain: "limits-shop.anp", Identity: sk, Policy: &pol, Categories: []string{"kitchen"},
		Registry: registry.NewClient(regTS.URL, sk, registry.ClientOptions{RootKey: rootKey}), Demo: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sellerTS := httptest.NewServer(node.Handler())
	t.Cleanup(func() { sellerTS.Close(); _ = node.Close() })
	if _, err := node.Register(ctx, sellerTS.URL, ""); err != nil {
		t.Fatal(err)
	}

	first := rateLimitHarness(t, regTS.URL, rootKey)
	var s snap
	first.ok("propose_deal", map[string]any{"seller": "ANP/C.limits-shop.anp", "item": "Kettle", "max_budget": 100}, &s)
	msg := first.fail("propose_deal", map[string]any{"seller": "ANP/C.limits-shop.anp", "item": "Kettle", "max_budget": 100}, "rate_limited")
	for _, want := range []string{"too many new sessions for your identity", "try again in", "Wait as long as the message says", "switching sellers does not help"} {
		if !strings.Contains(msg, want) {
			t.Errorf("second propose_deal: %q lacks %q", msg, want)
		}
	}
	if n := node.Stats().Sessions; n != 1 {
		t.Errorf("the seller holds %d sessions, want the first only", n)
	}

	second := rateLimitHarness(t, regTS.URL, rootKey)
	for i := 0; ; i++ { // spend what is left of this address's login burst
		if i == 20 {
			t.Fatal("20 challenge requests and no 429: the login limit is not applied")
		}
		if challengeStatus(t, regTS.URL) == http.StatusTooManyRequests {
			break
		}
	}
	msg = second.fail("discover_sellers", map[string]any{"category": "kitchen"}, "rate_limited")
	for _, want := range []string{"too many challenge and token requests from your address", "Wait 30 seconds, then call the tool again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("discover_sellers past the login limit: %q lacks %q", msg, want)
		}
	}
}

// rateLimitHarness is an MCP server over a fresh buyer identity that uses
// the registry at url; it logs in on its first tool call.
func rateLimitHarness(t *testing.T, url, rootKey string) *harness {
	t.Helper()
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	logs := &lockedWriter{b: &strings.Builder{}}
	log := zerolog.New(logs)
	core, err := buyer.New(buyer.Config{Identity: id, Logger: log,
		Registry: registry.NewClient(url, id, registry.ClientOptions{RootKey: rootKey, Logger: log})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	red := secrets.NewRedactor(hex.EncodeToString(id.Seed()))
	srv := mcpserver.New(&tools.Deps{Core: core, RegistryRootKey: rootKey, Secrets: tools.NewSecretFilter(red), Logger: log}, log)
	return &harness{t: t, core: core, identity: id, client: inProcess(t, srv.MCPServer), logs: logs}
}

// challengeStatus asks the registry for a login challenge and returns the
// HTTP status of its answer.
func challengeStatus(t *testing.T, url string) int {
	t.Helper()
	_, id, _ := ed25519.GenerateKey(rand.Reader)
	body, _ := json.Marshal(anp.ChallengeRequest{PubKey: anp.PublicKeyHex(id.Public().(ed25519.PublicKey))})
	resp, err := http.Post(url+anp.RouteChallenge, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
