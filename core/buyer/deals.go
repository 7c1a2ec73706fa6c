package buyer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// DealEvents is what the engine needs from the registry after the
// signature; *registry.Client implements it. A Registry without it cannot
// confirm delivery or open disputes (ErrUnavailable).
type DealEvents interface {
	// DealStatus returns the deal's lifecycle and its logged events.
	DealStatus(ctx context.Context, session string) (*anp.DealStatus, error)
	// SubmitDealEvent has the registry log one event envelope of the deal.
	SubmitDealEvent(ctx context.Context, env *anp.Envelope) (*anp.DealEventEntry, error)
	// KeyChainFor returns the registry key chain, verified under the
	// pinned root key, holding at least key index kid.
	KeyChainFor(ctx context.Context, kid uint64) (*anp.KeysResponse, error)
}

// DealInfo is a signed deal's commitment and its state as the registry's
// log last showed it (verified offline against the artifact).
type DealInfo struct {
	State         anp.DealState      `json:"state"`
	DeliverBy     time.Time          `json:"deliver_by"`
	ReceiptWindow time.Duration      `json:"receipt_window"`
	FulfilledAt   *time.Time         `json:"fulfilled_at,omitempty"`
	Evidence      string             `json:"evidence,omitempty"` // hash of the seller's delivery evidence
	Late          bool               `json:"late,omitempty"`
	Breached      bool               `json:"breached,omitempty"`
	Dispute       *anp.DisputeRecord `json:"dispute,omitempty"`
	Resolution    *anp.Resolution    `json:"resolution,omitempty"`
	Events        int                `json:"events"`
}

// dealInfoOf summarises a verified lifecycle.
func dealInfoOf(l *anp.Lifecycle) *DealInfo {
	d := &DealInfo{
		State: l.State, DeliverBy: time.UnixMilli(l.Commitment.DeliverBy).UTC(),
		ReceiptWindow: time.Duration(l.Commitment.ReceiptWindow) * time.Millisecond,
		Evidence:      l.Evidence, Late: l.Late, Breached: l.Breached,
		Dispute: l.Dispute, Resolution: l.Resolution, Events: len(l.Events),
	}
	if l.FulfilledAt != 0 {
		t := time.UnixMilli(l.FulfilledAt).UTC()
		d.FulfilledAt = &t
	}
	return d
}

// DisputeRequest is what the buyer says in a dispute: a reason from
// anp.DisputeReasons, a severity 1–5, and optional attachment hashes.
// The evidence is the session's transcript: the envelope hashes the deal
// binds (PROPOSE through ACCEPT), computed by the engine.
type DisputeRequest struct {
	Reason      string
	Severity    int
	Attachments []string
}

// Deal refreshes and returns a signed session's deal: the lifecycle the
// registry's log shows, verified offline against the session's artifact
// (anp.VerifyLifecycle), and cached in the session.
func (c *Core) Deal(ctx context.Context, id string) (Session, error) {
	unlock, r, err := c.beginMove(ctx, id)
	if err != nil {
		return Session{}, err
	}
	defer unlock()
	if _, err := c.refreshDeal(ctx, r); err != nil {
		return Session{}, err
	}
	return r.Session, nil
}

// ConfirmDelivery sends the buyer's RECEIPT of a fulfilled deal: received
// as agreed. It ends the deal (a received deal cannot be disputed). A deal
// already received returns unchanged.
func (c *Core) ConfirmDelivery(ctx context.Context, id string) (Session, error) {
	return c.dealMove(ctx, id, anp.TypeReceipt, func(l *anp.Lifecycle, _ *record) (any, error) {
		return &anp.ReceiptBody{Deal: l.Deal}, nil
	})
}

// OpenDispute sends the buyer's DISPUTE of a signed deal. A deal has one
// dispute: a second is refused with anp.ErrDisputeExists.
func (c *Core) OpenDispute(ctx context.Context, id string, req DisputeRequest) (Session, error) {
	return c.dealMove(ctx, id, anp.TypeDispute, func(l *anp.Lifecycle, r *record) (any, error) {
		var evidence []string
		for _, e := range r.Transcript.Envelopes[:min(int(l.BoundLen), len(r.Transcript.Envelopes))] {
			h, err := e.Hash()
			if err != nil {
				return nil, err
			}
			evidence = append(evidence, h)
		}
		return &anp.DisputeBody{Deal: l.Deal, Reason: req.Reason, Severity: req.Severity, Evidence: evidence, Attachments: req.Attachments}, nil
	})
}

