package anp

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// RouteArbiter serves the registry's arbiter key certificate (GET).
const RouteArbiter = "/v1/arbiter"

// ArbiterKey is the registry's arbiter key, which signs RESOLVE envelopes,
// certified by the registry root key (purpose registry/arbiter-key over the
// certificate without sig). It is not a chain key: the notary keys never
// sign a resolution, and the arbiter key never countersigns.
type ArbiterKey struct {
	Index     uint64 `json:"index"`
	Key       string `json:"key"`
	ValidFrom int64  `json:"valid_from"` // unix ms
	Sig       string `json:"sig"`
}

func (k *ArbiterKey) unsigned() ArbiterKey { c := *k; c.Sig = ""; return c }

// NewArbiterKey certifies key as arbiter key index with the root key.
func NewArbiterKey(root ed25519.PrivateKey, index uint64, key ed25519.PublicKey, from time.Time) (ArbiterKey, error) {
	k := ArbiterKey{Index: index, Key: PublicKeyHex(key), ValidFrom: from.UnixMilli()}
	sig, err := Sign(root, PurposeArbiterKey, k.unsigned())
	if err != nil {
		return ArbiterKey{}, err
	}
	k.Sig = sig
	return k, nil
}

// Verify checks the certificate against the registry root key, and that the
// key was valid at ms.
func (k *ArbiterKey) Verify(rootKey string, ms int64) error {
	if err := checkPublicKey(k.Key); err != nil {
		return eventErr(CodeBadSignature, ErrDealEventNotary, "arbiter key: %v", err)
	}
	if err := Verify(rootKey, PurposeArbiterKey, k.unsigned(), k.Sig); err != nil {
		return eventErr(CodeBadSignature, ErrDealEventNotary, "arbiter key %d is not certified by the registry root key: %v", k.Index, err)
	}
	if ms < k.ValidFrom {
		return eventErr(CodeBadSignature, ErrDealEventNotary, "arbiter key %d was not valid yet at %s", k.Index, fmtMillis(ms))
	}
	return nil
}

// DealEvent is one logged event of a deal's lifecycle. Kind fulfill,
// receipt, dispute and resolve carry the party's (or arbiter's) signed
// Envelope; a resolve also the arbiter key's certificate. Kind breach and
// lapse are recorded by the registry when a deadline passes and carry the
// Rule that recorded them instead. DealLeaf is the log index of the deal's
// notarised artifact, whose deal hash is Deal.
type DealEvent struct {
	Kind         string      `json:"kind"`
	By           string      `json:"by"`
	Session      string      `json:"session"`
	Deal         string      `json:"deal"`
	DealLeaf     uint64      `json:"deal_leaf"`
	SellerDomain string      `json:"seller_domain"`
	Envelope     *Envelope   `json:"envelope,omitempty"`
	Arbiter      *ArbiterKey `json:"arbiter,omitempty"`
	Rule         string      `json:"rule,omitempty"`
}

// DealEventLeaf is a deal event as the transparency log holds it, with the
// registry's countersignature (purpose registry/deal-event, by a chain key,
// over {"deal_event","key_index","key","notarized_at"}). Its top-level
// member deal_event tells it apart from an artifact and a key event.
type DealEventLeaf struct {
	Event    DealEvent        `json:"deal_event"`
	Registry Countersignature `json:"registry"`
}

type dealEventNotarySigned struct {
	Event       DealEvent `json:"deal_event"`
	KeyIndex    uint64    `json:"key_index"`
	Key         string    `json:"key"`
	NotarizedAt int64     `json:"notarized_at"`
}

func (l *DealEventLeaf) notaryInput() dealEventNotarySigned {
	return dealEventNotarySigned{l.Event, l.Registry.KeyIndex, l.Registry.Key, l.Registry.NotarizedAt}
}

// CountersignDealEvent returns the leaf of ev countersigned with the chain
// key (key, entry) at now.
func CountersignDealEvent(ev DealEvent, key ed25519.PrivateKey, entry KeyEntry, now time.Time) (*DealEventLeaf, error) {
	cs, err := countersignAs(PurposeDealEvent, key, entry, now, func(cs Countersignature) any {
		return dealEventNotarySigned{ev, cs.KeyIndex, cs.Key, cs.NotarizedAt}
	})
	if err != nil {
		return nil, err
	}
	return &DealEventLeaf{Event: ev, Registry: cs}, nil
}

