package secrets

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrCorruptExport is returned by OpenExport for any sealed export that does
// not open: tampered, truncated, or sealed under another identity key.
var ErrCorruptExport = errors.New("secrets: session export is corrupt or sealed with a different identity key")

// ErrCorruptSecret is returned by OpenSecretBytes for any sealed value that
// does not open: tampered, truncated, or sealed under another identity key
// or purpose.
var ErrCorruptSecret = errors.New("secrets: sealed secret is corrupt or sealed with a different identity key or purpose")

// Sealing formats: magic || 24-byte nonce || XChaCha20-Poly1305 ciphertext,
// with the magic as associated data.
const (
	exportMagic = "CLX1"
	secretMagic = "CLS1"

	exportInfo = "clinch-anp/1 session-export"
	secretInfo = "clinch-anp/1 sealed-secret"
)

// SealExport seals a session export under a key derived from the identity
// key: HKDF-SHA256 (ikm = identity seed, no salt, info "clinch-anp/1
// session-export") keys XChaCha20-Poly1305 with a random 24-byte nonce. The
// result is "CLX1" || nonce || ciphertext, with "CLX1" as associated data.
func SealExport(identity ed25519.PrivateKey, plaintext []byte) ([]byte, error) {
	return seal(identity, exportInfo, exportMagic, plaintext)
}

// OpenExport opens a value made by SealExport with the same identity key.
// Any change to any byte, truncation, or another key gives ErrCorruptExport
// and no plaintext.
func OpenExport(identity ed25519.PrivateKey, sealed []byte) ([]byte, error) {
	return open(identity, exportInfo, exportMagic, sealed, ErrCorruptExport)
}

// SealSecretBytes seals a secret at rest (such as an ephemeral session key)
// like SealExport, with purpose mixed into the key derivation (HKDF info
// "clinch-anp/1 sealed-secret" 0x00 purpose) and the magic "CLS1". A value
// sealed for one purpose does not open for another. purpose must be
// non-empty and must not contain NUL.
func SealSecretBytes(identity ed25519.PrivateKey, purpose string, b []byte) ([]byte, error) {
	info, err := secretPurposeInfo(purpose)
	if err != nil {
		return nil, err
	}
	return seal(identity, info, secretMagic, b)
}

// OpenSecretBytes opens a value made by SealSecretBytes with the same
// identity key and purpose, or returns ErrCorruptSecret.
func OpenSecretBytes(identity ed25519.PrivateKey, purpose string, sealed []byte) ([]byte, error) {
	info, err := secretPurposeInfo(purpose)
	if err != nil {
		return nil, err
	}
	return open(identity, info, secretMagic, sealed, ErrCorruptSecret)
}

func secretPurposeInfo(purpose string) (string, error) {
	if purpose == "" || strings.IndexByte(purpose, 0) >= 0 {
		return "", fmt.Errorf("secrets: sealing purpose must be non-empty text without NUL bytes")
	}
	return secretInfo + "\x00" + purpose, nil
}

func seal(identity ed25519.PrivateKey, info, magic string, plaintext []byte) ([]byte, error) {
	aead, err := newAEAD(identity, info)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(magic)+aead.NonceSize(), len(magic)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, magic)
	nonce := out[len(magic):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: seal: random nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, []byte(magic)), nil
}

func open(identity ed25519.PrivateKey, info, magic string, sealed []byte, corrupt error) ([]byte, error) {
	aead, err := newAEAD(identity, info)
	if err != nil {
		return nil, err
	}
	head := len(magic) + aead.NonceSize()
	if len(sealed) < head+aead.Overhead() || !bytes.Equal(sealed[:len(magic)], []byte(magic)) {
		return nil, corrupt
	}
	plain, err := aead.Open(nil, sealed[len(magic):head], sealed[head:], []byte(magic))
	if err != nil {
		return nil, corrupt
	}
	return plain, nil
}

// newAEAD derives the 32-byte XChaCha20-Poly1305 key for info from the
// identity seed.
func newAEAD(identity ed25519.PrivateKey, info string) (cipher.AEAD, error) {
	if len(identity) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("secrets: identity key is %d bytes, want %d", len(identity), ed25519.PrivateKeySize)
	}
	key, err := hkdf.Key(sha256.New, identity.Seed(), nil, info, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("secrets: derive sealing key: %w", err)
	}
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: sealing cipher: %w", err)
	}
	return aead, nil
}
