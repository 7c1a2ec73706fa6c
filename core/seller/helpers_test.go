package seller

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

const testDomain = "kitchen-outlet.anp"

// sellerKey is the fixed identity of the seller under test.
var sellerKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func usd(minor int64) anp.Money { return anp.Money{Amount: minor, Currency: "USD"} }

// linearPolicy asks 100, 95, 90, 85, 80 USD at turns 1..5.
func linearPolicy() *CurvePolicy {
	return &CurvePolicy{List: usd(10000), Floor: usd(8000), Exponent: 1, MaxTurns: 5}
}

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
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
	t       testing.TB
	key     ed25519.PrivateKey
	pub     string
	session string
	url     string
	tr      anp.Transcript
	now     func() time.Time
}

func newBuyer(t testing.TB, url string) *buyer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &buyer{t: t, key: key, pub: anp.PublicKeyHex(key.Public().(ed25519.PublicKey)),
		session: anp.NewSessionID(), url: url, now: time.Now}
}

// seal signs the next buyer envelope without recording it.
func (b *buyer) seal(typ anp.MsgType, body any) *anp.Envelope {
	b.t.Helper()
	env, err := anp.Seal(b.key, anp.EnvelopeSpec{
		Type: typ, Session: b.session, Seq: b.tr.NextSeq(), Prev: b.tr.Head, To: testDomain, Body: body, Now: b.now(),
	})
	if err != nil {
		b.t.Fatalf("seal %s: %v", typ, err)
	}
	return env
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
	b.t.Helper()
	resp, err := http.Post(b.url+path, "application/json", bytes.NewReader(data))
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("read %s: %v", path, err)
	}
	r := result{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		var rr anp.RelayResponse
		if err := anp.DecodeStrict(raw, &rr); err != nil {
			b.t.Fatalf("decode %s answer %s: %v", path, raw, err)
		}
		r.reply, r.pend = rr.Reply, rr.Pending
		return r
	}
	var eb anp.ErrorBody
	if err := anp.DecodeStrict(raw, &eb); err != nil || eb.Error == nil {
		b.t.Fatalf("decode %s error body %q: %v", path, raw, err)
	}
	r.err = eb.Error
	return r
}

// post posts env to path.
func (b *buyer) post(path string, env *anp.Envelope) result {
	b.t.Helper()
	data, err := json.Marshal(env)
	if err != nil {
		b.t.Fatal(err)
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
	b.t.Helper()
	env := b.seal(typ, body)
	r := b.post(route(typ), env)
	if r.status != http.StatusOK || r.reply == nil {
		b.t.Fatalf("%s: status %d error %v, want 200 with a reply", typ, r.status, r.err)
	}
	b.record(env)
	b.accept(r.reply)
	return r.reply
}

// record appends the buyer's own envelope.
func (b *buyer) record(env *anp.Envelope) {
	b.t.Helper()
	if err := b.tr.Append(env, anp.Expect{Session: b.session, From: b.pub, To: testDomain, Now: b.now()}); err != nil {
		b.t.Fatalf("record own %s: %v", env.Type, err)
	}
}

// accept verifies a seller envelope like a buyer does and appends it.
func (b *buyer) accept(env *anp.Envelope) {
	b.t.Helper()
	seller := anp.PublicKeyHex(sellerKey.Public().(ed25519.PublicKey))
	if err := b.tr.Append(env, anp.Expect{Session: b.session, From: seller, To: b.pub, Now: b.now()}); err != nil {
		b.t.Fatalf("seller reply %s seq %d does not verify: %v", env.Type, env.Seq, err)
	}
}

func offerOf(t testing.TB, env *anp.Envelope) anp.OfferBody {
	t.Helper()
	var o anp.OfferBody
	if err := env.DecodeBody(&o); err != nil {
		t.Fatalf("%s body: %v", env.Type, err)
	}
	return o
}

func noteOf(t testing.TB, env *anp.Envelope) anp.NoteBody {
	t.Helper()
	var o anp.NoteBody
	if err := env.DecodeBody(&o); err != nil {
		t.Fatalf("%s body: %v", env.Type, err)
	}
	return o
}

func propose(item string, offer *anp.Money) anp.ProposeBody {
	return anp.ProposeBody{Mode: anp.ModeC, Item: item, Quantity: 1, Currency: "USD", Terms: map[string]string{"delivery": "7d"}, Offer: offer}
}

func counter(minor int64, turn int) anp.OfferBody {
	return anp.OfferBody{Price: usd(minor), Turn: turn}
}

// artifactFor builds the artifact a buyer signs for the accepted deal.
func (b *buyer) artifactFor(acceptEnv *anp.Envelope, p anp.ProposeBody) *anp.Artifact {
	b.t.Helper()
	h, err := acceptEnv.Hash()
	if err != nil {
		b.t.Fatal(err)
	}
	o := offerOf(b.t, acceptEnv)
	a := &anp.Artifact{Terms: anp.DealTerms{
		V: anp.Version, SessionID: b.session, Mode: p.Mode, SellerDomain: testDomain,
		SellerKey: anp.PublicKeyHex(sellerKey.Public().(ed25519.PublicKey)), BuyerKey: b.pub,
		Item: p.Item, Quantity: p.Quantity, Terms: p.Terms, Price: o.Price,
		TranscriptHead: h, TranscriptLen: acceptEnv.Seq, AgreedAt: acceptEnv.TS, CreatedAt: time.Now().UnixMilli(),
	}}
	if err := a.SignAsBuyer(b.key); err != nil {
		b.t.Fatalf("SignAsBuyer: %v", err)
	}
	return a
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
