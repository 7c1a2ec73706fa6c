package seller

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Blind credentials.
//
// A buyer may hold a per-domain credential (a membership number, a B2B
// account code) that only the seller should read: not the buyer's model, not
// the registry. The buyer seals it to the seller's X25519 public key, which
// the seller publishes hex-encoded as EndpointRecord.EncKey:
//
//	payload = JCS({"credential": C, "domain": D, "session": S})   (RFC 8785 bytes, keys sorted)
//	sealed  = base64.StdEncoding(nacl/box.SealAnonymous(payload, sellerPub))
//
// and sends sealed as ProposeBody.Credential. D is the seller domain the
// credential is for and S the session id of the PROPOSE, so a sealed
// credential cannot be replayed into another session or to another seller.
//
// The seller's X25519 key pair is derived from its Ed25519 identity seed:
//
//	priv = clamp(HKDF-SHA256(ikm = seed, salt = nil, info = "clinch-anp/1 blind-credential x25519", 32 bytes))
//	pub  = X25519(priv, basepoint)
//
// so it needs no storage of its own and changes only with the identity key.

// boxKeyInfo is the HKDF info string of the blind-credential key.
const boxKeyInfo = "clinch-anp/1 blind-credential x25519"

// maxSealedLen bounds the base64 text of a sealed credential.
const maxSealedLen = 4096

// credentialPayload is the sealed JSON object.
type credentialPayload struct {
	Session    string `json:"session"`
	Domain     string `json:"domain"`
	Credential string `json:"credential"`
}

// DeriveBoxKey derives the node's X25519 key pair for blind credentials
// from its Ed25519 identity. identity must be a full 64-byte private key;
// DeriveBoxKey panics otherwise (NewNode checks the length first).
func DeriveBoxKey(identity ed25519.PrivateKey) (pub, priv *[32]byte) {
	if len(identity) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("seller: DeriveBoxKey needs a %d-byte Ed25519 private key, got %d bytes", ed25519.PrivateKeySize, len(identity)))
	}
	k, err := hkdf.Key(sha256.New, identity.Seed(), nil, boxKeyInfo, 32)
	if err != nil {
		panic("seller: hkdf: " + err.Error()) // only for lengths hkdf cannot produce
	}
	priv = new([32]byte)
	copy(priv[:], k)
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		panic("seller: x25519: " + err.Error()) // a clamped scalar never yields the zero point
	}
	pub = new([32]byte)
	copy(pub[:], p)
	return pub, priv
}

// BoxKeyHex returns the hex text of an X25519 public key, as published in
// EndpointRecord.EncKey.
func BoxKeyHex(pub *[32]byte) string { return hex.EncodeToString(pub[:]) }

// OpenCredential opens a sealed credential with the node's key pair and
// checks that it was sealed for session and domain. Every failure is an
// *anp.Error with code refused whose message never contains the credential.
func OpenCredential(priv, pub *[32]byte, sealed, session, domain string) (string, error) {
	if sealed == "" {
		return "", anp.Errorf(anp.CodeRefused, "blind credential is empty")
	}
	if len(sealed) > maxSealedLen {
		return "", anp.Errorf(anp.CodeRefused, "blind credential is %d bytes, at most %d allowed", len(sealed), maxSealedLen)
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(sealed)
	if err != nil {
		return "", anp.Errorf(anp.CodeRefused, "blind credential is not standard base64")
	}
	plain, ok := box.OpenAnonymous(nil, ct, pub, priv)
	if !ok {
		return "", anp.Errorf(anp.CodeRefused, "blind credential was not sealed to this seller's encryption key or was altered")
	}
	var p credentialPayload
	if err := anp.DecodeStrict(plain, &p); err != nil {
		return "", anp.Errorf(anp.CodeRefused, "blind credential payload is not the expected JSON object")
	}
	if p.Session != session {
		return "", anp.Errorf(anp.CodeRefused, "blind credential was sealed for another session")
	}
	if p.Domain != domain {
		return "", anp.Errorf(anp.CodeRefused, "blind credential was sealed for domain %q, not %q", truncate(p.Domain, 64), domain)
	}
	if p.Credential == "" {
		return "", anp.Errorf(anp.CodeRefused, "blind credential is empty")
	}
	return p.Credential, nil
}

// truncate cuts s to at most n bytes for use in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
