package seller

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// countingChain is the test key chain behind a cache as registry.Client
// keeps one: it counts the fetches from the registry, made only for a key
// index the cached chain does not hold. answer, when set, replaces the
// chain it returns.
type countingChain struct {
	chainOnly
	fetches atomic.Int64
	cached  atomic.Int64 // length of the chain fetched last
	answer  *anp.KeysResponse
}

func (c *countingChain) KeyChainFor(ctx context.Context, kid uint64) (*anp.KeysResponse, error) {
	if kid >= uint64(c.cached.Load()) {
		c.fetches.Add(1)
		c.cached.Store(int64(len(testRegistry.keys.Chain)))
	}
	if c.answer != nil {
		return c.answer, nil
	}
	return c.chainOnly.KeyChainFor(ctx, kid)
}

// TestRelaySignatureRefusals: every request without a good relay signature
// for this seller, route and body is refused with 401 before its body is
// decoded, names what is wrong, and opens nothing.
func TestRelaySignatureRefusals(t *testing.T) {
	clk := anptest.NewClock(time.Now())
	n, srv := newTestNode(t, func(c *Config) { c.Now = clk.Now })
	b := newBuyerAt(t, srv.URL, clk)
	data, _ := json.Marshal(b.Seal(anp.TypePropose, propose("kettle", nil)))
	other, _ := json.Marshal(newBuyerAt(t, srv.URL, clk).Seal(anp.TypePropose, propose("kettle", nil)))
	now := clk.Now()
	sign := func(key ed25519.PrivateKey, kid uint64, domain, route string, body []byte, at time.Time) string {
		h, err := anp.SignRelay(key, kid, anp.RelayTarget{Domain: domain, Route: route, Body: body}, at)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	chainKey := testRegistry.chainKey
	tests := []struct {
		name, header, want string
	}{
		{"no header", "", "no ANP-Relay header"},
		{"malformed", "kid=0", "must be kid=K;ts=T;sig=S"},
		{"signed 6 minutes ago", sign(chainKey, 0, testDomain, anp.SellerHandshake, data, now.Add(-6*time.Minute)), "at most 5m0s"},
		{"signed 6 minutes ahead", sign(chainKey, 0, testDomain, anp.SellerHandshake, data, now.Add(6*time.Minute)), "at most 5m0s"},
		{"a key index the registry does not have", sign(chainKey, 1, testDomain, anp.SellerHandshake, data, now), "registry key 1, which is not in the registry key chain"},
		{"a made-up key index", sign(chainKey, 1000, testDomain, anp.SellerHandshake, data, now), "registry key 1000"},
		{"the signature of another envelope", sign(chainKey, 0, testDomain, anp.SellerHandshake, other, now), "does not verify"},
		{"signed for another route", sign(chainKey, 0, testDomain, anp.SellerCounter, data, now), "does not verify"},
		{"signed for another seller", sign(chainKey, 0, "other-shop.anp", anp.SellerHandshake, data, now), "does not verify"},
		{"signed by a stranger", sign(anptest.NewKey(t), 0, testDomain, anp.SellerHandshake, data, now), "does not verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.postWith(anp.SellerHandshake, data, tc.header)
			if r.status != http.StatusUnauthorized || r.err.Code != anp.CodeUnauthorized || !strings.Contains(r.err.Message, tc.want) {
				t.Fatalf("%d %+v, want 401 unauthorized naming %q", r.status, r.err, tc.want)
			}
		})
	}
	// Two headers, even two good ones, are one too many.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+anp.SellerHandshake, strings.NewReader(string(data)))
	good := relaySign(t, anp.SellerHandshake, data, now)
	req.Header.Add(anp.RelayHeader, good)
	req.Header.Add(anp.RelayHeader, good)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("two ANP-Relay headers: %v %v", resp, err)
	}
	if st := n.Stats(); st.Sessions != 0 || st.UsedSessionIDs != 0 || st.RelayRefused != uint64(len(tests)+1) {
		t.Fatalf("after the refusals: %+v", st)
	}
	// The request as the registry relays it is taken.
	if r := b.postWith(anp.SellerHandshake, data, good); r.status != http.StatusOK {
		t.Fatalf("the relayed PROPOSE: %d %+v", r.status, r.err)
	}
}

// TestKeyChainRefreshIsBounded: the node fetches the registry key chain
// when it has none, again for a newer key index at most once a second, and
// never for an index far past its chain; a chain under another root key is
// refused.
func TestKeyChainRefreshIsBounded(t *testing.T) {
	clk := anptest.NewClock(time.Now())
	reg := &countingChain{}
	n, srv := newTestNode(t, func(c *Config) { c.Now = clk.Now; c.Registry = reg })
	b := newBuyerAt(t, srv.URL, clk)
	data, _ := json.Marshal(b.Seal(anp.TypePropose, propose("kettle", nil)))
	post := func(kid uint64) {
		h, err := anp.SignRelay(testRegistry.chainKey, kid, anp.RelayTarget{Domain: testDomain, Route: anp.SellerHandshake, Body: data}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.postWith(anp.SellerHandshake, data, h)
	}
	steps := []struct {
		name    string
		kid     uint64
		advance time.Duration
		calls   int64
	}{
		{"first request: the chain is fetched", 0, 0, 1},
		{"a known key: no fetch", 0, 0, 1},
		{"a newer key within a second of the last fetch: no fetch", 1, 0, 1},
		{"a newer key a second later: one fetch", 1, time.Second, 2},
		{"again at once: no fetch", 1, 0, 2},
		{"an index far past the chain: never fetched", 500, time.Minute, 2},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		post(st.kid)
		if got := reg.fetches.Load(); got != st.calls {
			t.Fatalf("%s: %d fetches, want %d", st.name, got, st.calls)
		}
	}
	// A chain under another root key is refused, and the old chain kept.
	other := newTestKeyChain()
	other.root = anptest.NewKey(t)
	e, _ := anp.NewKeyEntry(other.root, nil, other.chainKey.Public().(ed25519.PublicKey), clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour))
	e2, _ := anp.NewKeyEntry(other.root, &e, other.chainKey.Public().(ed25519.PublicKey), clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour))
	reg.answer = &anp.KeysResponse{RootKey: anptest.PubHex(other.root), Chain: []anp.KeyEntry{e, e2}}
	clk.Advance(time.Second)
	if _, err := n.relayKeys.entry(t.Context(), 1, clk.Now()); anp.CodeOf(err) != anp.CodeUnavailable || !strings.Contains(err.Error(), "root key changed") {
		t.Fatalf("a chain under another root: %v", err)
	}
	if e, err := n.relayKeys.entry(t.Context(), 0, clk.Now()); err != nil || e == nil || e.Key != testRegistry.keys.Chain[0].Key {
		t.Fatalf("the first chain was not kept: %v %v", e, err)
	}
}
