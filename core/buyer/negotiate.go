package buyer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ProposeOptions are the optional parts of ProposeDeal.
type ProposeOptions struct {
	Opening *anp.Money // an opening offer; must be within the budget
	Hold    bool       // cascade: hold approval_required until the cascade picks a winner
}

// ProposeDeal opens a session with the seller at address (ANP/x.domain). The
// seller's listing is fetched and verified, the mode checked against the
// seller's supported modes, a fresh ephemeral key generated, and a PROPOSE
// relayed. MaxBudget stays local.
func (c *Core) ProposeDeal(ctx context.Context, address string, cons Constraints, opt ProposeOptions) (Session, error) {
	addr, err := anp.ParseAddress(address)
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if err := c.validateConstraints(&cons); err != nil {
		return Session{}, err
	}
	if opt.Opening != nil {
		if err := c.checkOffer(&Session{MaxBudget: cons.MaxBudget}, *opt.Opening); err != nil {
			return Session{}, err
		}
	}
	listing, err := c.cfg.Registry.Listing(ctx, addr.Domain)
	if err != nil {
		return Session{}, classify("look up seller "+addr.Domain, err)
	}
	rec := listing.Record.Record
	if !rec.Supports(addr.Mode) {
		return Session{}, fmt.Errorf("seller %s supports %v, not %s: %w", addr.Domain, rec.Modes, addr.Mode, ErrRefused)
	}
	key, err := newSessionKey()
	if err != nil {
		return Session{}, fmt.Errorf("buyer: session key: %w", err)
	}
	sealed, err := anp.SealSecretBytes(c.cfg.Identity, anp.SecretSessionKey, key.Seed())
	if err != nil {
		return Session{}, fmt.Errorf("buyer: seal session key: %w", err)
	}
	id := anp.NewSessionID()
	body := anp.ProposeBody{Mode: addr.Mode, Item: cons.Item, Category: cons.Category, Quantity: cons.Quantity,
		Currency: cons.MaxBudget.Currency, Terms: cons.Terms, Offer: opt.Opening}
	if c.cfg.BlindKeys != nil && c.cfg.BlindKeys.Has(addr.Domain) {
		if rec.EncKey == "" {
			return Session{}, fmt.Errorf("seller %s publishes no encryption key, so its credential cannot be sent sealed: %w", addr.Domain, ErrRefused)
		}
		cred, _, err := c.cfg.BlindKeys.Seal(rec.EncKey, id, addr.Domain)
		if err != nil {
			return Session{}, fmt.Errorf("buyer: seal credential for %s: %w", addr.Domain, err)
		}
		body.Credential = cred
	}
	if cons.MaxTurns == 0 {
		cons.MaxTurns = c.cfg.MaxTurns
	}
	now := c.cfg.Now().UTC()
	r := &record{
		Session: Session{ID: id, Seller: addr.Domain, Address: addr.String(), Mode: addr.Mode, State: StateProposed,
			Turn: 1, MaxTurns: cons.MaxTurns, Item: cons.Item, Category: cons.Category, Quantity: cons.Quantity,
			Terms: cons.Terms, MaxBudget: cons.MaxBudget, LastOwnOffer: opt.Opening, Deadline: now.Add(c.cfg.SessionTTL),
			CreatedAt: now},
		SealedKey: sealed, SellerKey: listing.Binding.Key, Propose: body, CascadeHold: opt.Hold,
	}
	m := c.lock(id) // a fresh random id: nobody else can hold it
	m.Lock()
	defer m.Unlock()
	return c.sendWith(ctx, r, key, anp.TypePropose, body)
}

// Counter sends a counter-offer. It is refused, with nothing sent, when the
// price is above max_budget, below the buyer's previous offer, in another
// currency, or when the session is not waiting for the buyer's move.
func (c *Core) Counter(ctx context.Context, id string, price anp.Money, message string) (Session, error) {
	return c.CounterAtTurn(ctx, id, 0, price, message)
}

