package registry

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The named refusals of a seller key (code forbidden); test with errors.Is.
var (
	// ErrKeyChanged: a listing shows a seller key that the registry's
	// logged key history does not lead to from the key this buyer knows.
	ErrKeyChanged = errors.New("seller key changed without a logged rotation")
	// ErrKeyRevoked: the seller's key is revoked in the logged key history.
	ErrKeyRevoked = errors.New("seller key is revoked")
)

// keysPath is the key history route of domain.
func keysPath(domain string) string { return "/v1/domains/" + url.PathEscape(domain) + "/keys" }

// KeyHistory returns a domain's logged key events, unverified: check them
// with CheckSellerKey.
func (c *Client) KeyHistory(ctx context.Context, domain string) (*anp.KeyHistory, error) {
	var h anp.KeyHistory
	if err := c.call(ctx, http.MethodGet, keysPath(domain), "", nil, "", &h); err != nil {
		return nil, err
	}
	if h.Domain != domain {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry answered with the key history of %s for %s", h.Domain, domain)
	}
	return &h, nil
}

// keyState replays domain's key history (as the registry shows it) to
// learn the bound key and the seq of the next event.
func (c *Client) keyState(ctx context.Context, domain string) (anp.KeyState, error) {
	h, err := c.KeyHistory(ctx, domain)
	if err != nil {
		return anp.KeyState{}, err
	}
	st := anp.KeyState{Domain: domain}
	for _, e := range h.Events {
		if err := st.Apply(&e.Leaf.Event, e.LeafIndex); err != nil {
			return anp.KeyState{}, fmt.Errorf("registry: key history of %s: %w", domain, err)
		}
	}
	return st, nil
}

// RotateKey hands domain over from this client's identity key, which must
// be the bound key, to newKey: both sign the rotation. The registry logs it
// and binds newKey; the seller then publishes its endpoint record again,
// signed by newKey.
func (c *Client) RotateKey(ctx context.Context, domain string, newKey ed25519.PrivateKey) (*anp.KeyEventEntry, error) {
	st, err := c.keyState(ctx, domain)
	if err != nil {
		return nil, err
	}
	ch := anp.KeyChange{Domain: domain, Kind: anp.KeyEventRotate, By: anp.ChangeByKey, Key: c.pub,
		NewKey: anp.PublicKeyHex(newKey.Public().(ed25519.PublicKey)), Seq: st.Next, TS: c.now().UnixMilli()}
	sc, err := anp.SignKeyChange(ch, anp.Signer(c.identity), anp.Signer(newKey))
	if err != nil {
		return nil, err
	}
	return c.SubmitKeyChange(ctx, &sc)
}

// RevokeKey revokes this client's identity key, which must be the key
// bound to domain. The domain then has no usable key until the registry
// operator grants it again and a new key is bound.
func (c *Client) RevokeKey(ctx context.Context, domain string) (*anp.KeyEventEntry, error) {
	return c.revoke(ctx, domain, anp.ChangeByKey, c.identity)
}

// RevokeKeyAsOperator revokes the key bound to domain with the registry
// root key root, for a seller whose key is lost or stolen.
func (c *Client) RevokeKeyAsOperator(ctx context.Context, domain string, root ed25519.PrivateKey) (*anp.KeyEventEntry, error) {
	return c.revoke(ctx, domain, anp.ChangeByOperator, root)
}

func (c *Client) revoke(ctx context.Context, domain, by string, signer ed25519.PrivateKey) (*anp.KeyEventEntry, error) {
	st, err := c.keyState(ctx, domain)
	if err != nil {
		return nil, err
	}
	if st.Key == "" || st.Revoked {
		return nil, anp.Errorf(anp.CodeConflict, "%s has no usable key to revoke", domain)
	}
	if by == anp.ChangeByKey && st.Key != c.pub {
		return nil, anp.Errorf(anp.CodeConflict, "%s is bound to key %s…, not to this key %s…: only the bound key (or the operator) revokes it", domain, shortKey(st.Key), shortKey(c.pub))
	}
	sc, err := anp.SignKeyChange(anp.KeyChange{Domain: domain, Kind: anp.KeyEventRevoke, By: by, Key: st.Key, Seq: st.Next, TS: c.now().UnixMilli()},
		anp.Signer(signer), nil)
	if err != nil {
		return nil, err
	}
	return c.SubmitKeyChange(ctx, &sc)
}

