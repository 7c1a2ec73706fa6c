package anp

import (
	"slices"
	"time"
)

// DealState is the state of a signed deal's commitment.
type DealState string

// The states of a commitment.
const (
	StateAwaitingDelivery DealState = "awaiting_delivery" // signed; the seller has not fulfilled
	StateFulfilled        DealState = "fulfilled"         // the seller's FULFILL is logged; the receipt window runs
	StateReceived         DealState = "received"          // the buyer's RECEIPT, or the receipt window lapsed (final)
	StateDisputed         DealState = "disputed"          // a DISPUTE is logged; the arbiter decides
	StateResolved         DealState = "resolved"          // the arbiter's RESOLVE is logged (final)
	StateBreached         DealState = "breached"          // deliver_by passed without FULFILL (a late FULFILL may follow)
)

// dealMoves is the commitment's state machine, the one table every entry
// point goes through (Lifecycle.Check, Lifecycle.Due, Lifecycle.Apply): the
// state each event kind leads to from each state. A kind missing from a
// state's row is refused there.
var dealMoves = map[DealState]map[string]DealState{
	StateAwaitingDelivery: {EventFulfill: StateFulfilled, EventDispute: StateDisputed, EventBreach: StateBreached},
	StateBreached:         {EventFulfill: StateFulfilled, EventDispute: StateDisputed},
	StateFulfilled:        {EventReceipt: StateReceived, EventDispute: StateDisputed, EventLapse: StateReceived},
	StateDisputed:         {EventResolve: StateResolved},
}

// Final reports whether nothing can follow s.
func (s DealState) Final() bool { return len(dealMoves[s]) == 0 }

// Allows reports whether an event of kind may follow in state s.
func (s DealState) Allows(kind string) bool { _, ok := dealMoves[s][kind]; return ok }

// DisputeRecord is the dispute of a deal, as logged.
type DisputeRecord struct {
	Hash     string `json:"hash"` // of the DISPUTE envelope
	By       string `json:"by"`   // buyer or seller
	Reason   string `json:"reason"`
	Severity int    `json:"severity"`
	At       int64  `json:"at"` // notarized_at
}

// Resolution is the decision of a deal's dispute, as logged.
type Resolution struct {
	Outcome   string  `json:"outcome"`
	DecidedBy Decider `json:"decided_by"`
	At        int64   `json:"at"`
}

// LifecycleEntry is one logged event of a lifecycle.
type LifecycleEntry struct {
	Kind      string `json:"kind"`
	By        string `json:"by"`
	LeafIndex uint64 `json:"leaf_index"`
	At        int64  `json:"at"` // notarized_at
	Hash      string `json:"hash,omitempty"`
}

// Lifecycle is a signed deal's commitment and what has happened to it: its
// state, the head of the session chain the next event extends, and the
// logged events. Check and Due decide what may follow; Apply records it.
type Lifecycle struct {
	Session      string           `json:"session"`
	Deal         string           `json:"deal"`
	DealLeaf     uint64           `json:"deal_leaf"`
	SellerDomain string           `json:"seller_domain"`
	BuyerKey     string           `json:"buyer_key"`
	SellerKey    string           `json:"seller_key"`
	Commitment   Commitment       `json:"commitment"`
	BoundLen     uint64           `json:"bound_len"` // the deal's transcript_len
	State        DealState        `json:"state"`
	Seq          uint64           `json:"seq"`            // seq of the chain head (0: unknown, offline before the first event)
	Head         string           `json:"head,omitempty"` // hash of the chain head
	Used         []string         `json:"used,omitempty"` // nonces and signatures of the event envelopes
	FulfilledAt  int64            `json:"fulfilled_at,omitempty"`
	Evidence     string           `json:"evidence,omitempty"` // the FULFILL's evidence hash
	Late         bool             `json:"late,omitempty"`     // fulfilled after deliver_by
	Breached     bool             `json:"breached,omitempty"`
	Dispute      *DisputeRecord   `json:"dispute,omitempty"`
	Resolution   *Resolution      `json:"resolution,omitempty"`
	Events       []LifecycleEntry `json:"events,omitempty"`
}