// CounterAtTurn is Counter with optimistic concurrency on the turn: when turn
// is not 0 and the session is no longer at that turn, nothing is sent and
// ErrConflict is returned. Callers that read a snapshot, think, and then
// move pass the snapshot's turn, so of several concurrent moves answering the
// same turn exactly one applies.
func (c *Core) CounterAtTurn(ctx context.Context, id string, turn int, price anp.Money, message string) (Session, error) {
	unlock, r, err := c.beginMove(ctx, id)
	if err != nil {
		return Session{}, err
	}
	defer unlock()
	if err := c.flushOutbox(ctx, r); err != nil {
		return r.Session, err
	}
	if turn != 0 && r.Session.Turn != turn {
		return Session{}, fmt.Errorf("session %s: %w: this counter answers turn %d but the session is at turn %d", id, ErrConflict, turn, r.Session.Turn)
	}
	if err := c.guardMove(r, StateCountered); err != nil {
		return Session{}, err
	}
	if err := c.checkOffer(&r.Session, price); err != nil {
		return Session{}, err
	}
	if ask := r.Session.LastSellerPrice; ask != nil && price.Currency == ask.Currency && price.Amount > ask.Amount {
		price = *ask // never offer more than the seller asks: that is accepting its price
	}
	accepting := r.Session.LastSellerPrice != nil && price == *r.Session.LastSellerPrice
	if r.Session.Turn+1 > c.maxTurns(&r.Session) && !accepting {
		return Session{}, fmt.Errorf("session %s: %w: max turns (%d) reached; accept the seller's price or cancel", id, ErrBadState, c.maxTurns(&r.Session))
	}
	body := &anp.OfferBody{Price: price, Turn: r.Session.Turn + 1, Message: message}
	if err := body.Validate(); err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return c.send(ctx, r, anp.TypeCounter, body)
}

// Accept offers the seller's last price; the seller then confirms it and the
// session moves to CONFIRMED. Refused when that price is above max_budget.
func (c *Core) Accept(ctx context.Context, id, message string) (Session, error) {
	s, err := c.GetSession(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if s.LastSellerPrice == nil {
		return Session{}, fmt.Errorf("session %s: %w: the seller has not quoted a price yet", id, ErrBadState)
	}
	if message == "" {
		message = "We accept your price."
	}
	return c.CounterAtTurn(ctx, id, s.Turn, *s.LastSellerPrice, message)
}

// Cancel withdraws from a session. The seller is told when it can be reached;
// the session is cancelled locally either way, so nothing is ever signed for it.
func (c *Core) Cancel(ctx context.Context, id, reason string) (Session, error) {
	return c.cancelAs(ctx, id, reason, reason)
}

// cancelAs cancels with a local reason and the message the seller gets.
func (c *Core) cancelAs(ctx context.Context, id, reason, toSeller string) (Session, error) {
	m := c.lock(id)
	m.Lock()
	defer m.Unlock()
	r, err := c.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return c.cancelLocked(ctx, r, reason, toSeller)
}

func (c *Core) cancelLocked(ctx context.Context, r *record, reason, toSeller string) (Session, error) {
	if r.Session.State.Terminal() {
		return r.Session, fmt.Errorf("session %s: %w: it is already %s", r.Session.ID, ErrBadState, r.Session.State)
	}
	if reason == "" {
		reason = "buyer cancelled"
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return Session{}, err
	}
	if ferr := c.flushOutbox(ctx, r); ferr != nil {
		c.log.Warn().Str("session", r.Session.ID).Err(ferr).Msg("earlier move not confirmed before cancelling")
	}
	if r.Session.State.Terminal() { // the flushed move's answer ended the session
		return r.Session, nil
	}
	env, err := c.seal(key, r, anp.TypeCancel, &anp.NoteBody{Reason: "buyer_cancel", Message: anp.CleanText(nonEmpty(toSeller, reason), anp.MaxMessageLen)})
	if err == nil {
		if _, err = c.cfg.Registry.Relay(ctx, r.Session.Seller, env); err == nil {
			err = r.Transcript.Append(env, c.ownExpect(r, key))
		}
	}
	r.Session.State = StateCancelled
	r.Session.AwaitingSeller = false
	r.Session.Reason = reason
	r.Outbox, r.OutboxFailed = nil, false
	if err != nil {
		r.Session.Reason = reason + " (cancelled locally: the seller could not be told)"
		c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("cancel not delivered to seller; cancelled locally")
	}
	if err := c.save(ctx, r); err != nil {
		return Session{}, err
	}
	c.emit(Event{Type: EventSessionCancelled, Session: &r.Session})
	return r.Session, nil
}

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
	env, err := c.seal(key, r, t, body)
	if err != nil {
		return Session{}, err
	}
	if t != anp.TypePropose { // a new session is stored only once its PROPOSE landed
		r.Outbox, r.OutboxFailed = env, false
		if err := c.save(ctx, r); err != nil {
			return Session{}, err
		}
	}
	c.setStatus(StatusNegotiating)
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, env)
	if err != nil {
		c.outboxFailed(ctx, r)
		return r.Session, classify(fmt.Sprintf("send %s to %s", t, r.Session.Seller), err)
	}
	return c.delivered(ctx, r, key, env, resp)
}

