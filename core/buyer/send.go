package buyer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file is the engine's one path to the seller and back: sealing and
// relaying a buyer envelope with its outbox, and taking a seller envelope
// into the session (takeSeller), which every entry point — a relay reply, a
// WebSocket callback, a nudge, the answer to COMMIT — goes through.

// send seals and relays one buyer envelope and applies the reply. A session
// that already exists keeps the sealed envelope in its outbox until the
// relay confirms it: after an unclear failure the same bytes are re-sent.
func (c *Core) send(ctx context.Context, r *record, t anp.MsgType, body any) (Session, error) {
	key, err := c.sessionKey(r)
	if err != nil {
		return Session{}, err
	}
	return c.sendWith(ctx, r, key, t, body)
}

// sendWith is send with the session key at hand.
func (c *Core) sendWith(ctx context.Context, r *record, key ed25519.PrivateKey, t anp.MsgType, body any) (Session, error) {
	env, err := r.seal(key, t, body, c.cfg.Now(), c.cfg.EnvelopeTTL)
	if err != nil {
		return Session{}, err
	}
	if t != anp.TypePropose { // a new session is stored only once its PROPOSE landed
		r.Outbox, r.OutboxFailed = env, false
		if err := c.save(ctx, r); err != nil {
			return Session{}, err
		}
	}
	c.events.setStatus(StatusNegotiating)
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, env)
	if err != nil {
		c.outboxFailed(ctx, r)
		return r.Session, remoteError(fmt.Sprintf("send %s to %s", t, r.Session.Seller), err)
	}
	return c.delivered(ctx, r, key, env, resp)
}

// delivered records a buyer envelope the relay confirmed, takes the seller's
// reply (if it came at once) and saves the session.
func (c *Core) delivered(ctx context.Context, r *record, key ed25519.PrivateKey, env *anp.Envelope, resp *anp.RelayResponse) (Session, error) {
	if err := r.appendOwn(key, env, c.cfg.Now()); err != nil {
		return Session{}, err
	}
	r.Session.AwaitingSeller = resp.Pending
	if resp.Reply != nil {
		_ = c.takeSeller(r, key, resp.Reply) // a rejected reply leaves the session waiting; takeSeller logged it
	}
	if err := c.save(ctx, r); err != nil {
		return Session{}, err
	}
	c.emitFor(r)
	return r.Session, nil
}

// takeSeller applies a seller envelope to a record loaded under the session's
// lock. An envelope that cannot be appended (forged, replayed, out of order)
// leaves the record unchanged and is returned as an error; an envelope that
// breaks the protocol ends the session in ERROR and returns nil. The caller
// saves the record.
func (c *Core) takeSeller(r *record, key ed25519.PrivateKey, env *anp.Envelope) error {
	before := r.Session.State
	err := r.applySeller(key, env, c.cfg.Now())
	if (before == StateEscalated) != (r.Session.State == StateEscalated) {
		r.escalationNews = true
	}
	switch {
	case err == nil:
		return nil
	case isRejected(err):
		c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("seller envelope rejected")
		return err
	}
	c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("seller broke the protocol")
	r.markError(err)
	return nil
}

// isRejected reports whether err is (or wraps) a *rejectedEnvelope.
func isRejected(err error) bool {
	_, ok := errors.AsType[*rejectedEnvelope](err)
	return ok
}

// outboxFailed records that the relay call for the outbox failed, so the
// next move re-sends it at once.
func (c *Core) outboxFailed(ctx context.Context, r *record) {
	if r.Outbox == nil {
		return
	}
	r.OutboxFailed = true
	if err := c.save(ctx, r); err != nil {
		c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("record the failed send")
	}
}

// flushOutbox re-sends an unconfirmed earlier move byte for byte. When the
// relay confirms it, its answer is applied and ErrConflict tells the caller
// that the session moved on; when the relay refuses it, the move never took
// effect and is dropped; when the relay is still unreachable, ErrUnavailable.
func (c *Core) flushOutbox(ctx context.Context, r *record) error {
	env := r.Outbox
	if env == nil || env.Type == anp.TypeCommit { // ApproveAndSign re-sends its own COMMIT
		return nil
	}
	if err := r.outboxInFlight(c.cfg.Now()); err != nil {
		return err
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return err
	}
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, env)
	if err != nil {
		if code := anp.CodeOf(err); code == anp.CodeUnavailable || code == "" || ctx.Err() != nil {
			return remoteError(fmt.Sprintf("re-send the unconfirmed %s (seq %d) to %s", env.Type, env.Seq, r.Session.Seller), err)
		}
		c.log.Info().Str("session", r.Session.ID).Uint64("seq", env.Seq).Err(err).Msg("unconfirmed move was never taken; dropped")
		r.Outbox, r.OutboxFailed = nil, false
		return c.save(ctx, r)
	}
	if _, err := c.delivered(ctx, r, key, env, resp); err != nil {
		return err
	}
	return fmt.Errorf("session %s: %w: an earlier %s that had not been confirmed was delivered now; the session is %s at turn %d: read it and decide again",
		r.Session.ID, ErrConflict, env.Type, r.Session.State, r.Session.Turn)
}

// emitFor sends the event matching the session's new state.
func (c *Core) emitFor(r *record) {
	if r.escalationNews {
		r.escalationNews = false
		t := EventEscalationResolved
		if r.Session.State == StateEscalated {
			t = EventEscalated
		}
		c.emitSession(t, r)
	}
	s := &r.Session
	switch {
	case s.State == StateConfirmed && !r.CascadeHold:
		c.emitSession(EventApprovalRequired, r)
	case s.State == StateCountered && !s.AwaitingSeller:
		c.emitSession(EventCounterReceived, r)
	case s.State == StateCancelled || s.State == StateStalemate || s.State == StateError:
		c.emitSession(EventSessionCancelled, r)
	}
}

// emitSession delivers an event of type t with a snapshot of r's session,
// taken only when someone subscribed.
func (c *Core) emitSession(t EventType, r *record) {
	if c.events.subs.empty() {
		return
	}
	s := r.Session
	c.events.emit(Event{Type: t, Session: &s})
}
