package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// MaxCredentialBytes bounds one blind credential so that its sealed form
// always fits the 4096-byte credential field of a PROPOSE body. Credentials
// must also be at least MinSecretLen bytes, printable UTF-8 without control
// characters.
const MaxCredentialBytes = 1024

// sealedCredential is the plaintext of a sealed blind credential. Its JCS
// bytes are what the seller opens.
type sealedCredential struct {
	Credential string `json:"credential"`
	Domain     string `json:"domain"`
	Session    string `json:"session"`
}

// SealCredential seals a blind credential for one session with one seller:
// nacl/box.SealAnonymous to the seller's X25519 public key (64 lower-case
// hex characters, the enc_key of its endpoint record) over the JCS bytes of
// {"credential":..,"domain":..,"session":..}, returned as standard base64.
// Only the seller's private key opens it; binding the domain and session
// stops the sealed value from being replayed to another seller or session.
func SealCredential(sellerEncKeyHex, session, domain, credential string) (string, error) {
	pub, err := parseEncKey(sellerEncKeyHex)
	if err != nil {
		return "", err
	}
	if !anp.ValidSessionID(session) {
		return "", fmt.Errorf("secrets: seal credential: session id must be 32 lower-case hex characters")
	}
	d, err := anp.NormalizeDomain(domain)
	if err != nil {
		return "", fmt.Errorf("secrets: seal credential: %w", err)
	}
	if err := checkCredential(credential); err != nil {
		return "", fmt.Errorf("secrets: seal credential for %s: %w", d, err)
	}
	msg, err := anp.Canonical(sealedCredential{Credential: credential, Domain: d, Session: session})
	if err != nil {
		return "", fmt.Errorf("secrets: seal credential for %s: encode failed", d)
	}
	defer clear(msg)
	sealed, err := box.SealAnonymous(nil, msg, pub, rand.Reader)
	if err != nil {
		return "", fmt.Errorf("secrets: seal credential for %s: %w", d, err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// parseEncKey decodes a seller's X25519 public key and rejects low-order
// points, to which a sealed box would be readable by anyone.
func parseEncKey(s string) (*[32]byte, error) {
	if len(s) != 64 {
		return nil, fmt.Errorf("secrets: seller encryption key must be 64 hex characters, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, fmt.Errorf("secrets: seller encryption key has a character that is not lower-case hex at position %d", i)
		}
	}
	var pub [32]byte
	if err := decodeHexInto(pub[:], s); err != nil {
		return nil, fmt.Errorf("secrets: seller encryption key: %w", err)
	}
	// X25519 with any scalar fails exactly when the point has low order
	// (the shared secret would be all zeros).
	probe := [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if _, err := curve25519.X25519(probe[:], pub[:]); err != nil {
		return nil, fmt.Errorf("secrets: seller encryption key %s… is a low-order point and cannot be sealed to", s[:12])
	}
	return &pub, nil
}

// checkCredential validates a credential without ever echoing it.
func checkCredential(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("credential is empty")
	case len(c) < MinSecretLen:
		return fmt.Errorf("credential is %d bytes, at least %d needed (shorter values cannot be redacted reliably)", len(c), MinSecretLen)
	case len(c) > MaxCredentialBytes:
		return fmt.Errorf("credential is %d bytes, at most %d allowed", len(c), MaxCredentialBytes)
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