// delivered records a buyer envelope the relay confirmed, applies the
// seller's reply (if it came at once) and saves the session.
func (c *Core) delivered(ctx context.Context, r *record, key ed25519.PrivateKey, env *anp.Envelope, resp *anp.RelayResponse) (Session, error) {
	if err := c.appendOwn(r, key, env); err != nil {
		return Session{}, err
	}
	r.Session.AwaitingSeller = resp.Pending
	if resp.Reply != nil {
		if err := c.applyReply(r, key, resp.Reply); err != nil {
			c.markError(r, err)
		}
	}
	if err := c.save(ctx, r); err != nil {
		return Session{}, err
	}
	c.emitFor(r)
	return r.Session, nil
}

// appendOwn appends a confirmed buyer envelope and applies its effect on the
// session (a COUNTER is the new own offer and turn). It clears the outbox.
func (c *Core) appendOwn(r *record, key ed25519.PrivateKey, env *anp.Envelope) error {
	if err := r.Transcript.Append(env, c.ownExpect(r, key)); err != nil {
		return fmt.Errorf("buyer: own envelope: %w", err)
	}
	if env.Type == anp.TypeCounter {
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			return err
		}
		p := b.Price
		r.Session.LastOwnOffer, r.Session.Turn = &p, b.Turn
	}
	r.Outbox, r.OutboxFailed = nil, false
	return nil
}

// outboxInFlightFor is how long an unconfirmed move that did not fail is
// presumed to be still in flight on another engine (longer than any relay call).
const outboxInFlightFor = time.Minute

// outboxInFlight refuses to touch an outbox whose relay call may still be
// running elsewhere; after outboxInFlightFor its owner is presumed gone.
func (c *Core) outboxInFlight(r *record) error {
	if r.Outbox == nil || r.OutboxFailed {
		return nil
	}
	if age := c.cfg.Now().Sub(time.UnixMilli(r.Outbox.TS)); age < outboxInFlightFor {
		return fmt.Errorf("session %s: %w: a %s is in flight", r.Session.ID, ErrBusy, r.Outbox.Type)
	}
	return nil
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
	if err := c.outboxInFlight(r); err != nil {
		return err
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return err
	}
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, env)
	if err != nil {
		if code := anp.CodeOf(err); code == anp.CodeUnavailable || code == "" || ctx.Err() != nil {
			return classify(fmt.Sprintf("re-send the unconfirmed %s (seq %d) to %s", env.Type, env.Seq, r.Session.Seller), err)
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

func (c *Core) seal(key ed25519.PrivateKey, r *record, t anp.MsgType, body any) (*anp.Envelope, error) {
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: t, Session: r.Session.ID, Seq: r.Transcript.NextSeq(),
		Prev: r.Transcript.Head, To: r.Session.Seller, Body: body, Now: c.cfg.Now(), TTL: c.cfg.EnvelopeTTL})
	if err != nil {
		return nil, fmt.Errorf("buyer: seal %s: %w", t, err)
	}
	return env, nil
}

