package seller_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// The tests in this package's external files run seller nodes behind the
// real registry over loopback HTTP: buyers relay through the registry with
// registry.Client, the registry signs what it forwards, and the node
// verifies it against the registry's key chain pinned by its root key.

// relayNet is a registry on loopback with a shared clock.
type relayNet struct {
	t     *testing.T
	clock *anptest.Clock
	reg   *registry.Server
	url   string
	root  string // the registry root key, pinned by every client
}

func newRelayNet(t *testing.T) *relayNet {
	t.Helper()
	clock := anptest.NewClock(time.Now())
	reg, err := registry.New(context.Background(), registry.Config{Root: anptest.NewKey(t), Difficulty: 4,
		OpenEnrollment: true, AllowPrivateEndpoints: true, Logger: zerolog.Nop(), Now: clock.Now})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	ts := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { ts.Close(); _ = reg.Close() })
	return &relayNet{t: t, clock: clock, reg: reg, url: ts.URL, root: reg.RootKey()}
}

// client returns a registry client for identity with the root key pinned.
func (rn *relayNet) client(identity ed25519.PrivateKey) *registry.Client {
	return registry.NewClient(rn.url, identity, registry.ClientOptions{RootKey: rn.root, Now: rn.clock.Now})
}

// sellerNode is a node on loopback, registered with the registry through a
// tap that records what the registry sends it.
type sellerNode struct {
	*seller.Node
	key ed25519.PrivateKey
	url string // the node itself, where a stranger posts directly
	tap *tap
}

// startSeller starts a node for domain with key and the config edit makes,
// and lists it in the registry with the tap as its endpoint. It is stopped
// when the test ends (or earlier by stop).
func (rn *relayNet) startSeller(domain string, key ed25519.PrivateKey, edit func(*seller.Config)) *sellerNode {
	rn.t.Helper()
	cfg := seller.Config{Domain: domain, Identity: key, Categories: []string{"kitchen"}, Registry: rn.client(key),
		Policy: &seller.CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), Exponent: 1, MaxTurns: 5}, Now: rn.clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	n, err := seller.NewNode(cfg)
	if err != nil {
		rn.t.Fatalf("NewNode: %v", err)
	}
	srv := httptest.NewServer(n.Handler())
	tp := newTap(rn.t, srv.URL)
	rn.t.Cleanup(func() { srv.Close(); _ = n.Close() })
	if _, err := n.Register(context.Background(), tp.url, ""); err != nil {
		rn.t.Fatalf("Register: %v", err)
	}
	return &sellerNode{Node: n, key: key, url: srv.URL, tap: tp}
}

// dealer is a buyer of one session relaying through the registry.
type dealer struct {
	*anptest.Party
	c      *registry.Client
	domain string
}

func (rn *relayNet) dealer(c *registry.Client, s *sellerNode) *dealer {
	p := anptest.NewParty(rn.t, s.Domain(), rn.clock.Now)
	p.Peer = s.PublicKey()
	return &dealer{Party: p, c: c, domain: s.Domain()}
}

// relay sends env through the registry and, when the seller answered,
// records both envelopes as the buyer.
func (d *dealer) relay(env *anp.Envelope) (*anp.Envelope, error) {
	d.T().Helper()
	resp, err := d.c.Relay(d.T().Context(), d.domain, env)
	if err != nil {
		return nil, err
	}
	d.Record(env)
	if resp.Reply != nil {
		d.Accept(resp.Reply)
	}
	return resp.Reply, nil
}

// must is relay that requires a reply.
func (d *dealer) must(typ anp.MsgType, body any) *anp.Envelope {
	d.T().Helper()
	reply, err := d.relay(d.Seal(typ, body))
	if err != nil || reply == nil {
		d.T().Fatalf("%s through the registry: %v (reply %v)", typ, err, reply)
	}
	return reply
}

// completeDeal opens a session with p (its opening offer at or above the
// seller's ask, so the seller accepts at once), commits, gets the seller's
// signature and the registry's notarisation, and verifies the artifact with
// the root key pinned. It returns the deal's price.
func (d *dealer) completeDeal(p anp.ProposeBody, root string) anp.Money {
	t := d.T()
	t.Helper()
	accept := d.must(anp.TypePropose, p)
	if accept.Type != anp.TypeAccept {
		t.Fatalf("PROPOSE at %s answered %s %+v, want ACCEPT", p.Offer, accept.Type, anptest.Body[anp.NoteBody](t, accept))
	}
	a := anptest.SignDeal(t, d.Terms(accept, p, d.Peer), d.Key, nil)
	confirm := d.must(anp.TypeCommit, anp.CommitBody{Artifact: a})
	a.SellerSig = anptest.Body[anp.ConfirmBody](t, confirm).SellerSig
	notarised, err := d.c.Notarize(t.Context(), a)
	if err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	if err := anp.VerifyArtifact(notarised, anp.VerifyOptions{RootKey: root}); err != nil {
		t.Fatalf("the artifact does not verify: %v", err)
	}
	return notarised.Terms.Price
}

func proposeAt(minor int64) anp.ProposeBody {
	o := anptest.USD(minor)
	return anp.ProposeBody{Mode: anp.ModeC, Item: "Dutch oven", Quantity: 1, Currency: "USD", Offer: &o}
}

// tap is a reverse proxy in front of a node that records every request the
// registry relays (headers and body) and the node's answer: what someone on
// the path between registry and seller sees.
type tap struct {
	url string

	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	route  string
	header string // ANP-Relay
	body   []byte
	status int
	answer []byte
}

func newTap(t *testing.T, target string) *tap {
	tp := &tap{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		tp.mu.Lock()
		tp.exchanges = append(tp.exchanges, exchange{route: r.URL.Path, header: r.Header.Get(anp.RelayHeader), body: body, status: resp.StatusCode, answer: answer})
		tp.mu.Unlock()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(ts.Close)
	tp.url = ts.URL
	return tp
}

// last returns the latest exchange.
func (tp *tap) last() exchange {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.exchanges[len(tp.exchanges)-1]
}

// post sends body to url+route with relayHeader ("" for none) and returns
// the status and the error code of the answer.
func post(t testing.TB, client *http.Client, url, route string, body []byte, relayHeader string) (int, anp.Code) {
	req, err := http.NewRequest(http.MethodPost, url+route, bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	if relayHeader != "" {
		req.Header.Set(anp.RelayHeader, relayHeader)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb anp.ErrorBody
	if anp.DecodeStrict(data, &eb) == nil && eb.Error != nil {
		return resp.StatusCode, eb.Error.Code
	}
	return resp.StatusCode, ""
}
