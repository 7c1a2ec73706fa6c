package seller

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// stubRegistry is a minimal registry over real HTTP: its key chain (the
// test chain), domain binding, record publication and callback collection.
// It stands in for core/registry in the tests of registration and callback
// delivery; relayguard_test.go runs nodes against the real registry.
type stubRegistry struct {
	t        testing.TB
	srv      *httptest.Server
	root     ed25519.PrivateKey
	chain    []anp.KeyEntry
	chainKey ed25519.PrivateKey
	opToken  string

	mu        sync.Mutex
	bound     map[string]string // domain -> key
	seqs      map[string]uint64
	failFirst int // callbacks to answer 503 before accepting
	attempts  int
	callbacks []*anp.Envelope
	arrived   chan *anp.Envelope
}

func newStubRegistry(t testing.TB) *stubRegistry {
	t.Helper()
	r := &stubRegistry{t: t, root: testRegistry.root, chain: testRegistry.keys.Chain, chainKey: testRegistry.chainKey, opToken: "op-token",
		bound: map[string]string{}, seqs: map[string]uint64{}, arrived: make(chan *anp.Envelope, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+anp.RouteKeys, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, testRegistry.keys) })
	mux.HandleFunc("POST "+anp.RouteDomains, r.bind)
	mux.HandleFunc("POST "+anp.RouteRecords, r.publish)
	mux.HandleFunc("POST "+anp.RouteCallbacks, r.callback)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func fail(w http.ResponseWriter, code anp.Code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(StatusFor(code))
	json.NewEncoder(w).Encode(anp.ErrorBody{Error: anp.Errorf(code, format, args...)})
}