// SubmitKeyChange sends a signed rotation or revocation and returns the
// logged event, whose countersignature it verifies.
func (c *Client) SubmitKeyChange(ctx context.Context, sc *anp.SignedKeyChange) (*anp.KeyEventEntry, error) {
	var e anp.KeyEventEntry
	if err := c.call(ctx, http.MethodPost, keysPath(sc.Change.Domain), "", sc, "", &e); err != nil {
		return nil, err
	}
	if e.Leaf.Event.Change == nil || e.Leaf.Event.Change.Sig != sc.Sig {
		return nil, anp.Errorf(anp.CodeBadSignature, "registry logged another key event than the one sent")
	}
	if err := c.verifyKeyEvent(ctx, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// verifyKeyEvent checks a logged key event offline against the pinned
// registry root key and the verified key chain.
func (c *Client) verifyKeyEvent(ctx context.Context, e *anp.KeyEventEntry) error {
	root, err := c.pinnedRoot(ctx)
	if err != nil {
		return err
	}
	k, err := c.chainFor(ctx, e.Leaf.Registry.KeyIndex)
	if err != nil {
		return err
	}
	return e.Leaf.Verify(root, k.Chain)
}

// CheckSellerKey decides whether listed, the key a listing shows for
// domain, may be trusted by a buyer whose pinned key state of domain is pin
// (nil: it never dealt with domain). The same key as pinned is accepted
// without asking the registry. Otherwise the registry's key history is
// fetched and each event after the pin (every event, without one) is
// verified — its signatures, the registry countersignature, and its
// inclusion in a signed tree head that the log watcher has checked — and
// replayed from the pinned state. The listed key is accepted when the
// replay ends on it, not revoked: the returned state is the new pin and
// the events are the logged key changes since the old one. Otherwise the
// error wraps ErrKeyRevoked or ErrKeyChanged (code forbidden), or
// ErrLogFork when the log watcher saw a fork.
func (c *Client) CheckSellerKey(ctx context.Context, domain, listed string, pin *anp.KeyState) (anp.KeyState, []anp.KeyEventEntry, error) {
	if pin != nil && pin.Key == listed && !pin.Revoked {
		return *pin, nil, nil
	}
	h, err := c.KeyHistory(ctx, domain)
	if anp.CodeOf(err) == anp.CodeNotFound {
		return anp.KeyState{}, nil, keyChanged(domain, "the registry shows no logged key history for it")
	}
	if err != nil {
		return anp.KeyState{}, nil, fmt.Errorf("registry: key history of %s: %w", domain, err)
	}
	st, events, err := startFromPin(domain, h, pin)
	if err != nil {
		return anp.KeyState{}, nil, err
	}
	if err := c.proveKeyEvents(ctx, domain, events); err != nil {
		return anp.KeyState{}, nil, err
	}
	for i := range events {
		if err := st.Apply(&events[i].Leaf.Event, events[i].LeafIndex); err != nil {
			return anp.KeyState{}, nil, keyChanged(domain, "%v", err)
		}
	}
	switch {
	case st.Revoked:
		return anp.KeyState{}, nil, anp.Errorf(anp.CodeForbidden, "%v: key %s… of %s was revoked at log index %d", ErrKeyRevoked, shortKey(st.Key), domain, st.LeafIndex)
	case st.Key != listed:
		return anp.KeyState{}, nil, keyChanged(domain, "the listing shows key %s…, but the logged key history ends on key %s… (log index %d): no logged rotation leads to the listed key",
			shortKey(listed), shortKey(st.Key), st.LeafIndex)
	}
	return st, events, nil
}

// startFromPin returns the state to replay h from and the events to
// replay: all of them without a pin, else those after it, once the history
// is checked to still hold the pinned event.
func startFromPin(domain string, h *anp.KeyHistory, pin *anp.KeyState) (anp.KeyState, []anp.KeyEventEntry, error) {
	if pin == nil {
		return anp.KeyState{Domain: domain}, h.Events, nil
	}
	n := uint64(len(h.Events))
	if pin.Next == 0 || n < pin.Next {
		return anp.KeyState{}, nil, keyChanged(domain, "the registry shows %d key events, this buyer verified %d before", n, pin.Next)
	}
	last := h.Events[pin.Next-1]
	if last.LeafIndex != pin.LeafIndex || last.Leaf.Event.Key != pin.Key || last.Leaf.Event.Seq != pin.Next-1 {
		return anp.KeyState{}, nil, keyChanged(domain, "the registry's key history no longer holds the key event %d (log index %d) that bound the pinned key %s…",
			pin.Next-1, pin.LeafIndex, shortKey(pin.Key))
	}
	return *pin, h.Events[pin.Next:], nil
}

// proveKeyEvents verifies each event offline and proves its inclusion in
// the registry's current signed tree head, which the log watcher checks
// against every head seen before.
func (c *Client) proveKeyEvents(ctx context.Context, domain string, events []anp.KeyEventEntry) error {
	if len(events) == 0 {
		return nil
	}
	head, err := c.LogHead(ctx)
	if err != nil {
		return fmt.Errorf("registry: log head for the key history of %s: %w", domain, err)
	}
	for i := range events {
		e := &events[i]
		if err := c.verifyKeyEvent(ctx, e); err != nil {
			return keyChanged(domain, "key event %d: %v", e.Leaf.Event.Seq, err)
		}
		if e.LeafIndex >= head.Size {
			return keyChanged(domain, "key event %d claims log index %d, beyond the signed log of size %d", e.Leaf.Event.Seq, e.LeafIndex, head.Size)
		}
		proof, err := c.Inclusion(ctx, e.LeafIndex, head.Size)
		if err != nil {
			return fmt.Errorf("registry: inclusion proof of key event %d of %s: %w", e.Leaf.Event.Seq, domain, err)
		}
		data, err := e.Leaf.LeafData()
		if err != nil {
			return err
		}
		if err := anp.VerifyInclusion(data, e.LeafIndex, head, proof); err != nil {
			c.log.Debug().Err(err).Str("domain", domain).Msg("key event inclusion proof")
			return keyChanged(domain, "key event %d is not at index %d of the signed log (%s): its inclusion proof does not verify",
				e.Leaf.Event.Seq, e.LeafIndex, DescribeHead(head))
		}
	}
	return nil
}

// keyChanged is the ErrKeyChanged refusal for domain, with why.
func keyChanged(domain, format string, args ...any) error {
	return anp.Errorf(anp.CodeForbidden, "%v: seller %s: %s", ErrKeyChanged, domain, fmt.Sprintf(format, args...))
}
