package buyer

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ProposeOptions are the optional parts of ProposeDeal.
type ProposeOptions struct {
	Opening *anp.Money // an opening offer; must be within the budget
	Hold    bool       // cascade: hold approval_required until the cascade picks a winner

	// A cascade checks the registry's log once for all its proposals
	// (logChecked) and proposes to the listings its discovery returned,
	// verified (listing), instead of fetching each again.
	logChecked bool
	listing    *anp.Listing
}

// ProposeDeal opens a session with the seller at address (ANP/x.domain). The
// seller's listing is fetched and verified, the mode checked against the
// seller's supported modes, a fresh ephemeral key generated, and a PROPOSE
// relayed. MaxBudget stays local. Nothing is proposed while the registry's
// log watcher reports a fork (LogChecker), nor to a seller whose listed key
// is not the pinned one or one the registry's logged key history leads to
// (KeyChecker): the error is ErrRefused. A logged key change is reported in
// the session's KeyNotice.
func (c *Core) ProposeDeal(ctx context.Context, address string, cons Constraints, opt ProposeOptions) (Session, error) {
	addr, err := anp.ParseSellerAddress(address)
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if err := cons.normalize(); err != nil {
		return Session{}, err
	}
	if opt.Opening != nil {
		if err := (&Session{MaxBudget: cons.MaxBudget}).CheckOffer(*opt.Opening); err != nil {
			return Session{}, err
		}
	}
	listing, keyNotice, err := c.proposalListing(ctx, addr, opt)
	if err != nil {
		return Session{}, err
	}
	rec := listing.Record.Record
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
	if c.cfg.PresentIdentity {
		body.BuyerIdentity = anp.PublicKeyHex(c.cfg.Identity.Public().(ed25519.PublicKey))
	}
	if c.cfg.BlindKeys != nil && c.cfg.BlindKeys.Has(addr.Domain) {
		if rec.EncKey == "" {
			return Session{}, fmt.Errorf("seller %s publishes no encryption key, so its credential cannot be sent sealed: %w", addr.Domain, ErrRefused)
		}
		// The sealed payload names the session key that signs the PROPOSE:
		// copied into anyone else's PROPOSE, the seller refuses it.
		scope := anp.CredentialScope{Session: id, BuyerKey: anp.PublicKeyHex(key.Public().(ed25519.PublicKey)), Domain: addr.Domain}
		cred, _, err := c.cfg.BlindKeys.Seal(rec.EncKey, scope)
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
			CreatedAt: now, KeyNotice: keyNotice},
		SealedKey: sealed, SellerKey: listing.Binding.Key, Propose: body, CascadeHold: opt.Hold, sigs: c.sigs,
	}
	unlock := c.locks.Lock(id) // a fresh random id: nobody else can hold it
	defer unlock()
	return c.sendWith(ctx, r, key, anp.TypePropose, body)
}

// proposalListing checks the registry's log, unless a cascade did for all
// its proposals, and returns the listing to propose to (sellerListing).
func (c *Core) proposalListing(ctx context.Context, addr anp.Address, opt ProposeOptions) (*anp.Listing, string, error) {
	if !opt.logChecked {
		if err := c.checkRegistryLog(ctx, "propose to "+addr.Domain); err != nil {
			return nil, "", err
		}
	}
	return c.sellerListing(ctx, addr, opt.listing)
}

