package anp

import (
	"crypto/ed25519"
	"errors"
	"time"
)

// RouteDomainKeys is the key history of a domain: GET returns its
// KeyHistory, POST takes a SignedKeyChange (a rotation or a revocation) and
// returns the logged KeyEventEntry.
const RouteDomainKeys = "/v1/domains/{domain}/keys"

// Kinds of key events.
const (
	KeyEventBind   = "bind"   // a key is bound to an unbound (or revoked) domain
	KeyEventRotate = "rotate" // the bound key hands over to a new key
	KeyEventRevoke = "revoke" // the bound key is revoked; the domain has no usable key
)

// Who authorised a key change.
const (
	ChangeByKey      = "key"      // the domain's current key
	ChangeByOperator = "operator" // the registry operator, with the registry root key
)

// KeyChangeWindow is how far a key change's or bind request's ts may be
// from the registry's clock when it is logged (notarized_at).
const KeyChangeWindow = 5 * time.Minute

// The named failures of key events; test with errors.Is.
var (
	// ErrKeyEventMalformed: a member is missing, malformed or does not fit
	// the kind (a revocation with a new key, a rotation by the operator, an
	// event whose key is not the one its request names, ts far from
	// notarized_at).
	ErrKeyEventMalformed = errors.New("malformed key event")
	// ErrKeyEventSignature: the signature of whoever authorised the event
	// (the bind request's key, the current key, the registry root key) does
	// not verify.
	ErrKeyEventSignature = errors.New("key event is not signed by who authorised it")
	// ErrKeyPossession: a rotation lacks the new key's signature, or it does
	// not verify.
	ErrKeyPossession = errors.New("key rotation has no valid signature by the new key")
	// ErrKeyEventNotary: the registry countersignature of a logged key event
	// is missing, by a key not in the chain or not valid at notarized_at, or
	// does not verify.
	ErrKeyEventNotary = errors.New("key event countersignature does not verify")
	// ErrKeyEventOrder: the event does not follow from the domain's key
	// state: the wrong seq, another domain, a rotation or revocation of a
	// key that is not the bound one, a binding of a bound domain.
	ErrKeyEventOrder = errors.New("key event does not follow the domain's key history")
)

// KeyChange asks the registry to rotate the key bound to Domain from Key to
// NewKey, or to revoke Key. Seq is the sequence number the event will have
// in the domain's key history, so a signed change is good for one place in
// that history only.
type KeyChange struct {
	Domain string `json:"domain"`
	Kind   string `json:"kind"`              // rotate or revoke
	By     string `json:"by"`                // key or operator
	Key    string `json:"key"`               // the key bound now
	NewKey string `json:"new_key,omitempty"` // rotate: the key bound from now on
	Seq    uint64 `json:"seq"`
	TS     int64  `json:"ts"` // unix ms
}

// SignedKeyChange is a KeyChange with its signatures: Sig by Key (By key) or
// by the registry root key (By operator), and for a rotation NewSig by
// NewKey over the same change (proof of possession).
type SignedKeyChange struct {
	Change KeyChange `json:"change"`
	Sig    string    `json:"sig"`
	NewSig string    `json:"new_sig,omitempty"`
}

// purpose is the signing purpose of the change's Sig.
func (k *KeyChange) purpose() (Purpose, error) {
	switch {
	case k.Kind == KeyEventRotate && k.By == ChangeByKey:
		return PurposeKeyRotation, nil
	case k.Kind == KeyEventRevoke && k.By == ChangeByKey:
		return PurposeKeyRevocation, nil
	case k.Kind == KeyEventRevoke && k.By == ChangeByOperator:
		return PurposeOperatorRevocation, nil
	case k.Kind == KeyEventRotate && k.By == ChangeByOperator:
		return "", classErr(ErrKeyEventMalformed, "a rotation is signed by the current key; the operator revokes a lost key and grants the domain again")
	}
	return "", classErr(ErrKeyEventMalformed, "key change kind %q by %q is not rotate or revoke by key or operator", k.Kind, k.By)
}

