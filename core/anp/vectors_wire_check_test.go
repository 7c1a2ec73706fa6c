package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/gowebpki/jcs"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestCleanTextVectors(t *testing.T) {
	var f struct {
		Description string            `json:"description"`
		Vectors     []cleanTextVector `json:"vectors"`
	}
	readVector(t, "clean_text.json", &f)
	if len(f.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		in, err := hex.DecodeString(v.InputHex)
		if err != nil {
			t.Fatalf("%s: input_hex: %v", v.Description, err)
		}
		if got := anp.CleanText(string(in), v.MaxBytes); got != v.Output {
			t.Errorf("%s: CleanText(%q, %d) = %q, file %q", v.Description, in, v.MaxBytes, got, v.Output)
		}
	}
}

// credentialPrivate derives a seller's X25519 private key from its Ed25519
// seed as the protocol writes it, independently of the package.
func credentialPrivate(tb testing.TB, seed []byte) [32]byte {
	tb.Helper()
	k, err := hkdf.Key(sha256.New, seed, nil, "clinch-anp/1 blind-credential x25519", 32)
	if err != nil {
		tb.Fatal(err)
	}
	var priv [32]byte
	copy(priv[:], k)
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	return priv
}

// sealNonce is the nonce of an anonymous nacl/box: BLAKE2b-192 of the
// ephemeral public key followed by the recipient's public key.
func sealNonce(tb testing.TB, ephPub, recipient []byte) []byte {
	tb.Helper()
	h, err := blake2b.New(24, nil)
	if err != nil {
		tb.Fatal(err)
	}
	h.Write(ephPub)
	h.Write(recipient)
	return h.Sum(nil)
}

// TestCredentialVector checks credential.json from its own fields, as
// another implementation would, and then with the package.
func TestCredentialVector(t *testing.T) {
	var v credentialVector
	readVector(t, "credential.json", &v)
	seed := mustHex(t, "seller_identity_seed", v.SellerIdentitySeed)
	priv := credentialPrivate(t, seed)
	if hex.EncodeToString(priv[:]) != v.X25519Private {
		t.Fatalf("x25519_private: derived %x, file %s", priv, v.X25519Private)
	}
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil || hex.EncodeToString(pub) != v.EncKey {
		t.Fatalf("enc_key: derived %x (%v), file %s", pub, err, v.EncKey)
	}
	ephPub, err := curve25519.X25519(mustHex(t, "ephemeral_private", v.EphemeralPrivate), curve25519.Basepoint)
	if err != nil || hex.EncodeToString(ephPub) != v.EphemeralPublic {
		t.Fatalf("ephemeral_public: derived %x (%v), file %s", ephPub, err, v.EphemeralPublic)
	}
	if n := sealNonce(t, ephPub, pub); hex.EncodeToString(n) != v.Nonce {
		t.Fatalf("nonce: derived %x, file %s", n, v.Nonce)
	}
	canon, err := jcs.Transform([]byte(v.Payload))
	if err != nil || string(canon) != v.Payload {
		t.Fatalf("payload is not JCS: %v", err)
	}
	if want := mustCanonical(t, map[string]string{"buyer_key": v.BuyerKey, "credential": v.Credential, "domain": v.Domain, "session": v.Session}); string(want) != v.Payload {
		t.Fatalf("payload %s is not JCS of the buyer key, credential, domain and session", v.Payload)
	}
	ct, err := base64.StdEncoding.DecodeString(v.Sealed)
	if err != nil || len(ct) < 32 || !bytes.Equal(ct[:32], ephPub) {
		t.Fatalf("sealed does not start with the ephemeral public key: %v", err)
	}
	// The box itself: XSalsa20-Poly1305 between the ephemeral and the seller key.
	var nonce [24]byte
	copy(nonce[:], sealNonce(t, ephPub, pub))
	plain, ok := box.Open(nil, ct[32:], &nonce, (*[32]byte)(ephPub), &priv)
	if !ok || string(plain) != v.Payload {
		t.Fatalf("the box does not open to the payload (ok=%v)", ok)
	}
	if len(v.Sealed) > v.MaxSealedLen || len(v.Credential) > v.MaxCredentialLen ||
		v.MaxCredentialLen != anp.MaxCredentialLen || v.MaxSealedLen != anp.MaxSealedCredentialLen {
		t.Fatalf("limits: file %d/%d, package %d/%d", v.MaxCredentialLen, v.MaxSealedLen, anp.MaxCredentialLen, anp.MaxSealedCredentialLen)
	}

	// The package agrees.
	k, err := anp.DeriveCredentialKey(ed25519.NewKeyFromSeed(seed))
	if err != nil || k.PublicHex() != v.EncKey {
		t.Fatalf("DeriveCredentialKey: %v", err)
	}
	if got, err := anp.OpenCredential(k, v.Sealed, anp.CredentialScope{Session: v.Session, BuyerKey: v.BuyerKey, Domain: v.Domain}); err != nil || got != v.Credential {
		t.Fatalf("OpenCredential = %q, %v", got, err)
	}
	if len(v.Refused) < 5 {
		t.Fatalf("only %d refused vectors", len(v.Refused))
	}
	for _, r := range v.Refused {
		got, err := anp.OpenCredential(k, r.Sealed, r.scope())
		if r.Expect != string(anp.CodeRefused) || anp.CodeOf(err) != anp.CodeRefused {
			t.Errorf("%s: OpenCredential = %q, %v; want refused", r.Description, got, err)
		}
	}
}