// dealMove sends one buyer event of a signed deal: it refreshes the
// lifecycle from the log, checks the event with the lifecycle's own rules
// (anp.Lifecycle.Check) before anything leaves, has the registry log it,
// and refreshes again.
func (c *Core) dealMove(ctx context.Context, id string, t anp.MsgType, body func(*anp.Lifecycle, *record) (any, error)) (Session, error) {
	unlock, r, err := c.beginMove(ctx, id)
	if err != nil {
		return Session{}, err
	}
	defer unlock()
	l, err := c.refreshDeal(ctx, r)
	if err != nil {
		return Session{}, err
	}
	if t == anp.TypeReceipt && l.State == anp.StateReceived {
		return r.Session, nil
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return Session{}, err
	}
	b, err := body(l, r)
	if err != nil {
		return Session{}, err
	}
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: t, Session: id, Seq: l.Seq + 1, Prev: l.Head, To: l.SellerDomain, Body: b, Now: c.cfg.Now(), TTL: c.cfg.EnvelopeTTL})
	if err != nil {
		return Session{}, fmt.Errorf("session %s: %w: %w", id, ErrInvalidInput, err)
	}
	if _, err := l.Check(env, nil, c.cfg.Now().UnixMilli()); err != nil {
		return Session{}, dealRefusal(id, t, err)
	}
	de, err := c.dealEvents()
	if err != nil {
		return Session{}, err
	}
	if _, err := de.SubmitDealEvent(ctx, env); err != nil {
		return Session{}, remoteError(fmt.Sprintf("session %s: %s", id, t), err)
	}
	if _, err := c.refreshDeal(ctx, r); err != nil {
		return Session{}, err
	}
	return r.Session, nil
}

// dealRefusal maps a lifecycle refusal to the engine's errors.
func dealRefusal(id string, t anp.MsgType, err error) error {
	switch {
	case errors.Is(err, anp.ErrDealEventMalformed):
		return fmt.Errorf("session %s: %s: %w: %w", id, t, ErrInvalidInput, err)
	case errors.Is(err, anp.ErrDisputeExists), errors.Is(err, anp.ErrDealEventOrder):
		return fmt.Errorf("session %s: %s: %w: %w", id, t, ErrBadState, err)
	}
	return fmt.Errorf("session %s: %s: %w", id, t, err)
}

func (c *Core) dealEvents() (DealEvents, error) {
	de, ok := c.cfg.Registry.(DealEvents)
	if !ok {
		return nil, fmt.Errorf("%w: the registry client has no deal lifecycle", ErrUnavailable)
	}
	return de, nil
}

// refreshDeal fetches the deal's lifecycle, verifies it offline against the
// session's artifact and stores the summary in the session. r must be held
// under the session's lock.
func (c *Core) refreshDeal(ctx context.Context, r *record) (*anp.Lifecycle, error) {
	s := &r.Session
	if s.State != StateSigned || s.Artifact == nil {
		return nil, fmt.Errorf("session %s: %w: %w: the session is %s", s.ID, ErrBadState, anp.ErrNoDeal, s.State)
	}
	de, err := c.dealEvents()
	if err != nil {
		return nil, err
	}
	st, err := de.DealStatus(ctx, s.ID)
	if err != nil {
		return nil, remoteError("session "+s.ID+": read the deal", err)
	}
	var kid uint64
	for _, e := range st.Events {
		kid = max(kid, e.Leaf.Registry.KeyIndex)
	}
	keys, err := de.KeyChainFor(ctx, kid)
	if err != nil {
		return nil, remoteError("session "+s.ID+": read the registry key chain", err)
	}
	l, err := anp.VerifyLifecycle(s.Artifact, anp.VerifyOptions{RootKey: s.Artifact.Receipt.RootKey}, keys.Chain, st.Events)
	if err != nil {
		return nil, fmt.Errorf("session %s: the registry's deal events do not verify: %w: %w", s.ID, ErrRefused, err)
	}
	// The chain head the next event extends is the registry's: offline, the
	// events alone do not say where the negotiation's chain ended.
	l.Seq, l.Head = st.Lifecycle.Seq, st.Lifecycle.Head
	s.Deal = dealInfoOf(l)
	if err := c.save(ctx, r); err != nil {
		return nil, err
	}
	return l, nil
}