func (c *Core) ownExpect(r *record, key ed25519.PrivateKey) anp.Expect {
	return anp.Expect{Session: r.Session.ID, From: anp.PublicKeyHex(key.Public().(ed25519.PublicKey)), To: r.Session.Seller, Now: c.cfg.Now()}
}

// applyReply verifies a seller envelope against the transcript and applies it
// to the session. It returns an error when the envelope cannot be appended
// (the session is unchanged) or breaks the protocol (the caller marks ERROR).
func (c *Core) applyReply(r *record, key ed25519.PrivateKey, env *anp.Envelope) error {
	buyerKey := anp.PublicKeyHex(key.Public().(ed25519.PublicKey))
	if err := r.Transcript.Append(env, anp.Expect{Session: r.Session.ID, From: r.SellerKey, To: buyerKey, Now: c.cfg.Now()}); err != nil {
		return &rejectedEnvelope{err}
	}
	s := &r.Session
	s.AwaitingSeller, s.Escalated = false, false
	if !anp.SellerMayAnswer(env.Type) {
		return fmt.Errorf("seller sent %s, which only a buyer may send", env.Type)
	}
	switch env.Type {
	case anp.TypeCounter:
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			return err
		}
		if b.Price.Currency != s.MaxBudget.Currency {
			return fmt.Errorf("seller countered in %s, the session is in %s", b.Price.Currency, s.MaxBudget.Currency)
		}
		if err := checkTransition(s.State, StateCountered); err != nil {
			return err
		}
		p := b.Price
		s.LastSellerPrice, s.SellerMessage, s.SellerFinal, s.State = &p, b.Message, b.Final, StateCountered
		s.Rounds = append(s.Rounds, Round{Turn: s.Turn, SellerPrice: p, OwnOffer: s.LastOwnOffer})
	case anp.TypeAccept:
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			return err
		}
		switch {
		case s.LastOwnOffer == nil:
			return fmt.Errorf("seller accepted before the buyer made any offer")
		case b.Price.Currency != s.LastOwnOffer.Currency:
			return fmt.Errorf("seller accepted in %s, the session is in %s", b.Price.Currency, s.LastOwnOffer.Currency)
		case b.Price.Amount > s.LastOwnOffer.Amount:
			return fmt.Errorf("seller accepted at %s, above the buyer's offer of %s", b.Price, s.LastOwnOffer)
		case b.Price.Amount > s.MaxBudget.Amount:
			return fmt.Errorf("seller accepted at %s, above max_budget", b.Price)
		}
		if err := checkTransition(s.State, StateConfirmed); err != nil {
			return err
		}
		p := b.Price
		s.LastSellerPrice, s.AgreedPrice, s.SellerMessage, s.State = &p, &p, b.Message, StateConfirmed
		r.AcceptSeq = env.Seq
	case anp.TypeReject, anp.TypeCancel:
		var b anp.NoteBody
		if err := env.DecodeBody(&b); err != nil {
			return err
		}
		to := StateCancelled
		if b.Reason == "max_turns" || b.Reason == "stalemate" {
			to = StateStalemate
		}
		if err := checkTransition(s.State, to); err != nil {
			return err
		}
		s.State, s.SellerMessage, s.Reason = to, b.Message, "seller ended the negotiation: "+knownReason(b.Reason, env.Type)
	case anp.TypeInform, anp.TypeEscalate:
		var b anp.NoteBody
		if err := env.DecodeBody(&b); err != nil {
			return err
		}
		s.SellerMessage = b.Message
		if env.Type == anp.TypeEscalate {
			s.Escalated = true
			s.AwaitingSeller = true // a person on the seller side answers later
		}
	case anp.TypeConfirm:
		return fmt.Errorf("seller sent CONFIRM without a COMMIT")
	}
	return nil
}

