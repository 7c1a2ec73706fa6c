// Package registrytest builds registries that show a client a forked
// transparency log, for tests of log watching: a twin registry signs with
// the same key chain a log of its own, and a LogSwitch sends a client's
// log requests to it; ForgeDealEvent countersigns a deal event as a
// dishonest operator can, for such a log.
package registrytest

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// ownLog is a ledger that shares every key-value bucket of another (key
// chain, bindings, records) but keeps a log (and its Merkle tree) of its own.
type ownLog struct {
	store.Ledger
	log *memstore.Ledger
}

func (o ownLog) Append(ctx context.Context, leaf []byte) (uint64, error) {
	return o.log.Append(ctx, leaf)
}

func (o ownLog) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	return o.log.Leaves(ctx, from, to)
}

func (o ownLog) Size(ctx context.Context) (uint64, error) { return o.log.Size(ctx) }

func (o ownLog) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	return o.log.AppendLeaves(ctx, first, leaves, nodes)
}

func (o ownLog) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	return o.log.PutTreeNodes(ctx, size, nodes)
}

func (o ownLog) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	return o.log.TreeNodes(ctx, ids)
}

func (o ownLog) TreeSize(ctx context.Context) (uint64, error) { return o.log.TreeSize(ctx) }

// Twin starts a registry with root and the key-value state of ledger, so
// it signs with the same key chain, but whose log holds leaves only. It is
// stopped when the test ends.
func Twin(t testing.TB, root ed25519.PrivateKey, ledger store.Ledger, leaves [][]byte) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	own := ownLog{Ledger: ledger, log: memstore.NewLedger()}
	for _, l := range leaves {
		if _, err := own.Append(ctx, l); err != nil {
			t.Fatalf("twin log: %v", err)
		}
	}
	return serve(t, "twin", registry.Config{Root: root, Ledger: own, Difficulty: 4, Logger: zerolog.Nop()})
}

// serve starts a registry with cfg on a loopback server that is stopped
// when the test ends; what names it in a failure.
func serve(t testing.TB, what string, cfg registry.Config) *httptest.Server {
	t.Helper()
	srv, err := registry.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s registry: %v", what, err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	return ts
}

// LogSwitch is an http.RoundTripper that sends log requests (/v1/log/...)
// to the registry set with Set, and everything else where it was going.
// It counts the consistency proofs asked for.
type LogSwitch struct {
	mu          sync.Mutex
	target      *url.URL
	consistency atomic.Int64
}

// Set sends log requests to ts from now on; nil restores the real registry.
func (s *LogSwitch) Set(ts *httptest.Server) {
	var u *url.URL
	if ts != nil {
		u, _ = url.Parse(ts.URL)
	}
	s.mu.Lock()
	s.target = u
	s.mu.Unlock()
}

// Consistency returns how many consistency proofs were asked for.
func (s *LogSwitch) Consistency() int64 { return s.consistency.Load() }

// RoundTrip implements http.RoundTripper.
func (s *LogSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == anp.RouteConsistency {
		s.consistency.Add(1)
	}
	s.mu.Lock()
	u := s.target
	s.mu.Unlock()
	if u != nil && strings.HasPrefix(req.URL.Path, "/v1/log/") {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Proxy serves the registry at registryURL through s: the URL of the
// server it returns is a registry whose log answers s decides. It is
// stopped when the test ends.
func (s *LogSwitch) Proxy(t testing.TB, registryURL string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(registryURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = s
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	return ts
}
