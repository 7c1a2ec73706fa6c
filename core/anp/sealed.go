package anp

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealing under the identity key (docs/protocol.md §16): session exports,
// and secrets a buyer keeps at rest such as ephemeral session keys. Both are
//
//	key    = HKDF-SHA256(ikm = identity Ed25519 seed, salt = none, info, 32 bytes)
//	sealed = magic || nonce (24 random bytes) || XChaCha20-Poly1305(key, nonce, plaintext, associated data = magic)
//
// with info "clinch-anp/1 session-export" and magic "CLX1" for an export,
// and info "clinch-anp/1 sealed-secret" 0x00 purpose and magic "CLS1" for a
// secret, so a value sealed for one use never opens as another.

// ErrCorruptExport is returned by OpenExport for any sealed export that does
// not open: tampered, truncated, or sealed under another identity key.
var ErrCorruptExport = errors.New("anp: session export is corrupt or sealed with a different identity key")

// ErrCorruptSecret is returned by OpenSecretBytes for any sealed value that
// does not open: tampered, truncated, or sealed under another identity key
// or purpose.
var ErrCorruptSecret = errors.New("anp: sealed secret is corrupt or sealed with a different identity key or purpose")

// SecretSessionKey is the purpose under which a buyer seals the seed of
// each ephemeral session key at rest.
const SecretSessionKey = "session-key"

const (
	exportMagic = "CLX1"
	secretMagic = "CLS1"

	exportInfo = "clinch-anp/1 session-export"
	secretInfo = "clinch-anp/1 sealed-secret"
)

// SealExport seals a session export under a key derived from the identity
// key. Only OpenExport with the same identity key opens it.
func SealExport(identity ed25519.PrivateKey, plaintext []byte) ([]byte, error) {
	return sealExport(rand.Reader, identity, plaintext)
}

func sealExport(random io.Reader, identity ed25519.PrivateKey, plaintext []byte) ([]byte, error) {
	return sealUnder(random, identity, exportInfo, exportMagic, plaintext)
}

// OpenExport opens a value made by SealExport with the same identity key.
// Any change to any byte, truncation, or another key gives ErrCorruptExport
// and no plaintext.
func OpenExport(identity ed25519.PrivateKey, sealed []byte) ([]byte, error) {
	return openUnder(identity, exportInfo, exportMagic, sealed, ErrCorruptExport)
}

// SealSecretBytes seals a secret at rest (such as an ephemeral session key,
// purpose SecretSessionKey) under a key derived from the identity key and
// purpose. A value sealed for one purpose does not open for another.
// purpose must be non-empty and must not contain NUL.
func SealSecretBytes(identity ed25519.PrivateKey, purpose string, b []byte) ([]byte, error) {
	return sealSecretBytes(rand.Reader, identity, purpose, b)
}

func sealSecretBytes(random io.Reader, identity ed25519.PrivateKey, purpose string, b []byte) ([]byte, error) {
	info, err := secretPurposeInfo(purpose)
	if err != nil {
		return nil, err
	}
	return sealUnder(random, identity, info, secretMagic, b)
}

// OpenSecretBytes opens a value made by SealSecretBytes with the same
// identity key and purpose, or returns ErrCorruptSecret.
func OpenSecretBytes(identity ed25519.PrivateKey, purpose string, sealed []byte) ([]byte, error) {
	info, err := secretPurposeInfo(purpose)
	if err != nil {
		return nil, err
	}
	return openUnder(identity, info, secretMagic, sealed, ErrCorruptSecret)
}

func secretPurposeInfo(purpose string) (string, error) {
	if purpose == "" || strings.IndexByte(purpose, 0) >= 0 {
		return "", fmt.Errorf("anp: sealing purpose must be non-empty text without NUL bytes")
	}
	return secretInfo + "\x00" + purpose, nil
}

func sealUnder(random io.Reader, identity ed25519.PrivateKey, info, magic string, plaintext []byte) ([]byte, error) {
	aead, err := identityAEAD(identity, info)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(magic)+aead.NonceSize(), len(magic)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, magic)
	nonce := out[len(magic):]
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("anp: seal: random nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, []byte(magic)), nil
}

func openUnder(identity ed25519.PrivateKey, info, magic string, sealed []byte, corrupt error) ([]byte, error) {
	aead, err := identityAEAD(identity, info)
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

// identityAEAD derives the XChaCha20-Poly1305 cipher for info from the
// identity seed.
func identityAEAD(identity ed25519.PrivateKey, info string) (cipher.AEAD, error) {
	if len(identity) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("anp: identity key is %d bytes, want %d", len(identity), ed25519.PrivateKeySize)
	}
	key, err := hkdf.Key(sha256.New, identity.Seed(), nil, info, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("anp: derive sealing key: %w", err)
	}
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("anp: sealing cipher: %w", err)
	}
	return aead, nil
}