func (r *stubRegistry) bind(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Authorization") != "Bearer "+r.opToken {
		fail(w, anp.CodeUnauthorized, "operator token required")
		return
	}
	var b anp.BindRequest
	if err := readStrict(req, &b); err != nil {
		fail(w, anp.CodeBadRequest, "%v", err)
		return
	}
	if err := b.Verify(); err != nil {
		fail(w, anp.CodeBadSignature, "%v", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.bound[b.Domain]; ok && k != b.Key {
		fail(w, anp.CodeConflict, "domain %s is bound to another key", b.Domain)
		return
	}
	r.bound[b.Domain] = b.Key
	writeJSON(w, 200, r.binding(b.Domain))
}

func (r *stubRegistry) binding(domain string) anp.DomainBinding {
	d := anp.DomainBinding{Domain: domain, Key: r.bound[domain], BoundAt: time.Now().UnixMilli()}
	if err := anp.SignDomainBinding(&d, anp.Signer(r.chainKey)); err != nil {
		r.t.Error(err)
	}
	return d
}

func (r *stubRegistry) publish(w http.ResponseWriter, req *http.Request) {
	var rec anp.SignedRecord
	if err := readStrict(req, &rec); err != nil {
		fail(w, anp.CodeBadRequest, "%v", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key, ok := r.bound[rec.Record.Domain]
	if !ok {
		fail(w, anp.CodeNotFound, "domain not bound")
		return
	}
	if err := rec.Verify(key); err != nil {
		fail(w, anp.CodeBadSignature, "%v", err)
		return
	}
	if rec.Record.Seq <= r.seqs[rec.Record.Domain] {
		fail(w, anp.CodeReplay, "record seq %d is not above %d", rec.Record.Seq, r.seqs[rec.Record.Domain])
		return
	}
	r.seqs[rec.Record.Domain] = rec.Record.Seq
	writeJSON(w, 200, anp.Listing{Binding: r.binding(rec.Record.Domain), Record: rec})
}

func (r *stubRegistry) callback(w http.ResponseWriter, req *http.Request) {
	var env anp.Envelope
	if err := readStrict(req, &env); err != nil {
		fail(w, anp.CodeBadRequest, "%v", err)
		return
	}
	r.mu.Lock()
	r.attempts++
	if r.attempts <= r.failFirst {
		r.mu.Unlock()
		fail(w, anp.CodeUnavailable, "registry is busy")
		return
	}
	r.callbacks = append(r.callbacks, &env)
	r.mu.Unlock()
	r.arrived <- &env
	w.WriteHeader(http.StatusAccepted)
}

func (r *stubRegistry) counts() (attempts, delivered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts, len(r.callbacks)
}

func readStrict(req *http.Request, v any) error { return readStrictBody(req.Body, v) }

func readStrictBody(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	return anp.DecodeStrict(data, v)
}

// httpRegistry implements Registry over HTTP against a registry base URL.
type httpRegistry struct {
	base     string
	identity ed25519.PrivateKey
}

func (c *httpRegistry) Bind(ctx context.Context, domain, operatorToken string) (*anp.DomainBinding, error) {
	b := anp.BindRequest{Domain: domain, Key: anptest.PubHex(c.identity), TS: time.Now().UnixMilli()}
	if err := anp.SignBindRequest(&b, anp.Signer(c.identity)); err != nil {
		return nil, err
	}
	var out anp.DomainBinding
	return &out, c.call(ctx, anp.RouteDomains, operatorToken, b, &out)
}

func (c *httpRegistry) PublishRecord(ctx context.Context, rec anp.SignedRecord) (*anp.Listing, error) {
	var out anp.Listing
	return &out, c.call(ctx, anp.RouteRecords, "", rec, &out)
}

func (c *httpRegistry) PostCallback(ctx context.Context, env *anp.Envelope) error {
	return c.call(ctx, anp.RouteCallbacks, "", env, nil)
}

func (c *httpRegistry) KeyChainFor(ctx context.Context, _ uint64) (*anp.KeysResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+anp.RouteKeys, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, anp.Errorf(anp.CodeUnavailable, "registry: %v", err)
	}
	defer resp.Body.Close()
	var k anp.KeysResponse
	if err := readStrictBody(resp.Body, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func (c *httpRegistry) call(ctx context.Context, path, token string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return anp.Errorf(anp.CodeUnavailable, "registry: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var eb anp.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
			return fmt.Errorf("registry %s: %w", path, eb.Error)
		}
		return fmt.Errorf("registry %s: status %d", path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func TestRegisterPublishesASignedRecord(t *testing.T) {
	reg := newStubRegistry(t)
	n, _ := newTestNode(t, func(c *Config) {
		c.Registry = &httpRegistry{base: reg.srv.URL, identity: sellerKey}
		c.Categories = []string{"kitchen", "cookware"}
		c.Capabilities = []string{"shipping:us"}
		c.Modes = []anp.Mode{anp.ModeC, anp.ModeB}
		c.DisplayName = "Kitchen Outlet"
		c.Demo = true
	})
	ctx := context.Background()
	const endpoint = "https://seller.kitchen-outlet.example/anp"
	l, err := n.Register(ctx, endpoint, "op-token")
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := l.Verify(reg.chain); err != nil {
		t.Fatalf("listing does not verify: %v", err)
	}
	r := l.Record.Record
	if r.Domain != testDomain || r.Endpoint != endpoint || r.EncKey != n.EncryptionKey() || !r.Demo ||
		r.DisplayName != "Kitchen Outlet" || len(r.Categories) != 2 || !r.Supports(anp.ModeB) || r.Supports(anp.ModeA) {
		t.Fatalf("record %+v", r)
	}
	l2, err := n.Register(ctx, endpoint, "op-token")
	if err != nil || l2.Record.Record.Seq <= r.Seq {
		t.Fatalf("second Register: %v, seq %d after %d", err, l2.Record.Record.Seq, r.Seq)
	}
	if _, err := n.Register(ctx, endpoint, "wrong-token"); anp.CodeOf(err) != anp.CodeUnauthorized {
		t.Fatalf("wrong operator token: %v", err)
	}
	if _, err := n.Register(ctx, "ftp://seller", "op-token"); anp.CodeOf(err) != anp.CodeBadRequest {
		t.Fatalf("bad endpoint: %v", err)
	}
	// A domain bound to another key is not taken over.
	reg.mu.Lock()
	reg.bound[testDomain] = anp.PublicKeyHex(make(ed25519.PublicKey, 32))
	reg.mu.Unlock()
	if _, err := n.Register(ctx, endpoint, "op-token"); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("domain bound elsewhere: %v", err)
	}
	// Without a registry there is nothing to register with.
	if _, err := NewNode(Config{Domain: testDomain, Identity: sellerKey, Policy: linearPolicy()}); err == nil || !strings.Contains(err.Error(), "registry is required") {
		t.Fatalf("NewNode without a registry: %v", err)
	}
}
