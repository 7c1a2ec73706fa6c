package seller

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestDeriveBoxKey(t *testing.T) {
	pub, priv := DeriveBoxKey(sellerKey)
	pub2, priv2 := DeriveBoxKey(ed25519.NewKeyFromSeed(sellerKey.Seed()))
	if *pub != *pub2 || *priv != *priv2 {
		t.Fatal("derivation is not deterministic")
	}
	if priv[0]&7 != 0 || priv[31]&128 != 0 || priv[31]&64 == 0 {
		t.Fatalf("private key is not clamped: %x", priv[:])
	}
	want, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil || !bytes.Equal(want, pub[:]) {
		t.Fatalf("public key is not X25519(priv, basepoint): %v", err)
	}
	_, other := DeriveBoxKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)))
	if *other == *priv {
		t.Fatal("different identities derive the same key")
	}
	n, err := NewNode(Config{Domain: testDomain, Identity: sellerKey, Policy: linearPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if n.EncryptionKey() != BoxKeyHex(pub) || len(n.EncryptionKey()) != 64 {
		t.Fatalf("EncryptionKey %q", n.EncryptionKey())
	}
	// A buyer that seals with the published hex key reaches the derived private key.
	sealed := sealCredential(t, pub, strings.Repeat("ab", 16), testDomain, "c")
	ct, _ := base64.StdEncoding.DecodeString(sealed)
	if _, ok := box.OpenAnonymous(nil, ct, pub, priv); !ok {
		t.Fatal("box does not open with the derived pair")
	}
}

func TestOpenCredential(t *testing.T) {
	pub, priv := DeriveBoxKey(sellerKey)
	otherPub, _ := DeriveBoxKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))
	session := anp.NewSessionID()
	const secret = "ACCT-99812"
	seal := func(payload []byte, to *[32]byte) string {
		ct, err := box.SealAnonymous(nil, payload, to, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	valid := sealCredential(t, pub, session, testDomain, secret)
	tampered := []byte(valid)
	if tampered[40] == 'A' {
		tampered[40] = 'B'
	} else {
		tampered[40] = 'A'
	}

	cases := []struct {
		name   string
		sealed string
		msg    string
	}{
		{"other session", sealCredential(t, pub, anp.NewSessionID(), testDomain, secret), "another session"},
		{"other domain", sealCredential(t, pub, session, "other-shop.anp", secret), `domain "other-shop.anp"`},
		{"sealed to another seller", sealCredential(t, otherPub, session, testDomain, secret), "not sealed to this seller"},
		{"tampered", string(tampered), "or was altered"},
		{"not base64", "%%%not-base64%%%", "base64"},
		{"url-safe base64", strings.NewReplacer("+", "-", "/", "_").Replace(valid) + "-_", "base64"},
		{"empty", "", "empty"},
		{"too long", strings.Repeat("A", 5000), "at most"},
		{"unknown payload field", seal([]byte(`{"credential":"x","domain":"kitchen-outlet.anp","session":"`+session+`","tier":"gold"}`), pub), "expected JSON"},
		{"not JSON", seal([]byte("ACCT-99812"), pub), "expected JSON"},
		{"empty credential", sealCredential(t, pub, session, testDomain, ""), "empty"},
		{"too short for a box", base64.StdEncoding.EncodeToString([]byte("short")), "not sealed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OpenCredential(priv, pub, tc.sealed, session, testDomain)
			if err == nil || anp.CodeOf(err) != anp.CodeRefused {
				t.Fatalf("OpenCredential = %q, %v; want refused", got, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q: want %q and no credential", err, tc.msg)
			}
		})
	}
	got, err := OpenCredential(priv, pub, valid, session, testDomain)
	if err != nil || got != secret {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}
