package seller

import (
	"context"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Register binds the node's domain to its identity key (control plane) and
// publishes a signed endpoint record pointing at endpoint (data plane). The
// record carries the categories, capabilities, modes, display name and demo
// flag of the Config, the blind-credential key EncryptionKey() and a Seq of
// the current unix milliseconds, strictly increasing within the process.
// grant is the registry operator's enrolment grant for the domain; it is
// needed only while the domain is not bound to this key (the first time,
// and after a revocation), and not on a registry with open enrollment.
func (n *Node) Register(ctx context.Context, endpoint, grant string) (*anp.Listing, error) {
	if n.cfg.Registry == nil {
		return nil, errors.New("seller: register: no registry configured")
	}
	b, err := n.cfg.Registry.Bind(ctx, n.domain, grant)
	if err != nil {
		return nil, fmt.Errorf("seller: register: bind %s: %w", n.domain, err)
	}
	if b.Domain != n.domain || b.Key != n.keyHex {
		return nil, fmt.Errorf("seller: register: the registry bound %s to key %s, not to this node's key %s",
			b.Domain, anp.Truncate(b.Key, 12), n.keyHex[:12])
	}
	now := n.now()
	rec := anp.EndpointRecord{
		Domain:       n.domain,
		Endpoint:     endpoint,
		Categories:   n.cfg.Categories,
		Capabilities: n.cfg.Capabilities,
		Modes:        n.modes,
		EncKey:       n.EncryptionKey(),
		DisplayName:  n.cfg.DisplayName,
		Demo:         n.cfg.Demo,
		Seq:          n.nextRecordSeq(uint64(now.UnixMilli())),
		TS:           now.UnixMilli(),
	}
	signed, err := anp.SignRecord(rec, anp.Signer(n.key))
	if err != nil {
		return nil, fmt.Errorf("seller: register: %w", err)
	}
	l, err := n.cfg.Registry.PublishRecord(ctx, signed)
	if err != nil {
		return nil, fmt.Errorf("seller: register: publish the endpoint record of %s: %w", n.domain, err)
	}
	n.log.Info().Str("endpoint", endpoint).Uint64("seq", rec.Seq).Msg("endpoint record published")
	return l, nil
}

// nextRecordSeq returns max(ms, last+1) and remembers it.
func (n *Node) nextRecordSeq(ms uint64) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastSeq = max(ms, n.lastSeq+1)
	return n.lastSeq
}