// LeafData returns the bytes the transparency log stores: JCS of the leaf.
func (l *DealEventLeaf) LeafData() ([]byte, error) { return Canonical(l) }

// Verify checks a logged deal event on its own, offline: its shape (kind,
// by, envelope or rule, as the kind needs), the envelope's signature and
// body, the arbiter certificate under rootKey, and the registry
// countersignature by a key of the verified chain valid at notarized_at.
// Whether the event follows from the deal and the events before it is
// Lifecycle's check (VerifyLifecycle).
func (l *DealEventLeaf) Verify(rootKey string, chain []KeyEntry) error {
	if err := l.Event.checkShape(); err != nil {
		return err
	}
	if a := l.Event.Arbiter; a != nil {
		if err := a.Verify(rootKey, l.Registry.NotarizedAt); err != nil {
			return err
		}
	}
	entry, err := countersignEntry("deal event", ErrDealEventNotary, &l.Registry, chain)
	if err != nil {
		return err
	}
	if err := Verify(entry.Key, PurposeDealEvent, l.notaryInput(), l.Registry.Sig); err != nil {
		return eventErr(CodeBadSignature, ErrDealEventNotary, "%s of session %s: %v", l.Event.Kind, l.Event.Session, err)
	}
	return nil
}

// checkShape checks what an event says about itself: ids and hashes, the
// kind with its performer, and for an envelope event the envelope's shape,
// signature, session and body (naming the event's deal).
func (ev *DealEvent) checkShape() error {
	switch {
	case !validSessionID(ev.Session):
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "deal event session is not a 32-character hex id")
	case !ValidHash(ev.Deal):
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "deal event deal is not a 64-character hex hash")
	case ValidateDomain(ev.SellerDomain) != nil:
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "deal event seller_domain is not a valid domain")
	case !oneOf(ev.By, allowedBy[ev.Kind]...):
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "deal event kind %q by %q is not an event of the lifecycle", ev.Kind, ev.By)
	}
	if ev.Kind == EventBreach || ev.Kind == EventLapse {
		return ev.checkRecorded()
	}
	return ev.checkEnvelope()
}

// checkRecorded checks a breach or lapse: its rule and nothing else.
func (ev *DealEvent) checkRecorded() error {
	want := RuleBreach
	if ev.Kind == EventLapse {
		want = RuleLapse
	}
	if ev.Envelope != nil || ev.Arbiter != nil || ev.Rule != want {
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "a %s event carries the rule %s and no envelope", ev.Kind, want)
	}
	return nil
}

// checkEnvelope checks an envelope event: its envelope of the kind's type,
// signed, in the session, its body naming the deal; the arbiter
// certificate for exactly a resolve, whose envelope the arbiter key signs.
func (ev *DealEvent) checkEnvelope() error {
	e := ev.Envelope
	switch {
	case e == nil || ev.Rule != "":
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "a %s event carries its envelope and no rule", ev.Kind)
	case kindOf(e.Type) != ev.Kind:
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "a %s event carries a %s envelope", ev.Kind, e.Type)
	case e.Session != ev.Session:
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "the %s envelope is for session %s, the event for %s", e.Type, e.Session, ev.Session)
	case (ev.Kind == EventResolve) != (ev.Arbiter != nil):
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "exactly a resolve event carries the arbiter key")
	case ev.Arbiter != nil && ev.Arbiter.Key != e.From:
		return eventErr(CodeBadSignature, ErrDealEventSigner, "the RESOLVE is not signed by the arbiter key it names")
	}
	if err := e.VerifySignature(); err != nil {
		return eventErr(CodeBadSignature, ErrDealEventSigner, "%v", err)
	}
	b, err := DecodeEventBody(e)
	if err != nil {
		return err
	}
	if bodyDeal(b) != ev.Deal {
		return eventErr(CodeBadRequest, ErrDealEventMalformed, "the %s body names another deal", e.Type)
	}
	return nil
}

