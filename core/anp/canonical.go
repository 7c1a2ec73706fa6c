package anp

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"filippo.io/edwards25519"
	"github.com/gowebpki/jcs"
)

// Rejection classes of Ed25519 public keys and signatures (protocol §3).
// ParsePublicKey and Verify wrap one of them, with what failed.
var (
	// ErrKeyFormat: the key is not 64 lower-case hex characters.
	ErrKeyFormat = errors.New("public key is not 64 lower-case hex characters")
	// ErrKeyNotOnCurve: the 32 bytes do not decode to a point of edwards25519.
	ErrKeyNotOnCurve = errors.New("public key is not a point of edwards25519")
	// ErrKeyNonCanonical: the bytes decode to a point but are not its
	// canonical encoding (y ≥ p, or x = 0 with the sign bit set).
	ErrKeyNonCanonical = errors.New("public key is not the canonical encoding of its point")
	// ErrKeySmallOrder: the key is one of the eight points of order 1, 2, 4
	// or 8; it carries no secret, and the identity verifies the signature
	// (R = identity, S = 0) over every message.
	ErrKeySmallOrder = errors.New("public key is a point of small order")
	// ErrSignatureFormat: the signature is not 128 lower-case hex characters.
	ErrSignatureFormat = errors.New("signature is not 128 lower-case hex characters")
	// ErrSignatureRInvalid: R is not the canonical encoding of a point.
	ErrSignatureRInvalid = errors.New("signature R is not the canonical encoding of a point")
	// ErrSignatureRSmallOrder: R is a point of small order.
	ErrSignatureRSmallOrder = errors.New("signature R is a point of small order")
	// ErrSignatureSNonCanonical: S is not below the group order L.
	ErrSignatureSNonCanonical = errors.New("signature S is not below the group order")
)

// Purpose is the domain-separation tag in front of every signed byte string,
// so that a signature made for one purpose can never be replayed as another.
type Purpose string

// Signing purposes. Each is part of the signed bytes.
const (
	PurposeEnvelope       Purpose = "envelope"
	PurposeArtifactBuyer  Purpose = "artifact/buyer"
	PurposeArtifactSeller Purpose = "artifact/seller"
	PurposeArtifactNotary Purpose = "artifact/registry"
	PurposeTreeHead       Purpose = "log/tree-head"
	PurposeKeyChain       Purpose = "registry/key-chain"
	PurposeToken          Purpose = "registry/token"
	PurposeDomainBinding  Purpose = "registry/domain-binding"
	PurposeEndpointRecord Purpose = "seller/endpoint-record"
	PurposePoW            Purpose = "auth/pow-possession"
	PurposeWSAuth         Purpose = "auth/websocket"
	PurposeBlindSeal      Purpose = "blind/credential"
	// Enrolment grants and key events (grant.go, keyevents.go).
	PurposeGrant              Purpose = "registry/enrolment-grant"
	PurposeKeyRotation        Purpose = "seller/key-rotation"
	PurposeKeyRevocation      Purpose = "seller/key-revocation"
	PurposeOperatorRevocation Purpose = "registry/key-revocation"
	PurposeKeyEvent           Purpose = "registry/key-event"
	// The deal lifecycle (dealleaf.go): the root key certifies the arbiter
	// key; a chain key countersigns each logged deal event.
	PurposeArbiterKey Purpose = "registry/arbiter-key"
	PurposeDealEvent  Purpose = "registry/deal-event"
)

// signingPrefix starts every signing input: "clinch-anp/1" NUL purpose NUL.
const signingPrefix = "clinch-anp/1"

// Canonical returns the RFC 8785 (JCS) bytes of v's JSON encoding. It
// refuses numbers outside ±(2^53-1) (CheckNumber), which JCS would round.
// The bytes come straight from the typed value (canonwriter.go) where they
// can, and are those of canonicalReference in every case.
func Canonical(v any) ([]byte, error) {
	buf := borrowScratch()
	out, err := appendCanonicalAny(buf.b[:0], v)
	// An exact-size copy: callers keep canonical bytes (envelope bodies),
	// which should hold no spare capacity.
	var c []byte
	if err == nil {
		c = bytes.Clone(out)
	}
	buf.giveBack(out)
	return c, err
}

// scratch is a buffer of canonScratch, borrowed for the bytes of one
// computation (canonical bytes to compare or hash, a signing input to sign
// or verify) that nothing keeps once it is done.
type scratch struct{ b []byte }

// canonScratch holds the scratch buffers given back; buffers that grew
// past maxPooledScratch are left to the collector.
var canonScratch = sync.Pool{New: func() any { return &scratch{b: make([]byte, 0, 1024)} }}

const maxPooledScratch = 64 << 10

