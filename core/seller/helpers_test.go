package seller

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

const testDomain = "kitchen-outlet.anp"

// sellerKey is the fixed identity of the seller under test.
var sellerKey = anptest.SeedKey(0x21)

// linearPolicy asks 100, 95, 90, 85, 80 USD at turns 1..5.
func linearPolicy() *CurvePolicy {
	return &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 5}
}

// testKeyChain is the registry key chain of this package's tests: a fixed
// root key and chain key 0, valid from a day before the tests start to a
// week after. Requests are signed with chain key 0 as the registry signs
// what it relays (relaySign); the tests against a real registry are in
// relayguard_test.go.
type testKeyChain struct {
	root, chainKey ed25519.PrivateKey
	keys           anp.KeysResponse
}

var testRegistry = newTestKeyChain()

func newTestKeyChain() *testKeyChain {
	k := &testKeyChain{root: anptest.SeedKey(0x41), chainKey: anptest.SeedKey(0x61)}
	now := time.Now()
	e, err := anp.NewKeyEntry(k.root, nil, k.chainKey.Public().(ed25519.PublicKey), now.Add(-24*time.Hour), now.Add(7*24*time.Hour))
	if err != nil {
		panic(err)
	}
	k.keys = anp.KeysResponse{RootKey: anptest.PubHex(k.root), Chain: []anp.KeyEntry{e}}
	return k
}

// keyChainFor answers Registry.KeyChainFor with the test chain.
func (k *testKeyChain) keyChainFor(kid uint64) (*anp.KeysResponse, error) {
	if kid >= uint64(len(k.keys.Chain)) {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry key %d is not in the registry key chain", kid)
	}
	c := k.keys
	return &c, nil
}

// chainOnly is the Registry of a node whose tests need only the registry's
// key chain (to verify relay signatures): it has no bindings, records or
// callback route.
type chainOnly struct{}

func (chainOnly) KeyChainFor(_ context.Context, kid uint64) (*anp.KeysResponse, error) {
	return testRegistry.keyChainFor(kid)
}

func (chainOnly) Bind(context.Context, string, string) (*anp.DomainBinding, error) {
	return nil, anp.Errorf(anp.CodeUnavailable, "this test has no registry to bind with")
}

func (chainOnly) PublishRecord(context.Context, anp.SignedRecord) (*anp.Listing, error) {
	return nil, anp.Errorf(anp.CodeUnavailable, "this test has no registry to publish to")
}

func (chainOnly) PostCallback(context.Context, *anp.Envelope) error {
	return anp.Errorf(anp.CodeUnavailable, "this test has no registry to call back")
}

// relaySign returns the ANP-Relay header value the registry sends with body
// to testDomain's route at now.
func relaySign(tb testing.TB, route string, body []byte, now time.Time) string {
	tb.Helper()
	h, err := anp.SignRelay(testRegistry.chainKey, 0, anp.RelayTarget{Domain: testDomain, Route: route, Body: body}, now)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// relayedRequest is a POST of body to path under the node's routes, signed
// as the registry signs what it relays.
func relayedRequest(tb testing.TB, route string, body []byte, now time.Time) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, route, bytes.NewReader(body))
	r.Header.Set(anp.RelayHeader, relaySign(tb, route, body, now))
	return r
}

// newTestNode starts a node with a linear policy behind a real loopback
// HTTP server; edit changes the config first.
func newTestNode(t testing.TB, edit func(*Config)) (*Node, *httptest.Server) {
	t.Helper()
	cfg := Config{Domain: testDomain, Identity: sellerKey, Policy: linearPolicy(), Categories: []string{"kitchen"}, Registry: chainOnly{}}
	if edit != nil {
		edit(&cfg)
	}
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	return n, srv
}

// buyer is the buyer side of one session, talking to the seller directly.
type buyer struct {
	*anptest.Party
	url string
}

func newBuyer(t testing.TB, url string) *buyer {
	t.Helper()
	p := anptest.NewParty(t, testDomain, time.Now)
	p.Peer = anptest.PubHex(sellerKey)
	return &buyer{Party: p, url: url}
}

// result is one HTTP answer of the seller.
type result struct {
	status int
	reply  *anp.Envelope
	pend   bool
	err    *anp.Error
}

// postRaw posts bytes to a seller route as the registry relays them, with
// its signature over them.
func (b *buyer) postRaw(path string, data []byte) result {
	b.T().Helper()
	return b.postWith(path, data, relaySign(b.T(), path, data, b.Now()))
}

