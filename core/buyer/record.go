package buyer

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// record is what the engine persists per session. The ephemeral session key
// is sealed under the identity key before it reaches any store.
type record struct {
	Session    Session         `json:"session"`
	SealedKey  []byte          `json:"sealed_key,omitempty"` // nil (left out) only inside an export, which carries the seed
	SellerKey  string          `json:"seller_key"`
	Propose    anp.ProposeBody `json:"propose"`
	Transcript anp.Transcript  `json:"transcript"`
	AcceptSeq  uint64          `json:"accept_seq,omitempty"` // seq of the seller's ACCEPT envelope
	Pending    *anp.Artifact   `json:"pending,omitempty"`    // buyer-signed artifact while approval is in flight
	// Outbox is a sealed buyer move whose delivery is not confirmed (the relay
	// failed without a clear answer). It is re-sent byte for byte before any
	// other move, so the transcript can never fork on a lost answer.
	Outbox *anp.Envelope `json:"outbox,omitempty"`
	// OutboxFailed says the relay call for Outbox returned an error; until
	// then the move may still be in flight on another engine sharing the store.
	OutboxFailed bool `json:"outbox_failed,omitempty"`
	CascadeHold  bool `json:"cascade_hold,omitempty"`
	// escalationNews: the last seller envelope taken moved the session into
	// or out of ESCALATED; emitFor announces it once the record is saved.
	escalationNews bool

	// sigs is the engine's signature cache (Core.sigs): the buyer checks
	// each signature once and never its own. Nil checks every time.
	sigs *anp.SigCache

	// encoded and propose memoise what encodeRecord derives from the
	// transcript (storedencode.go); copies of the record share them.
	encoded encodedEnvelopes
	propose proposeMemo
	// sealedCounter is the COUNTER this record sealed last with the offer
	// it carries, so that appendOwn need not decode the body it encoded.
	sealedCounter sealedCounter
}

// sealedCounter is a COUNTER envelope a record sealed and its offer; it
// speaks only for that envelope (the same pointer).
type sealedCounter struct {
	env   *anp.Envelope
	price anp.Money
	turn  int
}

// exportedSession is one session inside a sealed export: the record plus the
// session key seed in the clear (the whole export is sealed).
type exportedSession struct {
	Record  record `json:"record"`
	KeySeed []byte `json:"key_seed"`
}

// This file holds what the engine does to a stored record without I/O: the
// transcript, the outbox and the deal artifact. The engine (Core) loads a
// record under the session's lock, calls these, and saves it.

// buyerKey is the session's public key as it appears in envelopes.
func buyerKey(key ed25519.PrivateKey) string {
	return anp.PublicKeyHex(key.Public().(ed25519.PublicKey))
}

// seal makes the session's next buyer envelope.
func (r *record) seal(key ed25519.PrivateKey, t anp.MsgType, body any, now time.Time, ttl time.Duration) (*anp.Envelope, error) {
	env, err := anp.Seal(key, anp.EnvelopeSpec{Type: t, Session: r.Session.ID, Seq: r.Transcript.NextSeq(),
		Prev: r.Transcript.Head, To: r.Session.Seller, Body: body, Now: now, TTL: ttl})
	if err != nil {
		return nil, fmt.Errorf("buyer: seal %s: %w", t, err)
	}
	if err := r.sigs.RememberEnvelope(env); err != nil {
		return nil, fmt.Errorf("buyer: seal %s: %w", t, err)
	}
	if b, ok := body.(*anp.OfferBody); ok && t == anp.TypeCounter {
		r.sealedCounter = sealedCounter{env: env, price: b.Price, turn: b.Turn}
	}
	return env, nil
}

// appendOwn appends a confirmed buyer envelope and applies its effect on the
// session (a COUNTER is the new own offer and turn). It clears the outbox.
func (r *record) appendOwn(key ed25519.PrivateKey, env *anp.Envelope, now time.Time) error {
	expect := anp.Expect{Session: r.Session.ID, From: buyerKey(key), To: r.Session.Seller, Now: now, Cache: r.sigs}
	if err := r.Transcript.Append(env, expect); err != nil {
		return fmt.Errorf("buyer: own envelope: %w", err)
	}
	if env.Type == anp.TypeCounter {
		price, turn, err := r.ownCounterOffer(env)
		if err != nil {
			return err
		}
		r.Session.ApplyOwnCounter(price, turn)
	}
	r.Outbox, r.OutboxFailed = nil, false
	return nil
}

