package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestSealExportRoundTrip(t *testing.T) {
	id := identityKey
	for _, plain := range [][]byte{nil, {}, []byte("x"), []byte(`{"sessions":[{"id":"a","key":"secret"}]}`), bytes.Repeat([]byte{0xA5}, 70_000)} {
		sealed, err := anp.SealExport(id, plain)
		if err != nil {
			t.Fatal(err)
		}
		if string(sealed[:4]) != "CLX1" || len(sealed) != 4+24+len(plain)+16 {
			t.Fatalf("sealed form is %d bytes starting %q", len(sealed), sealed[:4])
		}
		if len(plain) > 8 && bytes.Contains(sealed, plain[:8]) {
			t.Fatal("plaintext visible in the sealed export")
		}
		got, err := anp.OpenExport(id, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("opened %d bytes, want %d", len(got), len(plain))
		}
	}
	a, _ := anp.SealExport(id, []byte("same"))
	b, _ := anp.SealExport(id, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce not random")
	}
}

func TestOpenExportRejectsEveryTamper(t *testing.T) {
	id := identityKey
	plain := []byte(`{"s":"k"}`)
	sealed, err := anp.SealExport(id, plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(sealed)
			bad[i] ^= flip
			got, err := anp.OpenExport(id, bad)
			if !errors.Is(err, anp.ErrCorruptExport) || got != nil {
				t.Fatalf("byte %d ^ %#x: got %q, %v", i, flip, got, err)
			}
		}
	}
	for n := 0; n < len(sealed); n++ {
		if got, err := anp.OpenExport(id, sealed[:n]); !errors.Is(err, anp.ErrCorruptExport) || got != nil {
			t.Fatalf("truncated to %d bytes: got %q, %v", n, got, err)
		}
	}
	if _, err := anp.OpenExport(id, append(bytes.Clone(sealed), 0)); !errors.Is(err, anp.ErrCorruptExport) {
		t.Fatalf("extended: %v", err)
	}
	if _, err := anp.OpenExport(strangerKey, sealed); !errors.Is(err, anp.ErrCorruptExport) {
		t.Fatalf("wrong key: %v", err)
	}
	if want := "session export is corrupt or sealed with a different identity key"; !bytes.Contains([]byte(anp.ErrCorruptExport.Error()), []byte(want)) {
		t.Fatalf("error text %q", anp.ErrCorruptExport)
	}
	// Still opens untouched.
	if got, err := anp.OpenExport(id, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("original no longer opens: %v", err)
	}
}

func TestSealRejectsBadIdentity(t *testing.T) {
	id := identityKey
	for _, k := range []ed25519.PrivateKey{nil, id[:32], append(bytes.Clone(id), 0)} {
		if _, err := anp.SealExport(k, []byte("x")); err == nil {
			t.Fatalf("sealed with a %d-byte key", len(k))
		}
		if _, err := anp.OpenExport(k, []byte("CLX1")); err == nil || errors.Is(err, anp.ErrCorruptExport) {
			t.Fatalf("open with a %d-byte key: %v", len(k), err)
		}
	}
}

func TestSealSecretBytes(t *testing.T) {
	id := identityKey
	secret := bytes.Repeat([]byte{7}, 64)
	sealed, err := anp.SealSecretBytes(id, anp.SecretSessionKey, secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(sealed[:4]) != "CLS1" {
		t.Fatalf("magic %q", sealed[:4])
	}
	got, err := anp.OpenSecretBytes(id, anp.SecretSessionKey, sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip: %v", err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"other purpose":  func() ([]byte, error) { return anp.OpenSecretBytes(id, "session-key2", sealed) },
		"other identity": func() ([]byte, error) { return anp.OpenSecretBytes(strangerKey, anp.SecretSessionKey, sealed) },
		"prefix purpose": func() ([]byte, error) { return anp.OpenSecretBytes(id, "session", sealed) },
		"tampered": func() ([]byte, error) {
			b := bytes.Clone(sealed)
			b[len(b)-1] ^= 1
			return anp.OpenSecretBytes(id, anp.SecretSessionKey, b)
		},
		"export of bytes": func() ([]byte, error) {
			return anp.OpenSecretBytes(id, anp.SecretSessionKey, mustSealExport(t, id, secret))
		},
	} {
		if got, err := open(); !errors.Is(err, anp.ErrCorruptSecret) || got != nil {
			t.Errorf("%s: got %v, %v", name, got, err)
		}
	}
	// A sealed secret is not an export, even with the magic swapped.
	swapped := append([]byte("CLX1"), sealed[4:]...)
	if _, err := anp.OpenExport(id, swapped); !errors.Is(err, anp.ErrCorruptExport) {
		t.Fatalf("sealed secret opened as an export: %v", err)
	}
	for _, p := range []string{"", "a\x00b"} {
		if _, err := anp.SealSecretBytes(id, p, secret); err == nil {
			t.Errorf("purpose %q accepted", p)
		}
		if _, err := anp.OpenSecretBytes(id, p, sealed); err == nil {
			t.Errorf("purpose %q accepted on open", p)
		}
	}
}

func mustSealExport(t *testing.T, id ed25519.PrivateKey, b []byte) []byte {
	t.Helper()
	s, err := anp.SealExport(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