func borrowScratch() *scratch { return canonScratch.Get().(*scratch) }

// giveBack returns the buffer, keeping out (what was written into it,
// perhaps grown) for the next borrower. The bytes must not be used after.
func (s *scratch) giveBack(out []byte) {
	if cap(out) > maxPooledScratch {
		return
	}
	s.b = out[:0]
	canonScratch.Put(s)
}

// canonicalReference is the reference path of Canonical: json.Marshal,
// the number check, and jcs.Transform of the marshalled bytes.
func canonicalReference(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("anp: encode: %w", err)
	}
	if err := checkNumbers(raw); err != nil {
		return nil, Errorf(CodeBadRequest, "anp: canonicalise: %v", err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("anp: canonicalise: %w", err)
	}
	return out, nil
}

// SigningInput returns the exact bytes that are signed for purpose p over v:
// "clinch-anp/1" 0x00 p 0x00 JCS(v).
func SigningInput(p Purpose, v any) ([]byte, error) {
	return appendSigningInput(make([]byte, 0, 512), p, v)
}

// appendSigningInput appends SigningInput(p, v) to dst.
func appendSigningInput(dst []byte, p Purpose, v any) ([]byte, error) {
	dst = append(dst, signingPrefix...)
	dst = append(dst, 0)
	dst = append(dst, p...)
	dst = append(dst, 0)
	if u, ok := v.(unsignedEnvelope); ok {
		return u.appendCanonical(dst)
	}
	return appendCanonicalAny(dst, v)
}

// Sign signs v for purpose p and returns the hex signature.
func Sign(key ed25519.PrivateKey, p Purpose, v any) (string, error) {
	buf := borrowScratch()
	msg, err := appendSigningInput(buf.b[:0], p, v)
	if err != nil {
		buf.giveBack(msg)
		return "", err
	}
	countSign(p)
	sig := ed25519.Sign(key, msg)
	buf.giveBack(msg)
	return hexString(sig), nil
}

// Verify checks a hex signature by the hex public key over v for purpose p.
// The key must pass ParsePublicKey and the signature CheckSignature; then the
// signature is verified as crypto/ed25519 does it (RFC 8032 without the
// cofactor: [S]B = R + [k]A, compared on R's encoding).
func Verify(pubHex string, p Purpose, v any, sigHex string) error {
	key, sig, err := parseKeyAndSignature(pubHex, sigHex)
	if err != nil {
		return err
	}
	buf := borrowScratch()
	msg, err := appendSigningInput(buf.b[:0], p, v)
	defer buf.giveBack(msg)
	if err != nil {
		if rerr := checkSignatureR(sig[:32]); rerr != nil {
			return rerr // CheckSignature's error comes first
		}
		return err
	}
	return verifyMessage(&key, p, msg, &sig)
}

// parsedKey is a public key that passed ParsePublicKey: its encoding and
// the memo's −A.
type parsedKey struct {
	pub  [32]byte
	negA *edwards25519.Point
}

// parseKeyAndSignature applies ParsePublicKey and CheckSignature but for
// its check of R, which verifyMessage makes (checkSignatureR): an R that
// verifies is a point, and only its order is left to check.
func parseKeyAndSignature(pubHex, sigHex string) (key parsedKey, sig [64]byte, err error) {
	if key, err = parseKey(pubHex); err != nil {
		return key, sig, err
	}
	if err := checkHexLen(sigHex, ed25519.SignatureSize, "signature"); err != nil {
		return key, sig, &classError{class: ErrSignatureFormat, msg: err.Error()}
	}
	decodeCheckedHex(sig[:], sigHex)
	if err := checkSignatureS(sig[:]); err != nil {
		return key, sig, err
	}
	return key, sig, nil
}

// keyAndSignatureError is the error of ParsePublicKey or CheckSignature.
func keyAndSignatureError(pubHex, sigHex string) error {
	_, sig, err := parseKeyAndSignature(pubHex, sigHex)
	if err != nil {
		return err
	}
	return checkSignatureR(sig[:32])
}

// verifyMessage is the Ed25519 verification of a signing input, with
// CheckSignature's check of R: one that verifies is refused only for a
// small order, and one that does not gets its class.
func verifyMessage(key *parsedKey, p Purpose, msg []byte, sig *[64]byte) error {
	if verifyEd25519(key.negA, &key.pub, msg, sig) && !isSmallOrderEncoding(sig[:32]) {
		countVerify(p)
		return nil
	}
	if err := checkSignatureR(sig[:32]); err != nil {
		return err
	}
	countVerify(p)
	return ErrBadSignature
}

