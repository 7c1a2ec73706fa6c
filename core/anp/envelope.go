package anp

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"time"
)

// MsgType is the performative of an envelope.
type MsgType string

// The message types of the protocol. Anything else is rejected.
const (
	TypePropose  MsgType = "PROPOSE"  // buyer opens a session (seq 1)
	TypeCounter  MsgType = "COUNTER"  // an offer from either side
	TypeAccept   MsgType = "ACCEPT"   // seller confirms a price: the session needs the buyer's approval
	TypeReject   MsgType = "REJECT"   // seller ends the negotiation without a deal
	TypeCancel   MsgType = "CANCEL"   // either side withdraws
	TypeCommit   MsgType = "COMMIT"   // buyer sends its signed artifact for the seller's signature
	TypeConfirm  MsgType = "CONFIRM"  // seller returns its signature over the artifact
	TypeInform   MsgType = "INFORM"   // information with no state change (e.g. "answer follows")
	TypeQuery    MsgType = "QUERY"    // a question about the item or terms
	TypeEscalate MsgType = "ESCALATE" // seller asks for human review before it can continue
)

// MsgTypes lists every message type of the negotiation; DealEventTypes
// lists those of the deal lifecycle after the signature.
var MsgTypes = []MsgType{TypePropose, TypeCounter, TypeAccept, TypeReject, TypeCancel, TypeCommit, TypeConfirm, TypeInform, TypeQuery, TypeEscalate}

// Valid reports whether t is a known message type.
func (t MsgType) Valid() bool {
	for _, k := range MsgTypes {
		if t == k {
			return true
		}
	}
	return IsDealEvent(t)
}

// Limits on envelopes.
const (
	MaxEnvelopeBytes = 64 << 10         // a whole encoded envelope
	MaxTTL           = 10 * time.Minute // exp - ts
	MaxClockSkew     = 2 * time.Minute  // how far ts may be in the future
	NonceBytes       = 16
)

// Envelope is the signed unit of every negotiation message, in both directions.
// Prev is the hash of the previous envelope of the session ("" for seq 1), so
// the transcript is a hash chain. Sig covers every other field.
type Envelope struct {
	V       int             `json:"v"`
	Type    MsgType         `json:"type"`
	Session string          `json:"session"`
	Seq     uint64          `json:"seq"`
	Prev    string          `json:"prev"`
	From    string          `json:"from"`
	To      string          `json:"to"`
	TS      int64           `json:"ts"`
	Exp     int64           `json:"exp"`
	Nonce   string          `json:"nonce"`
	Body    json.RawMessage `json:"body"`
	Sig     string          `json:"sig,omitempty"`
}

// unsigned returns a copy without the signature, the value that is signed.
func (e *Envelope) unsigned() Envelope {
	c := *e
	c.Sig = ""
	return c
}

// unsignedEnvelope is the value an envelope's signature is over, its
// unsigned copy, held by pointer to the envelope: passed as any it needs
// no allocation, and appendSigningInput writes it without the copy.
type unsignedEnvelope struct{ e *Envelope }

// envelopeSigField is the index of Envelope.Sig, an omitempty member.
var envelopeSigField = func() int {
	f, _ := reflect.TypeFor[Envelope]().FieldByName("Sig")
	return f.Index[0]
}()

// appendCanonical appends JCS of the unsigned envelope: the envelope's
// members but the signature, or, where the typed writer leaves it to the
// reference path, JCS of the unsigned copy.
func (u unsignedEnvelope) appendCanonical(dst []byte) ([]byte, error) {
	n := len(dst)
	out, err := appendCanonStructOmitting(dst, reflect.ValueOf(u.e).Elem(), 1, envelopeSigField)
	if err == nil {
		return out, nil
	}
	c := u.e.unsigned()
	return appendCanonicalAny(out[:n], &c)
}

// Hash is the lower-case hex SHA-256 of the JCS bytes of the whole signed
// envelope. It is the next envelope's Prev and the dedupe key.
func (e *Envelope) Hash() (string, error) { return Hash(e) }

// NewNonce returns 16 random bytes as hex.
func NewNonce() string {
	var b [NonceBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("anp: crypto/rand failed: " + err.Error())
	}
	return hexString(b[:])
}

// NewSessionID returns a random 128-bit session id as hex.
func NewSessionID() string { return NewNonce() }

// EnvelopeSpec is what a sender decides; Seal fills in the rest.
type EnvelopeSpec struct {
	Type    MsgType
	Session string
	Seq     uint64
	Prev    string
	To      string
	Body    any
	Now     time.Time
	TTL     time.Duration // 0 means 5 minutes
}

