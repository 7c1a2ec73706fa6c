package secrets

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func mustIdentity(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealExportRoundTrip(t *testing.T) {
	id := mustIdentity(t)
	for _, plain := range [][]byte{nil, {}, []byte("x"), []byte(`{"sessions":[{"id":"a","key":"secret"}]}`), bytes.Repeat([]byte{0xA5}, 70_000)} {
		sealed, err := SealExport(id, plain)
		if err != nil {
			t.Fatal(err)
		}
		if string(sealed[:4]) != "CLX1" || len(sealed) != 4+24+len(plain)+16 {
			t.Fatalf("sealed form is %d bytes starting %q", len(sealed), sealed[:4])
		}
		if len(plain) > 8 && bytes.Contains(sealed, plain[:8]) {
			t.Fatal("plaintext visible in the sealed export")
		}
		got, err := OpenExport(id, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("opened %d bytes, want %d", len(got), len(plain))
		}
	}
	a, _ := SealExport(id, []byte("same"))
	b, _ := SealExport(id, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce not random")
	}
}

// TestSealExportFollowsTheSpec opens a sealed export with a key derived here,
// independently, from the documented construction.
func TestSealExportFollowsTheSpec(t *testing.T) {
	id := mustIdentity(t)
	plain := []byte("session export v1")
	sealed, err := SealExport(id, plain)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Key(sha256.New, id.Seed(), nil, "clinch-anp/1 session-export", 32)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.Open(nil, sealed[4:28], sealed[28:], []byte("CLX1"))
	if err != nil {
		t.Fatalf("independent derivation cannot open the export: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("independent open gives other bytes")
	}
}

func TestOpenExportRejectsEveryTamper(t *testing.T) {
	id := mustIdentity(t)
	plain := []byte(`{"s":"k"}`)
	sealed, err := SealExport(id, plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(sealed)
			bad[i] ^= flip
			got, err := OpenExport(id, bad)
			if !errors.Is(err, ErrCorruptExport) || got != nil {
				t.Fatalf("byte %d ^ %#x: got %q, %v", i, flip, got, err)
			}
		}
	}
	for n := 0; n < len(sealed); n++ {
		if got, err := OpenExport(id, sealed[:n]); !errors.Is(err, ErrCorruptExport) || got != nil {
			t.Fatalf("truncated to %d bytes: got %q, %v", n, got, err)
		}
	}
	if _, err := OpenExport(id, append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrCorruptExport) {
		t.Fatalf("extended: %v", err)
	}
	if _, err := OpenExport(mustIdentity(t), sealed); !errors.Is(err, ErrCorruptExport) {
		t.Fatalf("wrong key: %v", err)
	}
	if want := "session export is corrupt or sealed with a different identity key"; !bytes.Contains([]byte(ErrCorruptExport.Error()), []byte(want)) {
		t.Fatalf("error text %q", ErrCorruptExport)
	}
	// Still opens untouched.
	if got, err := OpenExport(id, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("original no longer opens: %v", err)
	}
}

func TestSealRejectsBadIdentity(t *testing.T) {
	id := mustIdentity(t)
	for _, k := range []ed25519.PrivateKey{nil, id[:32], append(bytes.Clone(id), 0)} {
		if _, err := SealExport(k, []byte("x")); err == nil {
			t.Fatalf("sealed with a %d-byte key", len(k))
		}
		if _, err := OpenExport(k, []byte("CLX1")); err == nil || errors.Is(err, ErrCorruptExport) {
			t.Fatalf("open with a %d-byte key: %v", len(k), err)
		}
	}
}

func TestSealSecretBytes(t *testing.T) {
	id := mustIdentity(t)
	secret := bytes.Repeat([]byte{7}, 64)
	sealed, err := SealSecretBytes(id, "session-key", secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(sealed[:4]) != "CLS1" {
		t.Fatalf("magic %q", sealed[:4])
	}
	got, err := OpenSecretBytes(id, "session-key", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip: %v", err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"other purpose":  func() ([]byte, error) { return OpenSecretBytes(id, "session-key2", sealed) },
		"other identity": func() ([]byte, error) { return OpenSecretBytes(mustIdentity(t), "session-key", sealed) },
		"prefix purpose": func() ([]byte, error) { return OpenSecretBytes(id, "session", sealed) },
		"tampered": func() ([]byte, error) {
			b := bytes.Clone(sealed)
			b[len(b)-1] ^= 1
			return OpenSecretBytes(id, "session-key", b)
		},
		"export of bytes": func() ([]byte, error) { return OpenSecretBytes(id, "session-key", mustSealExport(t, id, secret)) },
	} {
		if got, err := open(); !errors.Is(err, ErrCorruptSecret) || got != nil {
			t.Errorf("%s: got %v, %v", name, got, err)
		}
	}
	// A sealed secret is not an export, even with the magic swapped.
	swapped := append([]byte("CLX1"), sealed[4:]...)
	if _, err := OpenExport(id, swapped); !errors.Is(err, ErrCorruptExport) {
		t.Fatalf("sealed secret opened as an export: %v", err)
	}
	for _, p := range []string{"", "a\x00b"} {
		if _, err := SealSecretBytes(id, p, secret); err == nil {
			t.Errorf("purpose %q accepted", p)
		}
		if _, err := OpenSecretBytes(id, p, sealed); err == nil {
			t.Errorf("purpose %q accepted on open", p)
		}
	}
}

func mustSealExport(t *testing.T, id ed25519.PrivateKey, b []byte) []byte {
	t.Helper()
	s, err := SealExport(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
