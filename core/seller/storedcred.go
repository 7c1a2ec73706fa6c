package seller

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// An opened blind credential is kept in a stored session sealed (AES-256-GCM)
// under a key derived from the node's identity, bound to the domain and
// session: whoever reads the store alone learns nothing of it, and a sealed
// credential moved to another session does not open.

// credSealer seals and opens stored credentials.
type credSealer struct{ aead cipher.AEAD }

func newCredSealer(identity ed25519.PrivateKey) credSealer {
	k := sha256.Sum256(append([]byte("clinch seller stored credential v1\x00"), identity.Seed()...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return credSealer{aead}
}

// seal returns the stored form of credential cred of session id ("" stays "").
func (c credSealer) seal(domain, id, cred string) (string, error) {
	if cred == "" {
		return "", nil
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seller: seal stored credential: %w", err)
	}
	out := c.aead.Seal(nonce, nonce, []byte(cred), []byte(domain+"/"+id))
	return base64.RawStdEncoding.EncodeToString(out), nil
}

// open returns the credential sealed in s for session id.
func (c credSealer) open(domain, id, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(raw) < c.aead.NonceSize() {
		return "", fmt.Errorf("%w: session %s: the sealed credential is not base64 of a sealed box", ErrStoredSession, id)
	}
	cred, err := c.aead.Open(nil, raw[:c.aead.NonceSize()], raw[c.aead.NonceSize():], []byte(domain+"/"+id))
	if err != nil {
		return "", fmt.Errorf("%w: session %s: the sealed credential does not open under this node's key", ErrStoredSession, id)
	}
	return string(cred), nil
}
