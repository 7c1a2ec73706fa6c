package registry

import (
	"context"
	"net/http"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// dealPath fills the session into a deal route.
func dealPath(route, session string) string { return strings.Replace(route, "{session}", session, 1) }

// DealStatus returns the lifecycle and logged events of a deal this client's
// identity is a party of (or, with the arbiter key, any deal). Each event
// is checked on its own (countersignature under the pinned root key).
func (c *Client) DealStatus(ctx context.Context, session string) (*anp.DealStatus, error) {
	if !anp.ValidSessionID(session) {
		return nil, anp.Errorf(anp.CodeBadRequest, "session id must be 32 lower-case hex characters")
	}
	var out anp.DealStatus
	if err := c.authCall(ctx, http.MethodGet, dealPath(anp.RouteDeal, session), "", nil, &out); err != nil {
		return nil, err
	}
	if err := c.verifyDealEvents(ctx, out.Events...); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitDealEvent sends one event envelope of a deal to the registry and
// returns the logged entry, checked like DealStatus's.
func (c *Client) SubmitDealEvent(ctx context.Context, env *anp.Envelope) (*anp.DealEventEntry, error) {
	var out anp.DealEventEntry
	if err := c.authCall(ctx, http.MethodPost, dealPath(anp.RouteDealEvents, env.Session), "", env, &out); err != nil {
		return nil, err
	}
	if err := c.verifyDealEvents(ctx, out); err != nil {
		return nil, err
	}
	h, err := env.Hash()
	if err != nil {
		return nil, err
	}
	if got := out.Leaf.Event.Envelope; got == nil || mustHash(got) != h {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry logged another event than the %s sent", env.Type)
	}
	return &out, nil
}

func mustHash(e *anp.Envelope) string {
	h, err := e.Hash()
	if err != nil {
		return ""
	}
	return h
}

// verifyDealEvents checks each entry's leaf against the registry's key
// chain under the pinned root key.
func (c *Client) verifyDealEvents(ctx context.Context, entries ...anp.DealEventEntry) error {
	if len(entries) == 0 {
		return nil
	}
	root, err := c.pinnedRoot(ctx)
	if err != nil {
		return err
	}
	for i := range entries {
		keys, err := c.KeyChainFor(ctx, entries[i].Leaf.Registry.KeyIndex)
		if err != nil {
			return err
		}
		if err := entries[i].Leaf.Verify(root, keys.Chain); err != nil {
			return err
		}
	}
	return nil
}

// Disputes lists the registry's disputes (the arbiter key's client only).
func (c *Client) Disputes(ctx context.Context) ([]DisputeSummary, error) {
	var out []DisputeSummary
	if err := c.authCall(ctx, http.MethodGet, anp.RouteDisputes, "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ArbiterKey returns the registry's arbiter key certificate, checked
// against the pinned root key.
func (c *Client) ArbiterKey(ctx context.Context) (*anp.ArbiterKey, error) {
	var out anp.ArbiterKey
	if err := c.call(ctx, http.MethodGet, anp.RouteArbiter, "", nil, "", &out); err != nil {
		return nil, err
	}
	root, err := c.pinnedRoot(ctx)
	if err != nil {
		return nil, err
	}
	if err := out.Verify(root, out.ValidFrom); err != nil {
		return nil, err
	}
	return &out, nil
}
