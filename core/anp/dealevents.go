package anp

import (
	"errors"
	"fmt"
)

// The envelope types of the deal lifecycle, after the signature. They
// continue the session's hash chain after the COMMIT and CONFIRM; none of
// them is relayed to a seller or answered by one (BuyerMayAsk and
// SellerMayAnswer are false): parties send them to the registry, which
// notarises and logs each one.
const (
	TypeFulfill MsgType = "FULFILL" // seller: delivered, with an evidence hash
	TypeReceipt MsgType = "RECEIPT" // buyer: received as agreed
	TypeDispute MsgType = "DISPUTE" // buyer or seller: a dispute with reason and evidence
	TypeResolve MsgType = "RESOLVE" // registry arbiter: the decision of a dispute
)

// DealEventTypes lists the envelope types of the deal lifecycle.
var DealEventTypes = []MsgType{TypeFulfill, TypeReceipt, TypeDispute, TypeResolve}

// IsDealEvent reports whether t is an envelope type of the deal lifecycle.
func IsDealEvent(t MsgType) bool {
	for _, k := range DealEventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Kinds of logged deal events: the four envelope types, and two the
// registry records by itself when a deadline passes.
const (
	EventFulfill = "fulfill"
	EventReceipt = "receipt"
	EventDispute = "dispute"
	EventResolve = "resolve"
	EventBreach  = "breach" // deliver_by passed without a FULFILL
	EventLapse   = "lapse"  // the receipt window passed without RECEIPT or DISPUTE: counts as received
)

// Who performs an event.
const (
	ByBuyer    = "buyer"
	BySeller   = "seller"
	ByArbiter  = "arbiter"
	ByRegistry = "registry"
)

// Dispute reasons: the fixed list.
const (
	ReasonNonDelivery           = "non_delivery"
	ReasonLateDelivery          = "late_delivery"
	ReasonNotAsDescribed        = "not_as_described"
	ReasonUnauthorisedChange    = "unauthorised_change"
	MinSeverity, MaxSeverity    = 1, 5
	MaxDisputeEvidence          = 32 // transcript envelope hashes of a dispute
	MaxDisputeAttachments       = 8  // attachment hashes of a dispute
	MaxDeciderID                = 64 // bytes of a decider's id
	deciderIDAllowedPunctuation = "._@-"
)

// DisputeReasons lists the dispute reasons.
var DisputeReasons = []string{ReasonNonDelivery, ReasonLateDelivery, ReasonNotAsDescribed, ReasonUnauthorisedChange}

// Outcomes of a resolution.
const (
	OutcomeForBuyer  = "for_buyer"
	OutcomeForSeller = "for_seller"
	OutcomeSplit     = "split"
)

// Kinds of decider of a resolution.
const (
	DecidedByPerson = "person"
	DecidedByRule   = "rule"
)

// Published rules of the registry. Each logged breach, lapse or automatic
// resolution names the rule that recorded it.
const (
	// RuleBreach records a breach once deliver_by has passed without FULFILL.
	RuleBreach = "breach_v1"
	// RuleLapse records a receipt window that passed in silence: the deal
	// counts as received.
	RuleLapse = "lapse_v1"
	// RuleNonDelivery resolves for the buyer a non_delivery dispute of a
	// deal with no FULFILL once NonDeliveryGrace has passed since both
	// deliver_by and the dispute.
	RuleNonDelivery = "non_delivery_v1"
)

// NonDeliveryGrace is the grace period of RuleNonDelivery, in ms (48 hours).
const NonDeliveryGrace int64 = 48 * 60 * 60 * 1000

// The named failures of deal events; test with errors.Is.
var (
	// ErrDealEventMalformed: the event or its body is missing a member or
	// has one out of its range (a reason off the list, a severity outside
	// 1–5, an evidence member that is not a hash, a body for another deal).
	ErrDealEventMalformed = errors.New("malformed deal event")
	// ErrDealEventSigner: the event is not signed by the party its kind
	// needs (FULFILL the seller, RECEIPT the buyer, DISPUTE either, RESOLVE
	// the arbiter), or the signature does not verify.
	ErrDealEventSigner = errors.New("deal event is not signed by a party allowed to send it")
	// ErrDealEventOrder: the event does not follow the lifecycle: the
	// wrong seq or prev, or a kind the commitment's state does not allow
	// (a RECEIPT before FULFILL, anything after the resolution).
	ErrDealEventOrder = errors.New("deal event is out of order")
	// ErrDealEventReplay: the event's nonce or signature was used before in
	// the session.
	ErrDealEventReplay = errors.New("deal event repeats an earlier one")
	// ErrDisputeExists: the deal was already disputed; a deal has one
	// dispute.
	ErrDisputeExists = errors.New("the deal already has a dispute")
	// ErrNoDeal: an event for a session that has no notarised deal.
	ErrNoDeal = errors.New("no signed deal for the session")
	// ErrDealEventNotary: the registry countersignature of a logged deal
	// event, or the arbiter key's certificate, is missing, by a key not in
	// the chain or not valid at notarized_at, or does not verify.
	ErrDealEventNotary = errors.New("deal event countersignature does not verify")
	// ErrDeadline: a breach, lapse or rule resolution recorded before its
	// deadline had passed.
	ErrDeadline = errors.New("deadline has not passed")
)

// FulfilBody is the body of FULFILL: the deal it fulfils and the hash of
// the delivery evidence (only the hash is ever sent).
type FulfilBody struct {
	Deal     string `json:"deal"`
	Evidence string `json:"evidence"`
}

// Validate checks the body's hashes.
func (b *FulfilBody) Validate() error {
	return checkHashes(map[string]string{"deal": b.Deal, "evidence": b.Evidence})
}

// ReceiptBody is the body of RECEIPT: the deal received as agreed.
type ReceiptBody struct {
	Deal string `json:"deal"`
}

// Validate checks the deal hash.
func (b *ReceiptBody) Validate() error { return checkHashes(map[string]string{"deal": b.Deal}) }

// DisputeBody is the body of DISPUTE: the deal, a reason from
// DisputeReasons, a severity 1–5, and evidence as hashes only: of envelopes
// of the session's transcript (1–32) and of attachments (0–8).
type DisputeBody struct {
	Deal        string   `json:"deal"`
	Reason      string   `json:"reason"`
	Severity    int      `json:"severity"`
	Evidence    []string `json:"evidence"`
	Attachments []string `json:"attachments,omitempty"`
}

// Validate checks the reason, severity and evidence hashes.
func (b *DisputeBody) Validate() error {
	if err := checkHashes(map[string]string{"deal": b.Deal}); err != nil {
		return err
	}
	if !oneOf(b.Reason, DisputeReasons...) {
		return classErr(ErrDealEventMalformed, "dispute reason %q is not one of %v", b.Reason, DisputeReasons)
	}
	if b.Severity < MinSeverity || b.Severity > MaxSeverity {
		return classErr(ErrDealEventMalformed, "dispute severity %d is not from %d to %d", b.Severity, MinSeverity, MaxSeverity)
	}
	if len(b.Evidence) == 0 || len(b.Evidence) > MaxDisputeEvidence {
		return classErr(ErrDealEventMalformed, "dispute evidence has %d envelope hashes, want 1 to %d", len(b.Evidence), MaxDisputeEvidence)
	}
	if len(b.Attachments) > MaxDisputeAttachments {
		return classErr(ErrDealEventMalformed, "dispute has %d attachment hashes, at most %d", len(b.Attachments), MaxDisputeAttachments)
	}
	if err := checkHashList("evidence", b.Evidence); err != nil {
		return err
	}
	return checkHashList("attachments", b.Attachments)
}

// Decider names who decided a resolution: a person (an operator's name or
// handle) or a published rule (its id).
type Decider struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Validate checks the decider: kind person or rule; an id of 1–64 bytes of
// lower-case letters, digits and . _ @ -; a rule id one of the published
// rules.
func (d *Decider) Validate() error {
	if d.Kind != DecidedByPerson && d.Kind != DecidedByRule {
		return classErr(ErrDealEventMalformed, "decided_by kind %q is not person or rule", d.Kind)
	}
	if err := checkDeciderID(d.ID); err != nil {
		return err
	}
	if d.Kind == DecidedByRule && d.ID != RuleNonDelivery {
		return classErr(ErrDealEventMalformed, "decided_by rule %q is not a published resolution rule", d.ID)
	}
	return nil
}

func checkDeciderID(id string) error {
	if id == "" || len(id) > MaxDeciderID {
		return classErr(ErrDealEventMalformed, "decided_by id must be 1 to %d bytes", MaxDeciderID)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		for _, p := range deciderIDAllowedPunctuation {
			ok = ok || r == p
		}
		if !ok {
			return classErr(ErrDealEventMalformed, "decided_by id %q may hold only a-z, 0-9 and %s", id, deciderIDAllowedPunctuation)
		}
	}
	return nil
}

// ResolveBody is the body of RESOLVE: the deal, the hash of the DISPUTE
// envelope it decides, the outcome and who decided.
type ResolveBody struct {
	Deal      string  `json:"deal"`
	Dispute   string  `json:"dispute"`
	Outcome   string  `json:"outcome"`
	DecidedBy Decider `json:"decided_by"`
}

// Validate checks the hashes, the outcome and the decider.
func (b *ResolveBody) Validate() error {
	if err := checkHashes(map[string]string{"deal": b.Deal, "dispute": b.Dispute}); err != nil {
		return err
	}
	if !oneOf(b.Outcome, OutcomeForBuyer, OutcomeForSeller, OutcomeSplit) {
		return classErr(ErrDealEventMalformed, "outcome %q is not for_buyer, for_seller or split", b.Outcome)
	}
	return b.DecidedBy.Validate()
}

func oneOf(s string, list ...string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func checkHashes(m map[string]string) error {
	for _, k := range []string{"deal", "evidence", "dispute"} {
		if v, ok := m[k]; ok && !ValidHash(v) {
			return classErr(ErrDealEventMalformed, "%s is not a 64-character lower-case hex hash", k)
		}
	}
	return nil
}

func checkHashList(field string, hs []string) error {
	seen := make(map[string]bool, len(hs))
	for i, h := range hs {
		if !ValidHash(h) {
			return classErr(ErrDealEventMalformed, "%s[%d] is not a 64-character lower-case hex hash", field, i)
		}
		if seen[h] {
			return classErr(ErrDealEventMalformed, "%s[%d] repeats a hash", field, i)
		}
		seen[h] = true
	}
	return nil
}

// DealHash is the hash that names a deal in its events: SHA-256 of the
// canonical {"deal","buyer_sig","seller_sig"} of its artifact (what buyer
// and seller signed; the same for the artifact and its notarised copy).
func DealHash(a *Artifact) (string, error) {
	data, err := a.dealData()
	if err != nil {
		return "", err
	}
	return HashBytes(data), nil
}

// eventBody decodes an event envelope's body by its type.
func eventBody(e *Envelope) (any, error) {
	var b any
	switch e.Type {
	case TypeFulfill:
		b = &FulfilBody{}
	case TypeReceipt:
		b = &ReceiptBody{}
	case TypeDispute:
		b = &DisputeBody{}
	case TypeResolve:
		b = &ResolveBody{}
	default:
		return nil, Errorf(CodeBadRequest, "%v", classErr(ErrDealEventMalformed, "%s is not a deal event type", e.Type))
	}
	return b, e.DecodeBody(b)
}

// DecodeEventBody decodes the body of a deal event envelope strictly into
// its type's body (*FulfilBody, *ReceiptBody, *DisputeBody, *ResolveBody)
// and validates it.
func DecodeEventBody(e *Envelope) (any, error) {
	b, err := eventBody(e)
	if err != nil {
		if !errors.Is(err, ErrDealEventMalformed) {
			err = Errorf(CodeBadRequest, "%v", classErr(ErrDealEventMalformed, "%v", err))
		}
		return nil, err
	}
	return b, nil
}

// bodyDeal returns the deal hash a decoded body names.
func bodyDeal(b any) string {
	switch v := b.(type) {
	case *FulfilBody:
		return v.Deal
	case *ReceiptBody:
		return v.Deal
	case *DisputeBody:
		return v.Deal
	case *ResolveBody:
		return v.Deal
	}
	return ""
}

// kindOf maps an envelope type to its event kind.
func kindOf(t MsgType) string {
	switch t {
	case TypeFulfill:
		return EventFulfill
	case TypeReceipt:
		return EventReceipt
	case TypeDispute:
		return EventDispute
	case TypeResolve:
		return EventResolve
	}
	return ""
}

// TypeOfKind maps an event kind with an envelope to its envelope type ("" for breach and lapse).
func TypeOfKind(kind string) MsgType {
	for _, t := range DealEventTypes {
		if kindOf(t) == kind {
			return t
		}
	}
	return ""
}

func eventErr(code Code, class error, format string, args ...any) error {
	return Errorf(code, "%v", classErr(class, format, args...))
}

// String of a decider, for messages and listings: "rule non_delivery_v1".
func (d Decider) String() string { return fmt.Sprintf("%s %s", d.Kind, d.ID) }
