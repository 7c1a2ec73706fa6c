package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func mustCredentialKey(tb testing.TB, identity ed25519.PrivateKey) *anp.CredentialKey {
	tb.Helper()
	k, err := anp.DeriveCredentialKey(identity)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// encKeyBytes decodes a published encryption key for raw nacl/box use.
func encKeyBytes(tb testing.TB, k *anp.CredentialKey) *[32]byte {
	tb.Helper()
	b, err := hex.DecodeString(k.PublicHex())
	if err != nil || len(b) != 32 {
		tb.Fatalf("PublicHex %q", k.PublicHex())
	}
	return (*[32]byte)(b)
}

// sealRaw seals any payload to k with nacl/box directly, bypassing the
// checks of SealCredential.
func sealRaw(tb testing.TB, k *anp.CredentialKey, payload []byte) string {
	tb.Helper()
	ct, err := box.SealAnonymous(nil, payload, encKeyBytes(tb, k), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// scopeOf is the scope of a credential for session at domain, opened by the
// buyer session key of the fixtures.
func scopeOf(session, domain string) anp.CredentialScope {
	return anp.CredentialScope{Session: session, BuyerKey: pub(buyerKey), Domain: domain}
}

func mustSealCredential(tb testing.TB, k *anp.CredentialKey, session, domain, credential string) string {
	tb.Helper()
	s, err := anp.SealCredential(k.PublicHex(), scopeOf(session, domain), credential)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestDeriveCredentialKey(t *testing.T) {
	k := mustCredentialKey(t, sellerKey)
	if again := mustCredentialKey(t, ed25519.NewKeyFromSeed(sellerKey.Seed())); again.PublicHex() != k.PublicHex() {
		t.Fatal("derivation is not deterministic")
	}
	if other := mustCredentialKey(t, strangerKey); other.PublicHex() == k.PublicHex() {
		t.Fatal("different identities derive the same key")
	}
	// The public key is X25519 of the documented private key.
	priv := credentialPrivate(t, sellerKey.Seed())
	want, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil || hex.EncodeToString(want) != k.PublicHex() {
		t.Fatalf("public key %s is not X25519(clamp(HKDF(seed)), basepoint): %v", k.PublicHex(), err)
	}
	for _, bad := range []ed25519.PrivateKey{nil, sellerKey[:32], append(bytes.Clone(sellerKey), 0)} {
		if _, err := anp.DeriveCredentialKey(bad); err == nil || !strings.Contains(err.Error(), "identity key is") {
			t.Fatalf("%d-byte identity: %v", len(bad), err)
		}
	}
	// Formatting shows the public half only.
	privHex := hex.EncodeToString(priv[:])
	for _, out := range []string{fmt.Sprint(k), fmt.Sprint(*k), fmt.Sprintf("%+v", *k), fmt.Sprintf("%#v", k), fmt.Sprintf("%#v", *k), fmt.Sprintf("%v", []any{k})} {
		if !strings.Contains(out, k.PublicHex()) || strings.Contains(out, privHex) || strings.Contains(out, fmt.Sprint(priv[0:4])) {
			t.Fatalf("formatted key %q", out)
		}
	}
}

func TestSealCredentialRoundTrip(t *testing.T) {
	k := mustCredentialKey(t, sellerKey)
	const cred = `cred "outlet" \ 88b1d é`
	for _, tc := range []struct{ asked, domain string }{
		{sellerDomain, sellerDomain},
		{"Kitchen-OUTLET.anp", sellerDomain},
	} {
		sealed := mustSealCredential(t, k, sessionID, tc.asked, cred)
		if strings.Contains(sealed, "outlet") {
			t.Fatal("sealed value shows the credential")
		}
		got, err := anp.OpenCredential(k, sealed, scopeOf(sessionID, tc.domain))
		if err != nil || got != cred {
			t.Fatalf("%s: OpenCredential = %q, %v", tc.asked, got, err)
		}
	}
	// Each seal uses a fresh ephemeral key.
	first, second := mustSealCredential(t, k, sessionID, sellerDomain, cred), mustSealCredential(t, k, sessionID, sellerDomain, cred)
	if first == second {
		t.Fatal("two seals are identical")
	}
}

// TestSealCredentialWorstCase seals the longest payload a valid credential
// can have: it is exactly MaxSealedCredentialLen and fits a PROPOSE.
func TestSealCredentialWorstCase(t *testing.T) {
	k := mustCredentialKey(t, sellerKey)
	domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	for _, cred := range []string{strings.Repeat(`"`, anp.MaxCredentialLen), strings.Repeat(`\`, anp.MaxCredentialLen)} {
		sealed := mustSealCredential(t, k, sessionID, domain, cred)
		if len(sealed) != anp.MaxSealedCredentialLen {
			t.Fatalf("worst case sealed to %d bytes, MaxSealedCredentialLen is %d", len(sealed), anp.MaxSealedCredentialLen)
		}
		body := anp.ProposeBody{Mode: anp.ModeC, Item: "kettle", Quantity: 1, Currency: "USD", Credential: sealed}
		if err := body.Validate(); err != nil {
			t.Fatalf("worst case does not fit a PROPOSE: %v", err)
		}
		if got, err := anp.OpenCredential(k, sealed, scopeOf(sessionID, domain)); err != nil || got != cred {
			t.Fatalf("worst case does not round-trip: %v", err)
		}
	}
	body := anp.ProposeBody{Mode: anp.ModeC, Item: "kettle", Quantity: 1, Currency: "USD", Credential: strings.Repeat("A", anp.MaxSealedCredentialLen+1)}
	if err := body.Validate(); err == nil || !strings.Contains(err.Error(), "credential is") {
		t.Fatalf("oversized credential field: %v", err)
	}
}

func TestValidateCredential(t *testing.T) {
	const secret = "do-not-print-this-credential"
	tests := []struct {
		name, cred string
		ok         bool
	}{
		{"plain", secret, true},
		{"shortest", strings.Repeat("x", anp.MinCredentialLen), true},
		{"longest", strings.Repeat("x", anp.MaxCredentialLen), true},
		{"non-ASCII", "Mitglied-Nr. 4471 ü", true},
		{"empty", "", false},
		{"too short", strings.Repeat("x", anp.MinCredentialLen-1), false},
		{"too long", strings.Repeat("x", anp.MaxCredentialLen+1), false},
		{"newline", secret + "\n", false},
		{"tab", secret + "\t", false},
		{"DEL", secret + "\x7f", false},
		{"invalid UTF-8", secret + "\xff", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := anp.ValidateCredential(tc.cred)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateCredential = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q leaks the credential", err)
			}
		})
	}
}

func TestSealCredentialRejects(t *testing.T) {
	encHex := mustCredentialKey(t, sellerKey).PublicHex()
	const cred = "very-secret-credential"
	var zero [32]byte
	lowOrder := "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800" // a point of order 8
	buyer := pub(buyerKey)
	tests := []struct{ name, key, session, buyerKey, domain, cred, msg string }{
		{"upper-case key", strings.ToUpper(encHex), sessionID, buyer, sellerDomain, cred, "lower-case hex"},
		{"short key", encHex[:62], sessionID, buyer, sellerDomain, cred, "64 hex characters"},
		{"non-hex key", "zz" + encHex[2:], sessionID, buyer, sellerDomain, cred, "lower-case hex"},
		{"zero key", hex.EncodeToString(zero[:]), sessionID, buyer, sellerDomain, cred, "low-order"},
		{"low-order key", lowOrder, sessionID, buyer, sellerDomain, cred, "low-order"},
		{"bad session", encHex, "not-a-session", buyer, sellerDomain, cred, "session id"},
		{"upper-case session", encHex, strings.ToUpper(sessionID), buyer, sellerDomain, cred, "session id"},
		{"no buyer key", encHex, sessionID, "", sellerDomain, cred, "buyer session key"},
		{"upper-case buyer key", encHex, sessionID, strings.ToUpper(buyer), sellerDomain, cred, "buyer session key"},
		{"bad domain", encHex, sessionID, buyer, "shop", cred, "two labels"},
		{"empty credential", encHex, sessionID, buyer, sellerDomain, "", "empty"},
		{"credential with newline", encHex, sessionID, buyer, sellerDomain, cred + "\n", "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := anp.SealCredential(tc.key, anp.CredentialScope{Session: tc.session, BuyerKey: tc.buyerKey, Domain: tc.domain}, tc.cred)
			if err == nil {
				t.Fatalf("sealed: %q", sealed)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), cred) {
				t.Fatalf("error %q: want %q and no credential", err, tc.msg)
			}
		})
	}
}

func TestOpenCredentialRefuses(t *testing.T) {
	k := mustCredentialKey(t, sellerKey)
	other := mustCredentialKey(t, strangerKey)
	const secret = "ACCT-99812"
	payload := func(cred string) []byte {
		return mustCanonical(t, map[string]string{"session": sessionID, "buyer_key": pub(buyerKey), "domain": sellerDomain, "credential": cred})
	}
	valid := mustSealCredential(t, k, sessionID, sellerDomain, secret)
	tampered := []byte(valid)
	if tampered[40] == 'A' {
		tampered[40] = 'B'
	} else {
		tampered[40] = 'A'
	}
	tests := []struct{ name, sealed, msg string }{
		{"other session", mustSealCredential(t, k, "00000000000000000000000000000000", sellerDomain, secret), "another session"},
		{"other domain", mustSealCredential(t, k, sessionID, "other-shop.anp", secret), `domain "other-shop.anp"`},
		{"other buyer session key", sealOtherBuyer(t, k, secret), "another buyer session key"},
		{"no buyer key in the payload", sealRaw(t, k, mustCanonical(t, map[string]string{"session": sessionID, "domain": sellerDomain, "credential": secret})), "another buyer session key"},
		{"sealed to another seller", mustSealCredential(t, other, sessionID, sellerDomain, secret), "not sealed to this seller"},
		{"tampered", string(tampered), "or was altered"},
		{"not base64", "%%%not-base64%%%", "base64"},
		{"url-safe base64", strings.NewReplacer("+", "-", "/", "_").Replace(valid) + "-_", "base64"},
		{"empty", "", "empty"},
		{"too long", strings.Repeat("A", anp.MaxSealedCredentialLen+4), "at most"},
		{"unknown payload field", sealRaw(t, k, []byte(`{"buyer_key":"`+pub(buyerKey)+`","credential":"ACCT-99812","domain":"kitchen-outlet.anp","session":"`+sessionID+`","tier":"gold"}`)), "expected JSON"},
		{"not JSON", sealRaw(t, k, []byte(secret)), "expected JSON"},
		{"empty credential", sealRaw(t, k, payload("")), "credential is empty"},
		{"credential too short", sealRaw(t, k, payload("ACCT")), "at least"},
		{"credential with a control character", sealRaw(t, k, payload(secret+"\r")), "control character"},
		{"too short for a box", base64.StdEncoding.EncodeToString([]byte("short")), "not sealed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := anp.OpenCredential(k, tc.sealed, scopeOf(sessionID, sellerDomain))
			if err == nil || anp.CodeOf(err) != anp.CodeRefused {
				t.Fatalf("OpenCredential = %q, %v; want refused", got, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q: want %q and no credential", err, tc.msg)
			}
		})
	}
	if got, err := anp.OpenCredential(k, valid, scopeOf(sessionID, sellerDomain)); err != nil || got != secret {
		t.Fatalf("round trip: %q, %v", got, err)
	}
}

// sealOtherBuyer seals secret for the fixture session and seller, but for
// the session key of another buyer (a stranger who copies it into a PROPOSE
// of their own signs with a key that is not this one).
func sealOtherBuyer(tb testing.TB, k *anp.CredentialKey, secret string) string {
	tb.Helper()
	s, err := anp.SealCredential(k.PublicHex(), anp.CredentialScope{Session: sessionID, BuyerKey: pub(strangerKey), Domain: sellerDomain}, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