// Seal builds and signs an envelope with key.
func Seal(key ed25519.PrivateKey, s EnvelopeSpec) (*Envelope, error) {
	if !s.Type.Valid() {
		return nil, Errorf(CodeUnknownType, "message type %q is not part of the protocol", s.Type)
	}
	body, err := Canonical(s.Body)
	if err != nil {
		return nil, err
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if ttl > MaxTTL {
		ttl = MaxTTL
	}
	e := &Envelope{
		V: Version, Type: s.Type, Session: s.Session, Seq: s.Seq, Prev: s.Prev,
		From: PublicKeyHex(key.Public().(ed25519.PublicKey)), To: s.To,
		TS: s.Now.UnixMilli(), Exp: s.Now.Add(ttl).UnixMilli(), Nonce: NewNonce(), Body: body,
	}
	if err := e.checkShape(); err != nil {
		return nil, err
	}
	e.Sig, err = Sign(key, PurposeEnvelope, unsignedEnvelope{e})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DecodeEnvelope parses an envelope strictly: size cap, no unknown fields,
// no trailing data, and a well-formed shape. It does not verify the signature.
func DecodeEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, Errorf(CodeTooLarge, "envelope is %d bytes, at most %d allowed", len(data), MaxEnvelopeBytes)
	}
	var e Envelope
	if err := DecodeStrict(data, &e); err != nil {
		return nil, Errorf(CodeBadRequest, "envelope: %v", err)
	}
	if err := e.checkShape(); err != nil {
		return nil, err
	}
	return &e, nil
}

// checkShape validates everything that can be checked without keys or clocks.
func (e *Envelope) checkShape() error {
	if err := e.checkChain(); err != nil {
		return err
	}
	if err := e.checkLifetime(); err != nil {
		return err
	}
	return e.checkContents()
}

// checkChain checks where the envelope sits: protocol version, message
// type, session id, and seq with its link to the previous envelope.
func (e *Envelope) checkChain() error {
	switch {
	case e.V != Version:
		return Errorf(CodeBadRequest, "envelope version %d is not supported (want %d)", e.V, Version)
	case !e.Type.Valid():
		return Errorf(CodeUnknownType, "message type %q is not part of the protocol", e.Type)
	case !validSessionID(e.Session):
		return Errorf(CodeBadRequest, "session id must be 32 lower-case hex characters")
	case e.Seq == 0:
		return Errorf(CodeBadRequest, "seq must start at 1")
	case e.Seq == 1 && e.Prev != "":
		return Errorf(CodeBadRequest, "the first envelope of a session must have an empty prev")
	case e.Seq > 1 && !ValidHash(e.Prev):
		return Errorf(CodeBadRequest, "prev must be the 64-character hex hash of the previous envelope")
	}
	return nil
}

// checkLifetime checks that exp is after ts by at most MaxTTL.
func (e *Envelope) checkLifetime() error {
	switch {
	case e.Exp <= e.TS:
		return Errorf(CodeBadRequest, "exp must be after ts")
	case uint64(e.Exp-e.TS) > uint64(MaxTTL.Milliseconds()):
		return Errorf(CodeBadRequest, "exp - ts is longer than the %s maximum", MaxTTL)
	}
	return nil
}

// checkContents checks that the body is present, that the recipient is
// named in at most MaxDomainLen bytes, and that the sender key and the nonce
// are well formed.
func (e *Envelope) checkContents() error {
	switch {
	case len(e.Body) == 0:
		return Errorf(CodeBadRequest, "body is missing")
	case len(e.To) == 0 || len(e.To) > MaxDomainLen:
		return Errorf(CodeBadRequest, "to must name the recipient")
	}
	if err := checkPublicKey(e.From); err != nil {
		return Errorf(CodeBadRequest, "from: %v", err)
	}
	if err := checkHexLen(e.Nonce, NonceBytes, "nonce"); err != nil {
		return Errorf(CodeBadRequest, "%v", err)
	}
	return nil
}

func validSessionID(s string) bool {
	err := checkHexLen(s, 16, "session id")
	return err == nil
}

// ValidSessionID reports whether s is a well-formed session id.
func ValidSessionID(s string) bool { return validSessionID(s) }

// VerifySignature checks that Sig is From's signature over the envelope.
func (e *Envelope) VerifySignature() error { return e.VerifySignatureWith(nil) }

// VerifySignatureWith is VerifySignature through the party's cache: a
// signature the cache has seen verify (or made) is not verified again.
func (e *Envelope) VerifySignatureWith(c *SigCache) error {
	if err := e.checkShape(); err != nil {
		return err
	}
	if err := verifyWith(c, e.From, PurposeEnvelope, unsignedEnvelope{e}, e.Sig); err != nil {
		return Errorf(CodeBadSignature, "envelope %s seq %d from %s: %v", e.Type, e.Seq, short(e.From), err)
	}
	return nil
}

// CheckTime rejects envelopes that are expired at now or dated too far ahead.
func (e *Envelope) CheckTime(now time.Time) error {
	ms := now.UnixMilli()
	if e.Exp <= ms {
		return Errorf(CodeExpired, "envelope %s seq %d expired %s ago", e.Type, e.Seq, time.Duration(ms-e.Exp)*time.Millisecond)
	}
	if e.TS > ms+MaxClockSkew.Milliseconds() {
		return Errorf(CodeExpired, "envelope %s seq %d is dated %s in the future", e.Type, e.Seq, time.Duration(e.TS-ms)*time.Millisecond)
	}
	return nil
}