// validate checks the change's shape.
func (k *KeyChange) validate() error {
	if err := ValidateDomain(k.Domain); err != nil {
		return classErr(ErrKeyEventMalformed, "key change domain: %v", err)
	}
	if _, err := k.purpose(); err != nil {
		return err
	}
	if err := checkPublicKey(k.Key); err != nil {
		return classErr(ErrKeyEventMalformed, "key change key: %v", err)
	}
	if k.TS <= 0 {
		return classErr(ErrKeyEventMalformed, "key change ts must be positive")
	}
	if k.Kind == KeyEventRevoke {
		if k.NewKey != "" {
			return classErr(ErrKeyEventMalformed, "a revocation names no new key")
		}
		return nil
	}
	if err := checkPublicKey(k.NewKey); err != nil {
		return classErr(ErrKeyEventMalformed, "key change new_key: %v", err)
	}
	if k.NewKey == k.Key {
		return classErr(ErrKeyEventMalformed, "a rotation needs a new key, not the current one")
	}
	return nil
}

// SignKeyChange signs c with sign (the current key, or the registry root
// key for an operator revocation) and, for a rotation, with signNew (the
// new key).
func SignKeyChange(c KeyChange, sign, signNew func(Purpose, any) (string, error)) (SignedKeyChange, error) {
	if err := c.validate(); err != nil {
		return SignedKeyChange{}, Errorf(CodeBadRequest, "%v", err)
	}
	p, _ := c.purpose()
	sig, err := sign(p, c)
	if err != nil {
		return SignedKeyChange{}, err
	}
	out := SignedKeyChange{Change: c, Sig: sig}
	if c.Kind == KeyEventRotate {
		if signNew == nil {
			return SignedKeyChange{}, Errorf(CodeBadRequest, "a rotation needs the new key to sign it")
		}
		if out.NewSig, err = signNew(PurposeKeyRotation, c); err != nil {
			return SignedKeyChange{}, err
		}
	}
	return out, nil
}

// Verify checks the change's shape and signatures. rootKey is the registry
// root key (hex) that signs operator revocations.
func (s *SignedKeyChange) Verify(rootKey string) error {
	c := &s.Change
	if err := c.validate(); err != nil {
		return Errorf(CodeBadRequest, "%v", err)
	}
	p, _ := c.purpose()
	signer := c.Key
	if c.By == ChangeByOperator {
		signer = rootKey
	}
	if err := Verify(signer, p, c, s.Sig); err != nil {
		return Errorf(CodeBadSignature, "%v", classErr(ErrKeyEventSignature, "%s of %s by the %s: %v", c.Kind, c.Domain, byWhom(c.By), err))
	}
	if c.Kind == KeyEventRevoke {
		if s.NewSig != "" {
			return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "a revocation carries no new_sig"))
		}
		return nil
	}
	if s.NewSig == "" {
		return Errorf(CodeBadSignature, "%v", classErr(ErrKeyPossession, "rotation of %s has no new_sig by the new key", c.Domain))
	}
	if err := Verify(c.NewKey, PurposeKeyRotation, c, s.NewSig); err != nil {
		return Errorf(CodeBadSignature, "%v", classErr(ErrKeyPossession, "rotation of %s: the new key's signature: %v", c.Domain, err))
	}
	return nil
}

func byWhom(by string) string {
	if by == ChangeByOperator {
		return "registry operator (root key)"
	}
	return "current key"
}

// KeyEvent is one entry of a domain's key history as the registry logs it.
// Key is the key bound from this event on (bind, rotate) or the key revoked
// (revoke). A bind carries the seller's bind request (its proof of
// possession) and the id of the enrolment grant that allowed it ("" under
// open enrollment); a rotation or revocation carries the signed change.
type KeyEvent struct {
	Domain string           `json:"domain"`
	Seq    uint64           `json:"seq"` // 0 for the domain's first event, then +1
	Kind   string           `json:"kind"`
	Key    string           `json:"key"`
	Bind   *BindRequest     `json:"bind,omitempty"`
	Grant  string           `json:"grant,omitempty"`
	Change *SignedKeyChange `json:"change,omitempty"`
}