// rejectedEnvelope marks an envelope that could not be appended: the session
// stays as it was.
type rejectedEnvelope struct{ err error }

func (e *rejectedEnvelope) Error() string { return e.err.Error() }
func (e *rejectedEnvelope) Unwrap() error { return e.err }

// markError moves a session to ERROR after a protocol violation by the
// seller, unless the envelope was merely rejected.
func (c *Core) markError(r *record, err error) {
	var rej *rejectedEnvelope
	if errors.As(err, &rej) {
		c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("seller envelope rejected")
		return
	}
	c.log.Warn().Str("session", r.Session.ID).Err(err).Msg("seller broke the protocol")
	if !r.Session.State.Terminal() {
		r.Session.State = StateError
		r.Session.AwaitingSeller = false
		r.Session.Reason = "seller broke the protocol: " + err.Error()
	}
}

// emitFor sends the event matching the session's new state.
func (c *Core) emitFor(r *record) {
	s := r.Session
	switch {
	case s.State == StateConfirmed && !r.CascadeHold:
		c.emit(Event{Type: EventApprovalRequired, Session: &s})
	case s.State == StateCountered && !s.AwaitingSeller:
		c.emit(Event{Type: EventCounterReceived, Session: &s})
	case s.State == StateCancelled || s.State == StateStalemate || s.State == StateError:
		c.emit(Event{Type: EventSessionCancelled, Session: &s})
	}
}