// NewLifecycle starts the lifecycle of a notarised artifact logged at
// dealLeaf, whose session chain has seq envelopes ending in head (0 and ""
// when not known: offline, the first event then fixes them).
func NewLifecycle(a *Artifact, dealLeaf, seq uint64, head string) (*Lifecycle, error) {
	d, err := DealHash(a)
	if err != nil {
		return nil, err
	}
	t := &a.Terms
	return &Lifecycle{
		Session: t.SessionID, Deal: d, DealLeaf: dealLeaf, SellerDomain: t.SellerDomain,
		BuyerKey: t.BuyerKey, SellerKey: t.SellerKey, Commitment: t.Obligations(), BoundLen: t.TranscriptLen,
		State: StateAwaitingDelivery, Seq: seq, Head: head,
	}, nil
}

// roleOf names who signed with key: buyer, seller or the arbiter.
func (l *Lifecycle) roleOf(key string, arbiter *ArbiterKey) string {
	switch {
	case key == l.BuyerKey:
		return ByBuyer
	case key == l.SellerKey:
		return BySeller
	case arbiter != nil && key == arbiter.Key:
		return ByArbiter
	}
	return ""
}

// Check decides whether envelope e may be the next event at now (the
// registry's clock, unix ms), arbiter being the arbiter key's certificate
// (nil when the registry has none). It returns the event to log, or the
// named failure, and changes nothing. The order of checks: session and
// type, signer, signature, replay, chain position, time, body, state.
func (l *Lifecycle) Check(e *Envelope, arbiter *ArbiterKey, now int64) (DealEvent, error) {
	if e.Session != l.Session || !IsDealEvent(e.Type) {
		return DealEvent{}, eventErr(CodeBadRequest, ErrDealEventMalformed, "a %s envelope of session %s is not an event of session %s", e.Type, e.Session, l.Session)
	}
	kind := kindOf(e.Type)
	by := l.roleOf(e.From, arbiter)
	if !slices.Contains(allowedBy[kind], by) {
		return DealEvent{}, eventErr(CodeBadSignature, ErrDealEventSigner, "%s of session %s is signed by %s…, not by a party allowed to send it (%v)", e.Type, l.Session, short(e.From), allowedBy[kind])
	}
	if err := e.VerifySignature(); err != nil {
		return DealEvent{}, eventErr(CodeBadSignature, ErrDealEventSigner, "%v", err)
	}
	if slices.Contains(l.Used, e.Nonce) || slices.Contains(l.Used, e.Sig) {
		return DealEvent{}, eventErr(CodeReplay, ErrDealEventReplay, "%s seq %d repeats an event of session %s", e.Type, e.Seq, l.Session)
	}
	if err := l.checkPosition(e); err != nil {
		return DealEvent{}, err
	}
	if err := e.CheckTime(time.UnixMilli(now)); err != nil {
		return DealEvent{}, err
	}
	b, err := DecodeEventBody(e)
	if err != nil {
		return DealEvent{}, err
	}
	if bodyDeal(b) != l.Deal {
		return DealEvent{}, eventErr(CodeBadRequest, ErrDealEventMalformed, "the %s body names another deal than session %s's", e.Type, l.Session)
	}
	if err := l.checkMove(kind, b, now); err != nil {
		return DealEvent{}, err
	}
	ev := l.event(kind, by)
	ev.Envelope = e
	if kind == EventResolve {
		ev.Arbiter = arbiter
	}
	return ev, nil
}

// checkPosition checks seq and prev against the chain head. With no head
// known (offline, before the first event) the first event must come after
// the envelopes the deal binds.
func (l *Lifecycle) checkPosition(e *Envelope) error {
	if l.Head == "" {
		if e.Seq <= l.BoundLen {
			return eventErr(CodeOutOfOrder, ErrDealEventOrder, "%s has seq %d, within the %d envelopes the deal binds", e.Type, e.Seq, l.BoundLen)
		}
		return nil
	}
	if e.Seq != l.Seq+1 || e.Prev != l.Head {
		return eventErr(CodeOutOfOrder, ErrDealEventOrder, "%s has seq %d and does not chain to the session head (seq %d)", e.Type, e.Seq, l.Seq)
	}
	return nil
}

// checkMove checks that kind may follow in the current state, and what a
// kind needs besides: a resolve decides the logged dispute, a rule
// resolution only once its rule applies.
func (l *Lifecycle) checkMove(kind string, b any, now int64) error {
	if kind == EventDispute && l.Dispute != nil {
		return eventErr(CodeConflict, ErrDisputeExists, "session %s was disputed already (%s, by the %s)", l.Session, l.Dispute.Reason, l.Dispute.By)
	}
	if !l.State.Allows(kind) {
		return eventErr(CodeBadState, ErrDealEventOrder, "a %s is not allowed when the deal of session %s is %s", kind, l.Session, l.State)
	}
	r, ok := b.(*ResolveBody)
	if !ok {
		return nil
	}
	if r.Dispute != l.Dispute.Hash {
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "the RESOLVE decides another dispute than session %s's", l.Session)
	}
	if r.DecidedBy.Kind == DecidedByRule {
		return l.checkRule(r, now)
	}
	return nil
}