// Verify checks the event's shape and the signatures inside it (not the
// registry's countersignature): the bind request, or the change with its
// rootKey for an operator revocation.
func (e *KeyEvent) Verify(rootKey string) error {
	if err := ValidateDomain(e.Domain); err != nil {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "key event domain: %v", err))
	}
	if err := checkPublicKey(e.Key); err != nil {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "key event key: %v", err))
	}
	if e.Kind == KeyEventBind {
		return e.verifyBind()
	}
	if e.Kind != KeyEventRotate && e.Kind != KeyEventRevoke {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "key event kind %q is not bind, rotate or revoke", e.Kind))
	}
	c := e.Change
	switch {
	case c == nil || e.Bind != nil || e.Grant != "":
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "a %s event carries the signed change and nothing else", e.Kind))
	case c.Change.Kind != e.Kind || c.Change.Domain != e.Domain || c.Change.Seq != e.Seq:
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "the %s event's change is for another kind, domain or seq", e.Kind))
	case e.Kind == KeyEventRotate && c.Change.NewKey != e.Key, e.Kind == KeyEventRevoke && c.Change.Key != e.Key:
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "the %s event's key is not the key its change names", e.Kind))
	}
	return c.Verify(rootKey)
}

// verifyBind checks a bind event: the seller's bind request for this domain
// and key with its proof of possession, and the grant id's shape. Bind is
// absent only in an event the registry logged for a binding made before
// key events were logged; the registry alone vouches for that one.
func (e *KeyEvent) verifyBind() error {
	if e.Change != nil {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "a bind event carries no change"))
	}
	if e.Grant != "" {
		if err := checkHexLen(e.Grant, grantIDBytes, "grant id"); err != nil {
			return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "bind event: %v", err))
		}
	}
	if e.Bind == nil {
		if e.Grant != "" {
			return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "a bind event with a grant carries the bind request"))
		}
		return nil
	}
	if e.Bind.Domain != e.Domain || e.Bind.Key != e.Key {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "the bind event's request is for another domain or key"))
	}
	if err := Verify(e.Bind.Key, PurposeDomainBinding, e.Bind.unsigned(), e.Bind.Sig); err != nil {
		return Errorf(CodeBadSignature, "%v", classErr(ErrKeyEventSignature, "bind request of %s: %v", e.Domain, err))
	}
	return nil
}

// signedAt is the ts of the request inside the event (0 for a migrated
// binding, which has none).
func (e *KeyEvent) signedAt() int64 {
	switch {
	case e.Bind != nil:
		return e.Bind.TS
	case e.Change != nil:
		return e.Change.Change.TS
	}
	return 0
}

// KeyEventLeaf is a key event as the transparency log holds it, with the
// registry's countersignature (purpose registry/key-event, by a chain key,
// over {"key_event","key_index","key","notarized_at"}). Its top-level
// member key_event tells it apart from a deal artifact's leaf, which has
// deal and never key_event.
type KeyEventLeaf struct {
	Event    KeyEvent         `json:"key_event"`
	Registry Countersignature `json:"registry"`
}

// keyEventNotarySigned is what the registry signs for a key event.
type keyEventNotarySigned struct {
	Event       KeyEvent `json:"key_event"`
	KeyIndex    uint64   `json:"key_index"`
	Key         string   `json:"key"`
	NotarizedAt int64    `json:"notarized_at"`
}

func (l *KeyEventLeaf) notaryInput() keyEventNotarySigned {
	return keyEventNotarySigned{l.Event, l.Registry.KeyIndex, l.Registry.Key, l.Registry.NotarizedAt}
}

// CountersignKeyEvent returns the leaf of ev, countersigned with the chain
// key (key, entry) at now.
func CountersignKeyEvent(ev KeyEvent, key ed25519.PrivateKey, entry KeyEntry, now time.Time) (*KeyEventLeaf, error) {
	cs, err := countersignAs(PurposeKeyEvent, key, entry, now, func(cs Countersignature) any {
		return keyEventNotarySigned{ev, cs.KeyIndex, cs.Key, cs.NotarizedAt}
	})
	if err != nil {
		return nil, err
	}
	return &KeyEventLeaf{Event: ev, Registry: cs}, nil
}

// LeafData returns the bytes the transparency log stores: JCS of the leaf.
func (l *KeyEventLeaf) LeafData() ([]byte, error) { return Canonical(l) }

