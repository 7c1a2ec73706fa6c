package anp

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// Blind credentials (docs/protocol.md §14).
//
// A buyer may hold a per-domain credential (a membership number, a B2B
// account code) that only the seller should read: not the buyer's model,
// not the registry. The buyer seals it to the seller's X25519 public key,
// published hex-encoded as EndpointRecord.EncKey:
//
//	payload = JCS({"buyer_key": K, "credential": C, "domain": D, "session": S})
//	sealed  = base64.StdEncoding(nacl/box.SealAnonymous(payload, sellerPub))
//
// and sends sealed as ProposeBody.Credential. D is the seller domain, S the
// session id of the PROPOSE and K the buyer session key that signs it, so a
// sealed credential cannot be replayed into another session, to another
// seller, or by anyone who copies it into a PROPOSE of their own. The seller's X25519 key pair
// is derived from its Ed25519 identity seed (DeriveCredentialKey), so it
// needs no storage of its own and changes only with the identity key.

// Limits of a blind credential. MaxCredentialLen is the one size limit;
// MaxSealedCredentialLen follows from it: the base64 text of the box over
// the longest payload (every credential byte a '"' or '\', which JCS
// escapes to two bytes, the longest domain, a buyer key and a session id).
const (
	MinCredentialLen       = 6 // shorter values cannot be redacted from logs reliably
	MaxCredentialLen       = 1024
	maxCredentialPayload   = len(`{"buyer_key":"","credential":"","domain":"","session":""}`) + 2*ed25519.PublicKeySize + 2*MaxCredentialLen + MaxDomainLen + 2*16
	MaxSealedCredentialLen = (maxCredentialPayload + box.AnonymousOverhead + 2) / 3 * 4
)

// credentialKeyInfo is the HKDF info string of the seller's X25519 key.
const credentialKeyInfo = "clinch-anp/1 blind-credential x25519"

// credentialPayload is the sealed JSON object.
type credentialPayload struct {
	BuyerKey   string `json:"buyer_key"`
	Credential string `json:"credential"`
	Domain     string `json:"domain"`
	Session    string `json:"session"`
}

// ValidateCredential checks a credential: MinCredentialLen to
// MaxCredentialLen bytes of UTF-8 without any control character. The error
// never contains the credential.
func ValidateCredential(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("credential is empty")
	case len(c) < MinCredentialLen:
		return fmt.Errorf("credential is %d bytes, at least %d needed", len(c), MinCredentialLen)
	case len(c) > MaxCredentialLen:
		return fmt.Errorf("credential is %d bytes, at most %d allowed", len(c), MaxCredentialLen)
	case !utf8.ValidString(c):
		return fmt.Errorf("credential is not valid UTF-8")
	}
	for _, r := range c {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("credential contains a control character")
		}
	}
	return nil
}

// CredentialKey is a seller's X25519 key pair for blind credentials. Its
// String and GoString show the public half only.
type CredentialKey struct {
	pub, priv [32]byte
}

// DeriveCredentialKey derives a seller's X25519 key pair for blind
// credentials from its Ed25519 identity:
//
//	priv = clamp(HKDF-SHA256(ikm = seed, salt = none, info = "clinch-anp/1 blind-credential x25519", 32 bytes))
//	pub  = X25519(priv, basepoint)
func DeriveCredentialKey(identity ed25519.PrivateKey) (*CredentialKey, error) {
	if len(identity) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("anp: credential key: identity key is %d bytes, want %d", len(identity), ed25519.PrivateKeySize)
	}
	b, err := hkdf.Key(sha256.New, identity.Seed(), nil, credentialKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("anp: credential key: %w", err)
	}
	defer clear(b)
	k := new(CredentialKey)
	copy(k.priv[:], b)
	k.priv[0] &= 248
	k.priv[31] &= 127
	k.priv[31] |= 64
	p, err := curve25519.X25519(k.priv[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("anp: credential key: %w", err)
	}
	copy(k.pub[:], p)
	return k, nil
}

// PublicHex returns the public key as the seller publishes it in
// EndpointRecord.EncKey: 64 lower-case hex characters.
func (k CredentialKey) PublicHex() string { return hex.EncodeToString(k.pub[:]) }

// String shows the public key only.
func (k CredentialKey) String() string { return "CredentialKey{public: " + k.PublicHex() + "}" }

// GoString is String, so %#v shows no private key either.
func (k CredentialKey) GoString() string { return k.String() }