// allowedBy is who performs each kind of event.
var allowedBy = map[string][]string{
	EventFulfill: {BySeller},
	EventReceipt: {ByBuyer},
	EventDispute: {ByBuyer, BySeller},
	EventResolve: {ByArbiter},
	EventBreach:  {ByRegistry},
	EventLapse:   {ByRegistry},
}

// LogLeaf is one decoded leaf of the transparency log: exactly one member
// is set.
type LogLeaf struct {
	Artifact  *Artifact
	KeyEvent  *KeyEventLeaf
	DealEvent *DealEventLeaf
}

// ParseLogLeaf decodes the leaf data of the transparency log strictly: a
// key event (top-level member key_event), a deal event (deal_event) or a
// deal artifact (any other object).
func ParseLogLeaf(data []byte) (LogLeaf, error) {
	var top map[string]json.RawMessage
	if err := DecodeStrict(data, &top); err != nil {
		return LogLeaf{}, err
	}
	switch {
	case hasMember(top, "key_event"): // "Key_Event" too, which the strict decoder then names
		var l KeyEventLeaf
		if err := DecodeStrict(data, &l); err != nil {
			return LogLeaf{}, err
		}
		return LogLeaf{KeyEvent: &l}, nil
	case hasMember(top, "deal_event"):
		var l DealEventLeaf
		if err := DecodeStrict(data, &l); err != nil {
			return LogLeaf{}, err
		}
		return LogLeaf{DealEvent: &l}, nil
	}
	var a Artifact
	if err := DecodeStrict(data, &a); err != nil {
		return LogLeaf{}, err
	}
	return LogLeaf{Artifact: &a}, nil
}

// hasMember reports whether a leaf's top-level members include name, in
// any letter case.
func hasMember(top map[string]json.RawMessage, name string) bool {
	for k := range top {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// countersignAs signs input(cs) for a log leaf with the chain key (key,
// entry) at now, purpose p, and returns the countersignature.
func countersignAs(p Purpose, key ed25519.PrivateKey, entry KeyEntry, now time.Time, input func(Countersignature) any) (Countersignature, error) {
	if PublicKeyHex(key.Public().(ed25519.PublicKey)) != entry.Key {
		return Countersignature{}, fmt.Errorf("anp: countersign %s: key does not match key chain entry %d", p, entry.Index)
	}
	cs := Countersignature{KeyIndex: entry.Index, Key: entry.Key, NotarizedAt: now.UnixMilli()}
	sig, err := Sign(key, p, input(cs))
	if err != nil {
		return Countersignature{}, err
	}
	cs.Sig = sig
	return cs, nil
}

// countersignEntry returns the chain entry of a leaf's countersignature cs
// (of what) once it is in chain and valid at notarized_at, or class.
func countersignEntry(what string, class error, cs *Countersignature, chain []KeyEntry) (*KeyEntry, error) {
	if cs.KeyIndex >= uint64(len(chain)) {
		return nil, eventErr(CodeBadSignature, class, "%s countersigned by registry key %d, not in the key chain (%d entries)", what, cs.KeyIndex, len(chain))
	}
	entry := &chain[cs.KeyIndex]
	if entry.Key != cs.Key || !entry.ValidAt(cs.NotarizedAt) {
		return nil, eventErr(CodeBadSignature, class, "%s countersignature key is not registry key %d valid at notarized_at", what, cs.KeyIndex)
	}
	return entry, nil
}

// Routes of the deal lifecycle.
const (
	// RouteDeal returns a deal's DealStatus (GET; token of a party of the
	// deal or of the arbiter key).
	RouteDeal = "/v1/deals/{session}"
	// RouteDealEvents takes one event envelope of the deal (POST; token of
	// a party or of the arbiter key) and returns its DealEventEntry.
	RouteDealEvents = "/v1/deals/{session}/events"
	// RouteDisputes lists the disputes (GET; token of the arbiter key).
	RouteDisputes = "/v1/disputes"
)

// DealStatus is a deal's lifecycle with its logged events and the arbiter
// key certificate that RESOLVE envelopes are checked against.
type DealStatus struct {
	Lifecycle Lifecycle        `json:"lifecycle"`
	Events    []DealEventEntry `json:"events,omitempty"`
	Arbiter   ArbiterKey       `json:"arbiter"`
}
