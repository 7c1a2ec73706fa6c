package secrets

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IdentityKeyEnv is the environment variable that may carry the identity
// key as hex (see LoadIdentityHex).
const IdentityKeyEnv = "CLINCH_IDENTITY_KEY"

// GenerateIdentity returns a new random Ed25519 identity key.
func GenerateIdentity() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("secrets: generate identity key: %w", err)
	}
	return key, nil
}

// WriteIdentityFile stores key's 32-byte seed as 64 lower-case hex characters
// and a newline. It creates missing parent directories with mode 0700 and the
// file with mode 0600, and refuses to overwrite an existing file.
func WriteIdentityFile(path string, key ed25519.PrivateKey) error {
	if err := checkPrivateKey(key); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("secrets: create directory for identity file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errExists(err) {
			return fmt.Errorf("secrets: identity file %s already exists; refusing to overwrite it (move it away first if you really mean to replace the key): %w", path, err)
		}
		return fmt.Errorf("secrets: create identity file %s: %w", path, err)
	}
	line := make([]byte, 0, 2*ed25519.SeedSize+1)
	line = hex.AppendEncode(line, key.Seed())
	line = append(line, '\n')
	_, werr := f.Write(line)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	clear(line)
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("secrets: write identity file %s: %w", path, werr)
	}
	return nil
}

// LoadIdentityFile reads an identity key written by WriteIdentityFile (or by
// hand: the hex seed, or the hex seed followed by the hex public key). It
// refuses files that group or others may access.
func LoadIdentityFile(path string) (ed25519.PrivateKey, error) {
	data, err := readPrivateFile(path, "identity file")
	if err != nil {
		return nil, err
	}
	defer clear(data)
	key, err := LoadIdentityHex(string(data))
	if err != nil {
		return nil, fmt.Errorf("secrets: identity file %s: %w", path, err)
	}
	return key, nil
}

// LoadIdentityHex parses an identity key from hex, as found in the
// CLINCH_IDENTITY_KEY environment variable: either the 32-byte seed (64 hex
// characters) or seed and public key (128 hex characters, the layout of
// ed25519.PrivateKey), in either letter case, surrounding whitespace ignored.
// With 128 characters the public half must match the seed. Error messages
// never include the input.
func LoadIdentityHex(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 2 * ed25519.SeedSize, 2 * ed25519.PrivateKeySize:
	default:
		return nil, fmt.Errorf("secrets: identity key must be %d hex characters (seed) or %d (seed and public key), got %d",
			2*ed25519.SeedSize, 2*ed25519.PrivateKeySize, len(s))
	}
	raw := make([]byte, len(s)/2)
	defer clear(raw)
	if err := decodeHexInto(raw, s); err != nil {
		return nil, fmt.Errorf("secrets: identity key: %w", err)
	}
	key := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if len(raw) == ed25519.PrivateKeySize && !bytes.Equal(raw[ed25519.SeedSize:], key[ed25519.SeedSize:]) {
		clear(key)
		return nil, fmt.Errorf("secrets: identity key: the public key half does not belong to the seed")
	}
	return key, nil
}

// Fingerprint returns the first 12 hex characters of a public key: enough to
// tell keys apart in logs, and safe to log.
func Fingerprint(pub ed25519.PublicKey) string {
	h := hex.EncodeToString(pub)
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// checkPrivateKey rejects keys of the wrong length or whose public half does
// not match the seed.
func checkPrivateKey(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("secrets: identity key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(key.Seed())[ed25519.SeedSize:], key[ed25519.SeedSize:]) {
		return fmt.Errorf("secrets: identity key is inconsistent: its public half does not belong to its seed")
	}
	return nil
}

// decodeHexInto decodes hex (either case) into dst, which must be exactly
// len(s)/2 bytes. The error gives the position of a bad character but never
// the character itself.
func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex characters, got %d", 2*len(dst), len(s))
	}
	for i := 0; i < len(dst); i++ {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			pos := 2 * i
			if ok1 {
				pos++
			}
			return fmt.Errorf("character at position %d is not hex", pos)
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
