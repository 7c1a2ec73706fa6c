package registrytest

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// keyChainBucket is the Ledger bucket of the registry's key chain.
const keyChainBucket = "keys"

// ownDirectory is a ledger that shares only the key chain of another: a
// registry on it signs with the same chain keys, but its bindings, records,
// key histories and log are its own.
type ownDirectory struct {
	*memstore.Ledger
	shared store.Ledger
}

func (o ownDirectory) pick(bucket string) store.Ledger {
	if bucket == keyChainBucket {
		return o.shared
	}
	return o.Ledger
}

func (o ownDirectory) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	return o.pick(bucket).Get(ctx, bucket, key)
}

func (o ownDirectory) Put(ctx context.Context, bucket, key string, value []byte) error {
	return o.pick(bucket).Put(ctx, bucket, key, value)
}

func (o ownDirectory) PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error) {
	return o.pick(bucket).PutIfAbsent(ctx, bucket, key, value)
}

func (o ownDirectory) List(ctx context.Context, bucket string) ([]store.KV, error) {
	return o.pick(bucket).List(ctx, bucket)
}

func (o ownDirectory) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	return o.pick(bucket).ListPrefix(ctx, bucket, prefix)
}

// Impostor starts a registry that signs with root and the key chain of
// ledger, with open enrollment and a directory and log of its own: what a
// registry operator can show a buyer when it binds a domain to a key of its
// choice without logging that in the real log. Bind and publish on its URL;
// a PathSwitch shows its answers to a buyer. It is stopped when the test
// ends.
func Impostor(t testing.TB, root ed25519.PrivateKey, ledger store.Ledger) *httptest.Server {
	t.Helper()
	own := ownDirectory{Ledger: memstore.NewLedger(), shared: ledger}
	return serve(t, "impostor", registry.Config{Root: root, Ledger: own, Difficulty: 4,
		OpenEnrollment: true, AllowPrivateEndpoints: true, Logger: zerolog.Nop()})
}

// PathSwitch is an http.RoundTripper that sends requests whose path starts
// with one of the prefixes set with Set to that registry, and everything
// else where it was going.
type PathSwitch struct {
	mu       sync.Mutex
	target   *url.URL
	prefixes []string
}

// Set sends requests under prefixes to ts from now on; nil restores the
// real registry.
func (s *PathSwitch) Set(ts *httptest.Server, prefixes ...string) {
	var u *url.URL
	if ts != nil {
		u, _ = url.Parse(ts.URL)
	}
	s.mu.Lock()
	s.target, s.prefixes = u, prefixes
	s.mu.Unlock()
}

// RoundTrip implements http.RoundTripper.
func (s *PathSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	u, prefixes := s.target, s.prefixes
	s.mu.Unlock()
	for _, p := range prefixes {
		if u != nil && strings.HasPrefix(req.URL.Path, p) {
			req = req.Clone(req.Context())
			req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
			break
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}