// checkRule checks that a rule resolution follows its published rule.
func (l *Lifecycle) checkRule(r *ResolveBody, now int64) error {
	outcome, due, ok := l.ruleResolution()
	switch {
	case !ok:
		return eventErr(CodeBadState, ErrDealEventMalformed, "rule %s does not apply to the dispute of session %s", r.DecidedBy.ID, l.Session)
	case r.Outcome != outcome:
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "rule %s decides %s, not %s", r.DecidedBy.ID, outcome, r.Outcome)
	case now < due:
		return eventErr(CodeBadState, ErrDeadline, "rule %s applies to session %s from %s", r.DecidedBy.ID, l.Session, fmtMillis(due))
	}
	return nil
}

// ruleResolution reports whether RuleNonDelivery applies to the dispute:
// a non_delivery dispute of a deal never fulfilled. It is due (for the
// buyer) NonDeliveryGrace after both deliver_by and the dispute.
func (l *Lifecycle) ruleResolution() (outcome string, due int64, ok bool) {
	d := l.Dispute
	if l.State != StateDisputed || d == nil || d.Reason != ReasonNonDelivery || l.FulfilledAt != 0 {
		return "", 0, false
	}
	return OutcomeForBuyer, max(l.Commitment.DeliverBy, d.At) + NonDeliveryGrace, true
}

// DueResolution returns the outcome of the rule resolution due at now, if
// one is.
func (l *Lifecycle) DueResolution(now int64) (outcome, rule string, ok bool) {
	outcome, due, ok := l.ruleResolution()
	if !ok || now < due {
		return "", "", false
	}
	return outcome, RuleNonDelivery, true
}

// Due returns the event the registry records by itself at now, if a
// deadline has passed: a breach once deliver_by has passed while awaiting
// delivery, a lapse once the receipt window after the FULFILL has passed.
func (l *Lifecycle) Due(now int64) (DealEvent, bool) {
	switch {
	case l.State == StateAwaitingDelivery && now > l.Commitment.DeliverBy:
		ev := l.event(EventBreach, ByRegistry)
		ev.Rule = RuleBreach
		return ev, true
	case l.State == StateFulfilled && now > l.FulfilledAt+l.Commitment.ReceiptWindow:
		ev := l.event(EventLapse, ByRegistry)
		ev.Rule = RuleLapse
		return ev, true
	}
	return DealEvent{}, false
}

// NextDeadline is the registry clock (unix ms) at which Due or
// DueResolution may next return something, or 0 when nothing is pending.
func (l *Lifecycle) NextDeadline() int64 {
	switch l.State {
	case StateAwaitingDelivery:
		return l.Commitment.DeliverBy + 1
	case StateFulfilled:
		return l.FulfilledAt + l.Commitment.ReceiptWindow + 1
	case StateDisputed:
		if _, due, ok := l.ruleResolution(); ok {
			return due
		}
	}
	return 0
}

func (l *Lifecycle) event(kind, by string) DealEvent {
	return DealEvent{Kind: kind, By: by, Session: l.Session, Deal: l.Deal, DealLeaf: l.DealLeaf, SellerDomain: l.SellerDomain}
}

// Apply records ev, logged at leafIndex at the registry's time at, after
// Check or Due returned it. It re-checks the state move and the deadline of
// a recorded event, so that an offline replay of the log goes through the
// same rules.
func (l *Lifecycle) Apply(ev *DealEvent, at int64, leafIndex uint64) error {
	next, ok := dealMoves[l.State][ev.Kind]
	if !ok {
		return eventErr(CodeBadState, ErrDealEventOrder, "a %s is not allowed when the deal of session %s is %s", ev.Kind, l.Session, l.State)
	}
	if ev.Envelope == nil {
		if due, ok := l.Due(at); !ok || due.Kind != ev.Kind {
			return eventErr(CodeBadState, ErrDeadline, "a %s of session %s recorded at %s, before its deadline", ev.Kind, l.Session, fmtMillis(at))
		}
	}
	entry := LifecycleEntry{Kind: ev.Kind, By: ev.By, LeafIndex: leafIndex, At: at}
	if e := ev.Envelope; e != nil {
		h, err := e.Hash()
		if err != nil {
			return err
		}
		entry.Hash = h
		l.Seq, l.Head = e.Seq, h
		l.Used = append(l.Used, e.Nonce, e.Sig)
		if err := l.applyBody(ev, h, at); err != nil {
			return err
		}
	}
	if ev.Kind == EventBreach {
		l.Breached = true
	}
	l.State = next
	l.Events = append(l.Events, entry)
	return nil
}