// postWith posts bytes to a seller route with relayHeader as the ANP-Relay
// header ("" sends none).
func (b *buyer) postWith(path string, data []byte, relayHeader string) result {
	t := b.T()
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if relayHeader != "" {
		req.Header.Set(anp.RelayHeader, relayHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	r := result{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		var rr anp.RelayResponse
		if err := anp.DecodeStrict(raw, &rr); err != nil {
			t.Fatalf("decode %s answer %s: %v", path, raw, err)
		}
		r.reply, r.pend = rr.Reply, rr.Pending
		return r
	}
	var eb anp.ErrorBody
	if err := anp.DecodeStrict(raw, &eb); err != nil || eb.Error == nil {
		t.Fatalf("decode %s error body %q: %v", path, raw, err)
	}
	r.err = eb.Error
	return r
}

// post posts env to path.
func (b *buyer) post(path string, env *anp.Envelope) result {
	t := b.T()
	t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b.postRaw(path, data)
}

// route returns the seller route of a buyer message type.
func route(t anp.MsgType) string {
	p, ok := anp.SellerPathFor(t)
	if !ok {
		panic("no route for " + string(t))
	}
	return p
}

// send seals, posts to the right route, requires a synchronous answer,
// verifies the reply as a buyer would and records both envelopes.
func (b *buyer) send(typ anp.MsgType, body any) *anp.Envelope {
	t := b.T()
	t.Helper()
	env := b.Seal(typ, body)
	r := b.post(route(typ), env)
	if r.status != http.StatusOK || r.reply == nil {
		t.Fatalf("%s: status %d error %v, want 200 with a reply", typ, r.status, r.err)
	}
	b.Record(env)
	b.Accept(r.reply)
	return r.reply
}

func propose(item string, offer *anp.Money) anp.ProposeBody {
	return anp.ProposeBody{Mode: anp.ModeC, Item: item, Quantity: 1, Currency: "USD", Terms: map[string]string{"delivery": "7d"}, Offer: offer}
}

func counter(minor int64, turn int) anp.OfferBody {
	return anp.OfferBody{Price: anptest.USD(minor), Turn: turn}
}

// artifactFor builds and signs, as the buyer, the artifact of the accepted deal.
func (b *buyer) artifactFor(acceptEnv *anp.Envelope, p anp.ProposeBody) *anp.Artifact {
	return anptest.SignDeal(b.T(), b.Terms(acceptEnv, p, b.Peer), b.Key, nil)
}

// recordingPolicy wraps a policy and records the views it was given.
type recordingPolicy struct {
	Policy
	mu    sync.Mutex
	views []SessionView
}

func (r *recordingPolicy) Open(ctx context.Context, s SessionView, p anp.ProposeBody) (Decision, error) {
	r.mu.Lock()
	r.views = append(r.views, s)
	r.mu.Unlock()
	return r.Policy.Open(ctx, s, p)
}

func (r *recordingPolicy) Respond(ctx context.Context, s SessionView, offer anp.Money) (Decision, error) {
	r.mu.Lock()
	r.views = append(r.views, s)
	r.mu.Unlock()
	return r.Policy.Respond(ctx, s, offer)
}

func (r *recordingPolicy) seen() []SessionView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SessionView(nil), r.views...)
}

// funcPolicy is a policy made of functions, for misbehaving policies.
type funcPolicy struct {
	open    func(SessionView, anp.ProposeBody) (Decision, error)
	respond func(SessionView, anp.Money) (Decision, error)
}

func (f funcPolicy) Open(_ context.Context, s SessionView, p anp.ProposeBody) (Decision, error) {
	return f.open(s, p)
}

func (f funcPolicy) Respond(_ context.Context, s SessionView, o anp.Money) (Decision, error) {
	return f.respond(s, o)
}

// counterAccepted sends a COUNTER at 80.00 for turn and takes the
// seller's answer into the buyer's transcript (the benchmarks' one move).
func (by *buyer) counterAccepted(tb testing.TB, turn int) {
	tb.Helper()
	env := by.Seal(anp.TypeCounter, counter(8000, turn))
	r := by.post(anp.SellerCounter, env)
	if r.status != http.StatusOK {
		tb.Fatalf("status %d %+v", r.status, r.err)
	}
	by.Record(env)
	by.Accept(r.reply)
}