// CredentialScope is what a sealed credential is good for: one session,
// opened by one buyer session key, at one seller domain.
type CredentialScope struct {
	Session  string // the session id of the PROPOSE
	BuyerKey string // the buyer session key that signs the PROPOSE (its from), hex
	Domain   string // the seller domain
}

// SealCredential seals credential for scope with the seller whose
// encryption key (64 lower-case hex characters, its EndpointRecord.EncKey)
// is sellerEncKey. The domain is normalised first. The result is at most
// MaxSealedCredentialLen bytes of standard base64. Errors never contain the
// credential.
func SealCredential(sellerEncKey string, scope CredentialScope, credential string) (string, error) {
	return sealCredential(rand.Reader, sellerEncKey, scope, credential)
}

// sealCredential is SealCredential with the ephemeral key read from random.
func sealCredential(random io.Reader, sellerEncKey string, scope CredentialScope, credential string) (string, error) {
	pub, err := parseEncKey(sellerEncKey)
	if err != nil {
		return "", fmt.Errorf("anp: seal credential: %w", err)
	}
	if !ValidSessionID(scope.Session) {
		return "", fmt.Errorf("anp: seal credential: session id must be 32 lower-case hex characters")
	}
	if err := checkPublicKey(scope.BuyerKey); err != nil {
		return "", fmt.Errorf("anp: seal credential: buyer session key: %w", err)
	}
	d, err := NormalizeDomain(scope.Domain)
	if err != nil {
		return "", fmt.Errorf("anp: seal credential: %w", err)
	}
	if err := ValidateCredential(credential); err != nil {
		return "", fmt.Errorf("anp: seal credential for %s: %w", d, err)
	}
	msg, err := Canonical(credentialPayload{BuyerKey: scope.BuyerKey, Credential: credential, Domain: d, Session: scope.Session})
	if err != nil {
		return "", fmt.Errorf("anp: seal credential for %s: encoding the payload failed", d)
	}
	defer clear(msg)
	sealed, err := box.SealAnonymous(nil, msg, pub, random)
	if err != nil {
		return "", fmt.Errorf("anp: seal credential for %s: %w", d, err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// parseEncKey decodes a seller's X25519 public key for sealing (parseX25519Key).
func parseEncKey(s string) (*[32]byte, error) {
	return parseX25519Key(s, "seller encryption key")
}

// parseX25519Key decodes an X25519 public key of 64 lower-case hex
// characters and refuses low-order points, to which a sealed box would be
// readable by anyone. what names the key in errors. It is the one check of a
// seller's encryption key: the sealer applies it, and so does
// EndpointRecord.Validate to the enc_key a seller publishes.
func parseX25519Key(s, what string) (*[32]byte, error) {
	b, err := x25519KeyBytes(s, what)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// OpenCredential opens a sealed credential with the seller's key and checks
// that it was sealed for scope — the session, the buyer session key that
// signed the PROPOSE and this seller's domain — and that the credential is
// valid (ValidateCredential). Every failure is an *Error with code refused
// whose message never contains the credential.
func OpenCredential(key *CredentialKey, sealed string, scope CredentialScope) (string, error) {
	if sealed == "" {
		return "", Errorf(CodeRefused, "blind credential is empty")
	}
	if len(sealed) > MaxSealedCredentialLen {
		return "", Errorf(CodeRefused, "blind credential is %d bytes, at most %d allowed", len(sealed), MaxSealedCredentialLen)
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(sealed)
	if err != nil {
		return "", Errorf(CodeRefused, "blind credential is not standard base64")
	}
	plain, ok := box.OpenAnonymous(nil, ct, &key.pub, &key.priv)
	if !ok {
		return "", Errorf(CodeRefused, "blind credential was not sealed to this seller's encryption key or was altered")
	}
	defer clear(plain)
	var p credentialPayload
	if err := DecodeStrict(plain, &p); err != nil {
		return "", Errorf(CodeRefused, "blind credential payload is not the expected JSON object")
	}
	if p.Session != scope.Session {
		return "", Errorf(CodeRefused, "blind credential was sealed for another session")
	}
	if p.BuyerKey != scope.BuyerKey {
		return "", Errorf(CodeRefused, "blind credential was sealed for another buyer session key than the one that signed the PROPOSE")
	}
	if p.Domain != scope.Domain {
		return "", Errorf(CodeRefused, "blind credential was sealed for domain %q, not %q", CleanText(p.Domain, 64), scope.Domain)
	}
	if err := ValidateCredential(p.Credential); err != nil {
		return "", Errorf(CodeRefused, "blind credential: %v", err)
	}
	return p.Credential, nil
}