// applyBody records what an envelope event's body says.
func (l *Lifecycle) applyBody(ev *DealEvent, hash string, at int64) error {
	b, err := DecodeEventBody(ev.Envelope)
	if err != nil {
		return err
	}
	switch v := b.(type) {
	case *FulfilBody:
		l.FulfilledAt, l.Evidence, l.Late = at, v.Evidence, at > l.Commitment.DeliverBy
	case *DisputeBody:
		l.Dispute = &DisputeRecord{Hash: hash, By: ev.By, Reason: v.Reason, Severity: v.Severity, At: at}
	case *ResolveBody:
		l.Resolution = &Resolution{Outcome: v.Outcome, DecidedBy: v.DecidedBy, At: at}
	}
	return nil
}

// Entry is one logged deal event and its index in the log.
type DealEventEntry struct {
	LeafIndex uint64        `json:"leaf_index"`
	Leaf      DealEventLeaf `json:"leaf"`
}

// VerifyLifecycle checks a deal's whole lifecycle offline: the artifact
// (VerifyArtifact with opt), then each logged event in log order — its
// countersignature by a key of chain (the registry key chain, at least as
// long as the artifact's), that it is an event of this deal, and that it
// follows from the events before it under the same rules the registry
// applied (Lifecycle.Check at notarized_at for envelope events, Due for
// breach and lapse). It returns the lifecycle the events leave.
func VerifyLifecycle(a *Artifact, opt VerifyOptions, chain []KeyEntry, events []DealEventEntry) (*Lifecycle, error) {
	if err := VerifyArtifact(a, opt); err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		chain = a.Receipt.KeyChain
	}
	if err := VerifyKeyChain(a.Receipt.RootKey, chain); err != nil {
		return nil, err
	}
	l, err := NewLifecycle(a, a.Receipt.LeafIndex, 0, "")
	if err != nil {
		return nil, err
	}
	for i := range events {
		if err := l.Replay(a.Receipt.RootKey, chain, &events[i]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Replay verifies one logged event of l's deal — the registry's
// countersignature by a key of chain (certified by rootKey), the event's
// shape, that it names this deal, its log order after the deal and its
// earlier events, and for an envelope event the checks of Check (signer,
// signature, replay, chain position, time, body) — and applies it with the
// state move and deadline of Apply. It is how the log is read offline
// (VerifyLifecycle, the reputation recomputed from the log): by the rules
// the registry applied, whatever it countersigned. A refused event is
// named and changes nothing.
func (l *Lifecycle) Replay(rootKey string, chain []KeyEntry, en *DealEventEntry) error {
	leaf := &en.Leaf
	if err := leaf.Verify(rootKey, chain); err != nil {
		return err
	}
	ev := &leaf.Event
	if ev.Session != l.Session || ev.Deal != l.Deal || ev.DealLeaf != l.DealLeaf || ev.SellerDomain != l.SellerDomain {
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "log leaf %d is an event of another deal", en.LeafIndex)
	}
	if en.LeafIndex <= l.DealLeaf || (len(l.Events) > 0 && en.LeafIndex <= l.Events[len(l.Events)-1].LeafIndex) {
		return eventErr(CodeOutOfOrder, ErrDealEventOrder, "log leaf %d is not after the deal and its earlier events", en.LeafIndex)
	}
	at := leaf.Registry.NotarizedAt
	if e := ev.Envelope; e != nil {
		checked, err := l.Check(e, ev.Arbiter, at)
		if err != nil {
			return err
		}
		if checked.By != ev.By {
			return eventErr(CodeBadRequest, ErrDealEventMalformed, "log leaf %d says %s by %s, its envelope is the %s's", en.LeafIndex, ev.Kind, ev.By, checked.By)
		}
	}
	kept := *l // Apply may have moved some fields when it refuses (the slices only grow)
	if err := l.Apply(ev, at, en.LeafIndex); err != nil {
		*l = kept
		return err
	}
	return nil
}