func mustHex(tb testing.TB, field, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("%s: %v", field, err)
	}
	return b
}

// openSealedVector opens sealed as the protocol writes it, independently of
// the package: the magic, then XChaCha20-Poly1305 under the key derived
// from the seed with the file's HKDF info.
func openSealedVector(t *testing.T, v sealedVector, sealed []byte) ([]byte, bool) {
	t.Helper()
	key, err := hkdf.Key(sha256.New, mustHex(t, "identity_seed", v.IdentitySeed), nil, v.HKDFInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	head := len(v.Magic) + aead.NonceSize()
	if len(sealed) < head+aead.Overhead() || string(sealed[:len(v.Magic)]) != v.Magic {
		return nil, false
	}
	plain, err := aead.Open(nil, sealed[len(v.Magic):head], sealed[head:], []byte(v.Magic))
	return plain, err == nil
}

func TestSealedVectors(t *testing.T) {
	for _, tc := range []struct {
		file, info string
		open       func(id ed25519.PrivateKey, sealed []byte) ([]byte, error)
		corrupt    error
		expect     string
	}{
		{"export.json", "clinch-anp/1 session-export", anp.OpenExport, anp.ErrCorruptExport, "corrupt_export"},
		{"session_key.json", "clinch-anp/1 sealed-secret\x00session-key", func(id ed25519.PrivateKey, sealed []byte) ([]byte, error) {
			return anp.OpenSecretBytes(id, anp.SecretSessionKey, sealed)
		}, anp.ErrCorruptSecret, "corrupt_secret"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var v sealedVector
			readVector(t, tc.file, &v)
			if v.HKDFInfo != tc.info {
				t.Fatalf("hkdf_info %q, want %q", v.HKDFInfo, tc.info)
			}
			seed := mustHex(t, "identity_seed", v.IdentitySeed)
			key, err := hkdf.Key(sha256.New, seed, nil, v.HKDFInfo, 32)
			if err != nil || hex.EncodeToString(key) != v.Key {
				t.Fatalf("key: derived %x (%v), file %s", key, err, v.Key)
			}
			sealed := mustHex(t, "sealed_hex", v.SealedHex)
			if string(sealed[:4]) != v.Magic || hex.EncodeToString(sealed[4:28]) != v.Nonce {
				t.Fatal("sealed does not start with magic || nonce")
			}
			plain, ok := openSealedVector(t, v, sealed)
			if !ok || hex.EncodeToString(plain) != v.PlaintextHex {
				t.Fatalf("independent open: ok=%v, plaintext %x", ok, plain)
			}
			id := ed25519.NewKeyFromSeed(seed)
			if got, err := tc.open(id, sealed); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("package open: %x, %v", got, err)
			}
			if len(v.Refused) < 8 {
				t.Fatalf("only %d refused vectors", len(v.Refused))
			}
			for _, r := range v.Refused {
				bad := mustHex(t, r.Description, r.SealedHex)
				if got, ok := openSealedVector(t, v, bad); ok {
					t.Errorf("%s: opens independently to %x", r.Description, got)
				}
				if r.Expect != tc.expect {
					t.Errorf("%s: expect %q, want %q", r.Description, r.Expect, tc.expect)
				}
				if got, err := tc.open(id, bad); !errors.Is(err, tc.corrupt) || got != nil {
					t.Errorf("%s: package open = %x, %v", r.Description, got, err)
				}
			}
		})
	}
}