// Verify checks a logged key event offline: the event and its signatures
// (KeyEvent.Verify with rootKey), that its request was signed within
// KeyChangeWindow of notarized_at, and the registry countersignature by a
// key of the verified chain that was valid at notarized_at.
func (l *KeyEventLeaf) Verify(rootKey string, chain []KeyEntry) error {
	if err := l.Event.Verify(rootKey); err != nil {
		return err
	}
	cs := &l.Registry
	if ts := l.Event.signedAt(); ts != 0 && (ts > cs.NotarizedAt+KeyChangeWindow.Milliseconds() || ts < cs.NotarizedAt-KeyChangeWindow.Milliseconds()) {
		return Errorf(CodeBadRequest, "%v", classErr(ErrKeyEventMalformed, "key event %d of %s was signed more than %s from when it was logged", l.Event.Seq, l.Event.Domain, KeyChangeWindow))
	}
	entry, err := countersignEntry("key event", ErrKeyEventNotary, cs, chain)
	if err != nil {
		return err
	}
	if err := Verify(entry.Key, PurposeKeyEvent, l.notaryInput(), cs.Sig); err != nil {
		return Errorf(CodeBadSignature, "%v", classErr(ErrKeyEventNotary, "key event %d of %s: %v", l.Event.Seq, l.Event.Domain, err))
	}
	return nil
}

// KeyEventEntry is one logged key event and its index in the log.
type KeyEventEntry struct {
	LeafIndex uint64       `json:"leaf_index"`
	Leaf      KeyEventLeaf `json:"leaf"`
}

// KeyHistory is a domain's key events in seq order (GET RouteDomainKeys).
type KeyHistory struct {
	Domain string          `json:"domain"`
	Events []KeyEventEntry `json:"events"`
}

// ParseLeaf decodes the leaf data of the transparency log strictly: a key
// event (an object with the member key_event) or a deal artifact (any other
// object without deal_event). Exactly one of the results is not nil when
// err is nil. A deal event's leaf is refused (bad_request): ParseLogLeaf
// reads every kind.
func ParseLeaf(data []byte) (*Artifact, *KeyEventLeaf, error) {
	l, err := ParseLogLeaf(data)
	if err != nil {
		return nil, nil, err
	}
	if l.DealEvent != nil {
		return nil, nil, Errorf(CodeBadRequest, "the leaf is a deal event, not an artifact or key event")
	}
	return l.Artifact, l.KeyEvent, nil
}

// KeyState is what a domain's key events leave it with: the bound key (""
// before the first binding), whether it is revoked, the seq of the next
// event, and the log index of the last event applied.
type KeyState struct {
	Domain    string `json:"domain"`
	Key       string `json:"key"`
	Revoked   bool   `json:"revoked,omitempty"`
	Next      uint64 `json:"next"`
	LeafIndex uint64 `json:"leaf_index"`
}

// Apply applies the next event (already verified) logged at leafIndex, or
// refuses it with ErrKeyEventOrder (code conflict) when it does not follow:
// another domain or seq; a binding while a key is bound and not revoked; a
// rotation or revocation of a key that is not the bound one, or of a
// revoked one.
func (s *KeyState) Apply(e *KeyEvent, leafIndex uint64) error {
	if e.Domain != s.Domain || e.Seq != s.Next {
		return Errorf(CodeConflict, "%v", classErr(ErrKeyEventOrder, "key event %d of %s does not follow event %d of %s", e.Seq, e.Domain, int64(s.Next)-1, s.Domain))
	}
	from := s.Key
	if e.Kind == KeyEventRotate && e.Change != nil {
		from = e.Change.Change.Key
	}
	switch {
	case e.Kind == KeyEventBind && s.Key != "" && !s.Revoked:
		return Errorf(CodeConflict, "%v", classErr(ErrKeyEventOrder, "%s is bound to key %s…: it cannot be bound again before a revocation", s.Domain, short(s.Key)))
	case e.Kind != KeyEventBind && (s.Key == "" || s.Revoked):
		return Errorf(CodeConflict, "%v", classErr(ErrKeyEventOrder, "%s has no usable key to %s", s.Domain, e.Kind))
	case e.Kind == KeyEventRotate && from != s.Key, e.Kind == KeyEventRevoke && e.Key != s.Key:
		return Errorf(CodeConflict, "%v", classErr(ErrKeyEventOrder, "the %s is for key %s…, but %s is bound to %s…", e.Kind, short(from), s.Domain, short(s.Key)))
	}
	s.Next++
	s.Key = e.Key
	s.Revoked = e.Kind == KeyEventRevoke
	s.LeafIndex = leafIndex
	return nil
}