// ownCounterOffer is the offer of a buyer COUNTER: the one it was sealed
// with when this record sealed env, else its decoded body.
func (r *record) ownCounterOffer(env *anp.Envelope) (anp.Money, int, error) {
	if sc := r.sealedCounter; sc.env == env {
		return sc.price, sc.turn, nil
	}
	var b anp.OfferBody
	if err := env.DecodeBody(&b); err != nil {
		return anp.Money{}, 0, err
	}
	return b.Price, b.Turn, nil
}

// rejectedEnvelope marks a seller envelope that could not be appended: the
// session stays as it was.
type rejectedEnvelope struct{ err error }

func (e *rejectedEnvelope) Error() string { return e.err.Error() }
func (e *rejectedEnvelope) Unwrap() error { return e.err }

// applySeller verifies a seller envelope against the transcript and applies
// it. It returns a *rejectedEnvelope when the envelope cannot be appended
// (the record is unchanged) and any other error when the seller broke the
// protocol (the caller marks the session ERROR).
func (r *record) applySeller(key ed25519.PrivateKey, env *anp.Envelope, now time.Time) error {
	expect := anp.Expect{Session: r.Session.ID, From: r.SellerKey, To: buyerKey(key), Now: now, Cache: r.sigs}
	if err := r.Transcript.Append(env, expect); err != nil {
		return &rejectedEnvelope{err}
	}
	m, err := decodeSellerMove(env)
	if err != nil {
		return err
	}
	if err := r.Session.ApplySellerMove(m); err != nil {
		return err
	}
	if env.Type == anp.TypeAccept {
		r.AcceptSeq = env.Seq
	}
	return nil
}

// decodeSellerMove reads the body of a seller envelope.
func decodeSellerMove(env *anp.Envelope) (SellerMove, error) {
	m := SellerMove{Type: env.Type}
	switch env.Type {
	case anp.TypeCounter, anp.TypeAccept:
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			return m, err
		}
		m.Price, m.Final, m.Message = b.Price, b.Final, b.Message
	case anp.TypeReject, anp.TypeCancel, anp.TypeInform, anp.TypeEscalate:
		var b anp.NoteBody
		if err := env.DecodeBody(&b); err != nil {
			return m, err
		}
		m.Message, m.Reason = b.Message, b.Reason
	}
	return m, nil
}

// markError ends the session after a protocol violation by the seller.
func (r *record) markError(cause error) {
	if r.Session.State.Terminal() {
		return
	}
	r.Session.State = StateError
	r.Session.AwaitingSeller = false
	r.Session.Reason = "seller broke the protocol: " + cause.Error()
}

