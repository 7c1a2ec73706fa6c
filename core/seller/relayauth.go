package seller

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// A node takes only requests the registry relayed: each carries the
// registry's ANP-Relay signature over its body, route and this node's
// domain (anp.SignRelay), verified against the registry key chain before
// anything in the request is decoded. A stranger posting envelopes to the
// node directly gets 401 and creates nothing.

// Limits of key chain refreshes. A relay signature naming a key index the
// node has not seen makes it ask the registry for its chain again, at most
// once per keyRefreshInterval and only for an index up to maxKeyAhead past
// the chain it holds: a stranger's made-up index costs the registry nothing.
const (
	keyRefreshInterval = time.Second
	keyFetchTimeout    = 10 * time.Second
	maxKeyAhead        = 16
)

// relayKeys caches the registry key chain a node verifies relay signatures
// with, refreshed through the Registry when a signature names a newer key.
type relayKeys struct {
	reg Registry

	mu        sync.Mutex
	root      string // the root key of the first chain fetched; it never changes
	chain     []anp.KeyEntry
	lastFetch time.Time
	fetching  chan struct{} // closed when the fetch under way ends; nil when none

	refused atomic.Uint64 // requests refused for their relay signature
}

// entry returns the chain entry of kid, fetching the chain when the node
// has none yet or kid is a newer key, within the refresh limits; a request
// fetches (or waits for a fetch) at most once. It returns nil when there is
// no such key, and an *anp.Error when the chain could not be fetched.
func (k *relayKeys) entry(ctx context.Context, kid uint64, now time.Time) (*anp.KeyEntry, error) {
	for fetched := false; ; fetched = true {
		k.mu.Lock()
		if kid < uint64(len(k.chain)) {
			e := k.chain[kid]
			k.mu.Unlock()
			return &e, nil
		}
		if fetched || (len(k.chain) > 0 && kid >= uint64(len(k.chain))+maxKeyAhead) {
			k.mu.Unlock()
			return nil, nil
		}
		if wait := k.fetching; wait != nil {
			k.mu.Unlock()
			select {
			case <-wait:
				continue // look once more, in the chain just fetched
			case <-ctx.Done():
				return nil, anp.Errorf(anp.CodeUnavailable, "the request ended while the registry key chain was fetched")
			}
		}
		if !k.lastFetch.IsZero() && now.Sub(k.lastFetch) < keyRefreshInterval {
			k.mu.Unlock()
			return nil, nil
		}
		done := make(chan struct{})
		k.fetching, k.lastFetch = done, now
		k.mu.Unlock()
		err := k.fetch(ctx, kid)
		k.mu.Lock()
		k.fetching = nil
		close(done)
		k.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// fetch asks the registry for its verified chain, checks it again (it
// verifies under its root key, keeps the root of the first chain and only
// grows) and keeps it.
func (k *relayKeys) fetch(ctx context.Context, kid uint64) error {
	ctx, cancel := context.WithTimeout(ctx, keyFetchTimeout)
	defer cancel()
	resp, err := k.reg.KeyChainFor(ctx, kid)
	if anp.CodeOf(err) == anp.CodeBadSignature {
		// The registry has no such key (the signature is refused as unknown),
		// but the chain just fetched is still the one to keep.
		resp, err = k.reg.KeyChainFor(ctx, 0)
	}
	if err != nil {
		return anp.Errorf(anp.CodeUnavailable, "the registry key chain could not be fetched to check the relay signature: %v", err)
	}
	if err := anp.VerifyKeyChain(resp.RootKey, resp.Chain); err != nil {
		return anp.Errorf(anp.CodeUnavailable, "the registry key chain does not verify: %v", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.root != "" && resp.RootKey != k.root {
		return anp.Errorf(anp.CodeUnavailable, "the registry root key changed since this node first fetched its chain")
	}
	if len(resp.Chain) < len(k.chain) {
		return nil // an older answer: keep the longer chain
	}
	for i := range k.chain {
		if resp.Chain[i] != k.chain[i] {
			return anp.Errorf(anp.CodeUnavailable, "registry key chain entry %d changed", i)
		}
	}
	k.root, k.chain = resp.RootKey, append([]anp.KeyEntry(nil), resp.Chain...)
	return nil
}

// relayHeader returns the one ANP-Relay header value of h ("" when there is
// none) and refuses several.
func relayHeader(h http.Header) (string, error) {
	vals := h.Values(anp.RelayHeader)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", anp.Errorf(anp.CodeUnauthorized, "%v: the request carries more than one %s header", anp.ErrRelayFormat, anp.RelayHeader)
}

// relayAuth parses the request's relay signature and checks its time: what
// can be checked before the body is read.
func (n *Node) relayAuth(h http.Header, now time.Time) (anp.RelayAuth, error) {
	v, err := relayHeader(h)
	if err != nil {
		return anp.RelayAuth{}, err
	}
	a, err := anp.ParseRelayAuth(v)
	if err != nil {
		return anp.RelayAuth{}, err
	}
	if err := a.CheckTime(now); err != nil {
		return anp.RelayAuth{}, err
	}
	return a, nil
}

// verifyRelay checks a against the registry key chain over the body that
// arrived on route.
func (n *Node) verifyRelay(ctx context.Context, a anp.RelayAuth, route string, body []byte, now time.Time) error {
	entry, err := n.relayKeys.entry(ctx, a.KeyIndex, now)
	if err != nil {
		return err
	}
	return a.Verify(entry, anp.RelayTarget{Domain: n.domain, Route: route, Body: body})
}