// handleCallback processes a seller envelope pushed over the WebSocket.
// Duplicates (same envelope hash) are acknowledged without effect.
func (c *Core) handleCallback(ctx context.Context, env *anp.Envelope) error {
	if !anp.ValidSessionID(env.Session) {
		return anp.Errorf(anp.CodeBadRequest, "callback for a malformed session id")
	}
	m := c.lock(env.Session)
	if !lockWithin(ctx, m, callbackWait) {
		// A move on this session is in flight: let the registry redeliver
		// instead of holding up every other session's callbacks.
		return anp.Errorf(anp.CodeUnavailable, "session %s is busy; deliver again", env.Session)
	}
	defer m.Unlock()
	r, err := c.load(ctx, env.Session)
	if errors.Is(err, ErrNotFound) {
		return anp.Errorf(anp.CodeNotFound, "callback for unknown session %s", env.Session)
	}
	if err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	h, err := env.Hash()
	if err != nil {
		return anp.Errorf(anp.CodeBadRequest, "%v", err)
	}
	for _, old := range r.Transcript.Envelopes {
		if old.Sig != env.Sig { // cheap filter: only an identical signature can be the same envelope
			continue
		}
		if oh, _ := old.Hash(); oh == h {
			c.log.Debug().Str("session", r.Session.ID).Uint64("seq", env.Seq).Msg("duplicate callback ignored")
			return nil
		}
	}
	if r.Session.State.Terminal() {
		return anp.Errorf(anp.CodeBadState, "callback for session %s, which is %s", r.Session.ID, r.Session.State)
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	if ob := r.Outbox; ob != nil && env.Seq == ob.Seq+1 {
		// The answer to a move whose relay call failed unclearly: the move
		// did land. Confirm it first so the answer chains.
		if oh, _ := ob.Hash(); oh == env.Prev {
			if err := c.appendOwn(r, key, ob); err != nil {
				return anp.Errorf(anp.CodeInternal, "%v", err)
			}
		}
	}
	if env.Seq > r.Transcript.NextSeq() {
		// Ahead of what this store holds (another pod has not saved yet): later.
		return anp.Errorf(anp.CodeUnavailable, "callback seq %d is ahead of session %s (next %d); deliver again", env.Seq, r.Session.ID, r.Transcript.NextSeq())
	}
	if err := c.applyReply(r, key, env); err != nil {
		var rej *rejectedEnvelope
		if errors.As(err, &rej) {
			return err
		}
		c.markError(r, err)
	}
	if err := c.save(ctx, r); err != nil {
		return anp.Errorf(anp.CodeInternal, "%v", err)
	}
	c.log.Info().Str("session", r.Session.ID).Uint64("seq", env.Seq).Str("type", string(env.Type)).Str("state", string(r.Session.State)).Msg("applied seller answer")
	c.emitFor(r)
	return nil
}

// guardMove checks that the buyer may move now.
func (c *Core) guardMove(r *record, to State) error {
	s := &r.Session
	if !s.State.Terminal() && !c.cfg.Now().Before(s.Deadline) {
		return fmt.Errorf("session %s: %w: the session deadline passed", s.ID, ErrBadState)
	}
	if s.AwaitingSeller || s.State == StateProposed {
		return fmt.Errorf("session %s: %w: waiting for the seller's answer", s.ID, ErrBusy)
	}
	if s.State == StateConfirmed && to == StateCountered {
		return fmt.Errorf("session %s: %w: the seller already confirmed %s; approve_and_sign or cancel", s.ID, ErrBadState, s.AgreedPrice)
	}
	if err := checkTransition(s.State, to); err != nil {
		return fmt.Errorf("session %s: %w: %v", s.ID, ErrBadState, err)
	}
	return nil
}

// checkOffer is the budget guardrail: positive, same currency, at most
// max_budget, and never below the buyer's previous offer.
func (c *Core) checkOffer(s *Session, price anp.Money) error {
	if err := price.Positive(); err != nil {
		return fmt.Errorf("%w: price: %w", ErrInvalidInput, err)
	}
	if price.Currency != s.MaxBudget.Currency {
		return fmt.Errorf("%w: price is in %s, the budget is in %s", ErrInvalidInput, price.Currency, s.MaxBudget.Currency)
	}
	if price.Amount > s.MaxBudget.Amount {
		return fmt.Errorf("%w: %s is above the buyer's max_budget; nothing was sent", ErrOverBudget, price)
	}
	if s.LastOwnOffer != nil && price.Amount < s.LastOwnOffer.Amount {
		return fmt.Errorf("%w: %s is below the previous offer of %s; offers may not go down", ErrInvalidInput, price, s.LastOwnOffer)
	}
	return nil
}

func (c *Core) maxTurns(s *Session) int {
	if s.MaxTurns > 0 {
		return s.MaxTurns
	}
	return c.cfg.MaxTurns
}

func (c *Core) validateConstraints(k *Constraints) error {
	if k.Quantity == 0 {
		k.Quantity = 1
	}
	if k.MaxBudget.Currency == "" {
		k.MaxBudget.Currency = "USD"
	}
	if err := k.MaxBudget.Positive(); err != nil {
		return fmt.Errorf("%w: max_budget: %w", ErrInvalidInput, err)
	}
	if k.MaxTurns < 0 || k.MaxTurns > 50 {
		return fmt.Errorf("%w: max_turns %d must be between 1 and 50", ErrInvalidInput, k.MaxTurns)
	}
	probe := anp.ProposeBody{Mode: anp.ModeC, Item: k.Item, Category: k.Category, Quantity: k.Quantity, Currency: k.MaxBudget.Currency, Terms: k.Terms}
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

// knownReason maps the seller's reason code onto our own words: the field is
// seller-written and must not reach a model outside the untrusted fence.
func knownReason(code string, t anp.MsgType) string {
	switch code {
	case "stalemate", "max_turns":
		return "no agreement within the seller's turns"
	case "rejected":
		return "rejected"
	case "cancelled", "seller_cancel":
		return "cancelled by the seller"
	case "":
		return strings.ToLower(string(t))
	}
	return "other reason (see the seller's message)"
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
