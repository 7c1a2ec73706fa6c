package seller

import (
	"bytes"
	"context"
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

// newTestNode starts a node with a linear policy behind a real loopback
// HTTP server; edit changes the config first.
func newTestNode(t testing.TB, edit func(*Config)) (*Node, *httptest.Server) {
	t.Helper()
	cfg := Config{Domain: testDomain, Identity: sellerKey, Policy: linearPolicy(), Categories: []string{"kitchen"}}
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

// postRaw posts bytes to a seller route.
func (b *buyer) postRaw(path string, data []byte) result {
	t := b.T()
	t.Helper()
	resp, err := http.Post(b.url+path, "application/json", bytes.NewReader(data))
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