// guardMove checks that the buyer may move the session towards state to now.
func (r *record) guardMove(to State, now time.Time) error {
	s := &r.Session
	if !s.State.Terminal() && !now.Before(s.Deadline) {
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

// outboxInFlightFor is how long an unconfirmed move that did not fail is
// presumed to be still in flight on another engine (longer than any relay call).
const outboxInFlightFor = time.Minute

// outboxInFlight refuses to touch an outbox whose relay call may still be
// running elsewhere; after outboxInFlightFor its owner is presumed gone.
func (r *record) outboxInFlight(now time.Time) error {
	if r.Outbox == nil || r.OutboxFailed {
		return nil
	}
	if age := now.Sub(time.UnixMilli(r.Outbox.TS)); age < outboxInFlightFor {
		return fmt.Errorf("session %s: %w: a %s is in flight", r.Session.ID, ErrBusy, r.Outbox.Type)
	}
	return nil
}

// deliverBy is the delivery deadline of the commitment the deal will
// carry, derived from the proposal's terms and the seller's ACCEPT; zero
// when there is no ACCEPT or its terms do not derive one.
func (r *record) deliverBy() time.Time {
	if r.AcceptSeq == 0 || r.AcceptSeq > uint64(len(r.Transcript.Envelopes)) {
		return time.Time{}
	}
	c, err := anp.CommitmentFor(r.Propose.Terms, r.Transcript.Envelopes[r.AcceptSeq-1].TS)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(c.DeliverBy).UTC()
}

// buildArtifact assembles and signs the deal from the verified transcript.
func (r *record) buildArtifact(key ed25519.PrivateKey, now time.Time) (*anp.Artifact, error) {
	s := &r.Session
	if r.AcceptSeq == 0 || r.AcceptSeq > uint64(len(r.Transcript.Envelopes)) {
		return nil, fmt.Errorf("buyer: session %s has no seller ACCEPT in its transcript", s.ID)
	}
	accept := r.Transcript.Envelopes[r.AcceptSeq-1]
	var body anp.OfferBody
	if err := accept.DecodeBody(&body); err != nil {
		return nil, err
	}
	if s.AgreedPrice == nil || body.Price != *s.AgreedPrice {
		return nil, fmt.Errorf("buyer: session %s: agreed price does not match the seller's ACCEPT", s.ID)
	}
	if body.Price.Amount > s.MaxBudget.Amount || body.Price.Currency != s.MaxBudget.Currency {
		return nil, fmt.Errorf("session %s: %w: agreed price %s", s.ID, ErrOverBudget, body.Price)
	}
	head, err := accept.Hash()
	if err != nil {
		return nil, err
	}
	commitment, err := anp.CommitmentFor(r.Propose.Terms, accept.TS)
	if err != nil {
		return nil, fmt.Errorf("buyer: session %s: the deal's commitment: %w", s.ID, err)
	}
	a := &anp.Artifact{Terms: anp.DealTerms{
		V: anp.Version, SessionID: s.ID, Mode: s.Mode, SellerDomain: s.Seller, SellerKey: r.SellerKey,
		BuyerKey: buyerKey(key), BuyerIdentity: r.Propose.BuyerIdentity, Item: r.Propose.Item, Quantity: r.Propose.Quantity,
		Terms: r.Propose.Terms, Price: body.Price, TranscriptHead: head, TranscriptLen: accept.Seq,
		AgreedAt: accept.TS, CreatedAt: max(now.UnixMilli(), accept.TS), Commitment: &commitment,
	}}
	if err := a.SignAsBuyer(key); err != nil {
		return nil, fmt.Errorf("buyer: sign artifact: %w", err)
	}
	if err := r.sigs.Remember(a.Terms.BuyerKey, anp.PurposeArtifactBuyer, &a.Terms, a.BuyerSig); err != nil {
		return nil, fmt.Errorf("buyer: sign artifact: %w", err)
	}
	return a, nil
}

// takeConfirm appends the seller's CONFIRM and puts its signature on a,
// refusing a CONFIRM whose signature does not verify over a's terms.
func (r *record) takeConfirm(env *anp.Envelope, a *anp.Artifact, now time.Time) error {
	expect := anp.Expect{Session: r.Session.ID, From: r.SellerKey, To: a.Terms.BuyerKey, Now: now, Cache: r.sigs}
	if err := r.Transcript.Append(env, expect); err != nil {
		return fmt.Errorf("seller signature envelope: %w", err)
	}
	var body anp.ConfirmBody
	if err := env.DecodeBody(&body); err != nil {
		return err
	}
	a.SellerSig = body.SellerSig
	return a.VerifySellerWith(r.sigs)
}

// confirmOutboxBy appends the outbox when the seller envelope env answers it:
// the move whose relay call failed unclearly did land, and is confirmed first
// so the answer chains.
func (r *record) confirmOutboxBy(key ed25519.PrivateKey, env *anp.Envelope, now time.Time) error {
	ob := r.Outbox
	if ob == nil || env.Seq != ob.Seq+1 {
		return nil
	}
	if oh, _ := ob.Hash(); oh != env.Prev {
		return nil
	}
	return r.appendOwn(key, ob, now)
}