// CheckSignature refuses a 64-byte Ed25519 signature whose R is not the
// canonical encoding of a point or is of small order, or whose S is not
// below the group order L. crypto/ed25519 refuses S ≥ L and a non-canonical
// R by itself; it accepts a small-order R when the equation holds, which
// only a signer who chose to can make happen.
func CheckSignature(sig []byte) error {
	if len(sig) != ed25519.SignatureSize {
		return &classError{class: ErrSignatureFormat, msg: fmt.Sprintf("anp: signature must be %d bytes, got %d", ed25519.SignatureSize, len(sig))}
	}
	if err := checkSignatureS(sig); err != nil {
		return err
	}
	return checkSignatureR(sig[:32])
}

// checkSignatureS is CheckSignature's check of S, of a 64-byte signature.
func checkSignatureS(sig []byte) error {
	if _, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:]); err != nil {
		return &classError{class: ErrSignatureSNonCanonical, msg: "anp: signature S is not below the group order L"}
	}
	return nil
}

// checkSignatureR is CheckSignature's check of R.
func checkSignatureR(r []byte) error {
	switch pointClass(r) {
	case ErrKeyNotOnCurve, ErrKeyNonCanonical:
		return &classError{class: ErrSignatureRInvalid, msg: "anp: signature R is not the canonical encoding of a point"}
	case ErrKeySmallOrder:
		return &classError{class: ErrSignatureRSmallOrder, msg: "anp: signature R is a point of small order"}
	}
	return nil
}

// pointClass returns nil for the canonical encoding of a point that is not
// of small order, or ErrKeyNotOnCurve, ErrKeyNonCanonical or ErrKeySmallOrder.
func pointClass(b []byte) error {
	pt, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return ErrKeyNotOnCurve
	}
	return pointClassOf(pt, b)
}

// pointClassOf is pointClass of b, which SetBytes decoded to pt.
func pointClassOf(pt *edwards25519.Point, b []byte) error {
	// SetBytes accepts y ≥ p and x = 0 with the sign bit set; the
	// canonical encoding is the only one that survives a round trip.
	if !bytes.Equal(pt.Bytes(), b) {
		return ErrKeyNonCanonical
	}
	// A point of order 1, 2, 4 or 8 becomes the identity times the cofactor.
	if new(edwards25519.Point).MultByCofactor(pt).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return ErrKeySmallOrder
	}
	return nil
}

// Hash returns the lower-case hex SHA-256 of JCS(v).
func Hash(v any) (string, error) {
	buf := borrowScratch()
	c, err := appendCanonicalAny(buf.b[:0], v)
	if err != nil {
		buf.giveBack(c)
		return "", err
	}
	sum := sha256.Sum256(c)
	buf.giveBack(c)
	return hexString(sum[:]), nil
}

// PublicKeyHex returns the lower-case hex of an Ed25519 public key.
func PublicKeyHex(pub ed25519.PublicKey) string { return hexString(pub) }

// hexString is hex.EncodeToString with one allocation (the string) for
// the signatures, keys and hashes of up to 64 bytes it is given.
func hexString(b []byte) string {
	var buf [128]byte
	if len(b) > len(buf)/2 {
		return hex.EncodeToString(b)
	}
	n := hex.Encode(buf[:], b)
	return string(buf[:n])
}

// ParsePublicKey decodes a 64-character lower-case hex Ed25519 public key
// and refuses one that is not the canonical encoding of a point of
// edwards25519 or that is of small order. Its errors wrap ErrKeyFormat,
// ErrKeyNotOnCurve, ErrKeyNonCanonical or ErrKeySmallOrder.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	k, err := parseKey(s)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(k.pub[:]), nil
}

// decodeHexLen decodes strict lower-case hex of exactly n bytes.
func decodeHexLen(s string, n int, what string) ([]byte, error) {
	if err := checkHexLen(s, n, what); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("anp: %s: %w", what, err)
	}
	return b, nil
}

// checkHexLen is decodeHexLen's check without the decoding: s is strict
// lower-case hex of exactly n bytes.
func checkHexLen(s string, n int, what string) error {
	if len(s) != 2*n {
		return fmt.Errorf("anp: %s must be %d hex characters, got %d", what, 2*n, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("anp: %s has a character that is not lower-case hex at position %d", what, i)
		}
	}
	return nil
}

// ValidHash reports whether s is a 64-character lower-case hex SHA-256.
func ValidHash(s string) bool {
	err := checkHexLen(s, sha256.Size, "hash")
	return err == nil
}

// Signer returns a signing function bound to key, the shape the registry and
// record helpers take so that callers never pass private keys around.
func Signer(key ed25519.PrivateKey) func(Purpose, any) (string, error) {
	return func(p Purpose, v any) (string, error) { return Sign(key, p, v) }
}