// DecodeBody decodes the body strictly into v, refuses a body that is not
// in its one form (see oneForm) and validates it.
func (e *Envelope) DecodeBody(v any) error {
	if err := decodeStrictAt("body", e.Body, v); err != nil {
		return Errorf(CodeBadRequest, "%s %v", e.Type, err)
	}
	if err := oneForm(e.Body, v); err != nil {
		return Errorf(CodeBadRequest, "%s %v", e.Type, err)
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return Errorf(CodeBadRequest, "%s body: %v", e.Type, err)
		}
	}
	return nil
}

func short(hexKey string) string {
	if len(hexKey) > 12 {
		return hexKey[:12]
	}
	return hexKey
}

// Transcript is the hash-chained list of a session's envelopes as one party
// has verified them. The zero value is an empty transcript.
type Transcript struct {
	Envelopes []*Envelope `json:"envelopes"`
	Head      string      `json:"head"` // hash of the last envelope, "" when empty
}

// NextSeq is the sequence number the next envelope must carry.
func (t *Transcript) NextSeq() uint64 { return uint64(len(t.Envelopes)) + 1 }

// Expect describes who may send the next envelope of a session.
type Expect struct {
	Session string
	From    string // hex key the envelope must be signed by
	To      string // recipient the envelope must name
	Now     time.Time
	// Cache, when set, is the checking party's signature cache.
	Cache *SigCache
}

// Check verifies that e may be appended: the right session, sender and
// recipient, the next seq, the current head as prev, a valid signature and
// a time window that includes now. It does not modify t.
func (t *Transcript) Check(e *Envelope, x Expect) (hash string, err error) {
	if e.Session != x.Session {
		return "", Errorf(CodeBadRequest, "envelope is for session %s, expected %s", e.Session, x.Session)
	}
	if x.From != "" && e.From != x.From {
		return "", Errorf(CodeBadSignature, "envelope seq %d is signed by %s, expected %s", e.Seq, short(e.From), short(x.From))
	}
	if x.To != "" && e.To != x.To {
		return "", Errorf(CodeBadRequest, "envelope seq %d is addressed to %q, expected %q", e.Seq, e.To, x.To)
	}
	if err := e.VerifySignatureWith(x.Cache); err != nil {
		return "", err
	}
	h, err := e.Hash()
	if err != nil {
		return "", err
	}
	for _, old := range t.Envelopes {
		if old.Nonce == e.Nonce || old.Sig == e.Sig {
			return "", Errorf(CodeReplay, "envelope seq %d repeats an envelope already in the transcript", e.Seq)
		}
	}
	if e.Seq != t.NextSeq() {
		return "", Errorf(CodeOutOfOrder, "envelope has seq %d, expected %d", e.Seq, t.NextSeq())
	}
	if e.Prev != t.Head {
		return "", Errorf(CodeOutOfOrder, "envelope seq %d does not chain to the transcript head", e.Seq)
	}
	if err := e.CheckTime(x.Now); err != nil {
		return "", err
	}
	return h, nil
}

// Append checks e and adds it to the transcript.
func (t *Transcript) Append(e *Envelope, x Expect) error {
	h, err := t.Check(e, x)
	if err != nil {
		return err
	}
	t.Envelopes = append(t.Envelopes, e)
	t.Head = h
	return nil
}

// Last returns the last envelope, or nil.
func (t *Transcript) Last() *Envelope {
	if len(t.Envelopes) == 0 {
		return nil
	}
	return t.Envelopes[len(t.Envelopes)-1]
}

// VerifyChain re-checks a whole transcript offline: signatures, seq and prev
// links. Times are not checked (old transcripts have expired envelopes).
func VerifyChain(envs []*Envelope) (head string, err error) {
	for i, e := range envs {
		if e.Seq != uint64(i+1) {
			return "", Errorf(CodeOutOfOrder, "envelope %d has seq %d", i+1, e.Seq)
		}
		if e.Prev != head {
			return "", Errorf(CodeOutOfOrder, "envelope seq %d does not chain to its predecessor", e.Seq)
		}
		if err := e.VerifySignature(); err != nil {
			return "", err
		}
		if head, err = e.Hash(); err != nil {
			return "", err
		}
	}
	return head, nil
}

// HashBytes returns the hex SHA-256 of b.
func HashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hexString(s[:])
}

// Holds reports whether the transcript already holds e, byte for byte (the
// same envelope hash). Only an envelope with an identical signature is hashed.
func (t *Transcript) Holds(e *Envelope) (bool, error) {
	var h string
	for _, old := range t.Envelopes {
		if old.Sig != e.Sig {
			continue
		}
		if h == "" {
			var err error
			if h, err = e.Hash(); err != nil {
				return false, err
			}
		}
		if oh, err := old.Hash(); err == nil && oh == h {
			return true, nil
		}
	}
	return false, nil
}