// sellerListing returns the verified listing of the seller at addr once
// its key is trusted (checkSellerKey, with the notice of a logged key
// change) and it negotiates in addr's mode. The listing is fetched unless
// known, a verified listing of addr's domain, is given.
func (c *Core) sellerListing(ctx context.Context, addr anp.Address, known *anp.Listing) (*anp.Listing, string, error) {
	listing := known
	if listing == nil || listing.Binding.Domain != addr.Domain {
		var err error
		if listing, err = c.cfg.Registry.Listing(ctx, addr.Domain); err != nil {
			return nil, "", remoteError("look up seller "+addr.Domain, err)
		}
	}
	notice, err := c.checkSellerKey(ctx, addr.Domain, listing.Binding.Key)
	if err != nil {
		return nil, "", err
	}
	if rec := &listing.Record.Record; !rec.Supports(addr.Mode) {
		return nil, "", fmt.Errorf("seller %s supports %v, not %s: %w", addr.Domain, rec.Modes, addr.Mode, ErrRefused)
	}
	return listing, notice, nil
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
	if err := r.guardMove(StateCountered, c.cfg.Now()); err != nil {
		return Session{}, err
	}
	price, err = r.Session.NextOffer(price)
	if err != nil {
		return Session{}, err
	}
	fallback := fmt.Sprintf("We can offer %s.", price)
	if ask := r.Session.LastSellerPrice; ask != nil && price == *ask {
		fallback = "We accept your price."
	}
	if message == "" {
		message = fallback
	}
	message, replaced := sellerText(message, r.Session.MaxBudget, fallback)
	if replaced {
		c.log.Info().Str("session", id).Msg("counter message replaced: it named the budget")
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
	return c.CounterAtTurn(ctx, id, s.Turn, *s.LastSellerPrice, message)
}

// Cancel withdraws from a session. The seller is told when it can be reached;
// the session is cancelled locally either way, so nothing is ever signed for
// it. Cancelling a session that already ended returns it unchanged; a SIGNED
// deal cannot be cancelled (ErrBadState).
func (c *Core) Cancel(ctx context.Context, id, reason string) (Session, error) {
	return c.cancelAs(ctx, id, reason, reason)
}

// cancelAs cancels with a local reason and the message the seller gets.
func (c *Core) cancelAs(ctx context.Context, id, reason, toSeller string) (Session, error) {
	unlock := c.locks.Lock(id) // a lock exists only while held, so an unknown id leaves nothing behind
	defer unlock()
	r, err := c.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	return c.cancelLocked(ctx, r, reason, toSeller)
}

// withdrawMessage is what the seller reads when the buyer's own words for
// cancelling cannot be sent.
const withdrawMessage = "We have decided not to proceed."

func (c *Core) cancelLocked(ctx context.Context, r *record, reason, toSeller string) (Session, error) {
	switch {
	case r.Session.State == StateSigned:
		return r.Session, fmt.Errorf("session %s: %w: a SIGNED deal cannot be cancelled", r.Session.ID, ErrBadState)
	case r.Session.State.Terminal():
		return r.Session, nil // idempotent: it already ended
	}
	reason = anp.CleanText(strings.TrimSpace(reason), anp.MaxMessageLen)
	if reason == "" {
		reason = "buyer cancelled"
	}
	toSeller, replaced := sellerText(nonEmpty(strings.TrimSpace(toSeller), reason), r.Session.MaxBudget, withdrawMessage)
	if replaced {
		c.log.Info().Str("session", r.Session.ID).Msg("cancel message replaced: it named the budget")
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
	env, err := r.seal(key, anp.TypeCancel, &anp.NoteBody{Reason: "buyer_cancel", Message: toSeller}, c.cfg.Now(), c.cfg.EnvelopeTTL)
	if err == nil {
		if _, err = c.cfg.Registry.Relay(ctx, r.Session.Seller, env); err == nil {
			err = r.appendOwn(key, env, c.cfg.Now())
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
	c.events.emit(Event{Type: EventSessionCancelled, Session: &r.Session})
	return r.Session, nil
}

// normalize fills in defaults and refuses constraints that cannot make a
// valid PROPOSE.
func (k *Constraints) normalize() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"item", &k.Item}, {"category", &k.Category}} {
		trimmed := strings.TrimSpace(*f.v)
		if trimmed == "" && *f.v != "" {
			return fmt.Errorf("%w: %s is only spaces; say what it is", ErrInvalidInput, f.name)
		}
		*f.v = trimmed
	}
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

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
