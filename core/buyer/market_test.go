package buyer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

// threeSellers is a market of three real seller servers behind a real
// registry: a Boulware seller, a linear seller and an asynchronous conceder.
func threeSellers() []demomarket.SellerSpec {
	return []demomarket.SellerSpec{
		{Domain: "kitchen-outlet.anp", DisplayName: "Kitchen Outlet (demo)", Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC},
			Policy: seller.CurvePolicy{List: anptest.USD(12000), Floor: anptest.USD(7800), Exponent: 0.5, MaxTurns: 6}},
		{Domain: "chef-supply.anp", DisplayName: "Chef Supply (demo)", Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC},
			Policy: seller.CurvePolicy{List: anptest.USD(11000), Floor: anptest.USD(8400), Exponent: 1, MaxTurns: 6}},
		{Domain: "bargain-bin.anp", DisplayName: "Bargain Bin (demo)", Categories: []string{"kitchen"}, Modes: []anp.Mode{anp.ModeC},
			Policy: seller.CurvePolicy{List: anptest.USD(13500), Floor: anptest.USD(7000), Exponent: 2, MaxTurns: 6}, Async: true},
	}
}

func startMarket(t testing.TB, specs []demomarket.SellerSpec) *demomarket.Market {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: specs, Difficulty: 4, AsyncDelay: 20 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("start market: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// recorder captures every byte the buyer sends.
type recorder struct {
	mu   sync.Mutex
	sent bytes.Buffer
	next http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.sent.WriteString(req.Method + " " + req.URL.String() + "\n")
	for k, v := range req.Header {
		r.sent.WriteString(k + ": " + v[0] + "\n")
	}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		r.sent.Write(b)
		r.sent.WriteByte('\n')
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.sent.Bytes()...)
}

type coreOpts struct {
	identity  ed25519.PrivateKey
	sessions  store.Sessions
	blind     map[string]string
	transport http.RoundTripper
	maxTurns  int
}

// blindCreds is a buyer.Credentials of domain -> credential.
type blindCreds map[string]string

func (b blindCreds) Has(domain string) bool { _, ok := b[domain]; return ok }

func (b blindCreds) Seal(sellerEncKey string, scope anp.CredentialScope) (string, bool, error) {
	cred, ok := b[scope.Domain]
	if !ok {
		return "", false, nil
	}
	sealed, err := anp.SealCredential(sellerEncKey, scope, cred)
	return sealed, true, err
}

func newCore(t testing.TB, m *demomarket.Market, o coreOpts) *buyer.Core {
	t.Helper()
	if o.identity == nil {
		_, o.identity, _ = ed25519.GenerateKey(rand.Reader)
	}
	var hc *http.Client // nil: the client's default, as the programs run it
	if o.transport != nil {
		hc = &http.Client{Timeout: 20 * time.Second, Transport: o.transport}
	}
	client := registry.NewClient(m.RegistryURL, o.identity, registry.ClientOptions{HTTP: hc, RootKey: m.RootKey,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	var creds buyer.Credentials
	if o.blind != nil {
		creds = blindCreds(o.blind)
	}
	c, err := buyer.New(buyer.Config{Identity: o.identity, Registry: client, Sessions: o.sessions, BlindKeys: creds, MaxTurns: o.maxTurns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
