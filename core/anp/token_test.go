package anp_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func tokenClaims() anp.TokenClaims {
	return anp.TokenClaims{Sub: pub(identityKey), Iat: t0Ms, Exp: t0Ms + 15*60*1000, KeyIndex: 0, ID: "7f3a9c0e5b1d4f2a8c6e0b9d1f3a5c7e"}
}

// chainKeys resolves kid against the fixture key chain.
func chainKeys(kid uint64) (string, bool) {
	switch kid {
	case 0:
		return pub(notaryKey), true
	case 1:
		return pub(nextKey), true
	}
	return "", false
}

func issueFixtureToken(t *testing.T, c anp.TokenClaims) string {
	t.Helper()
	tok, err := anp.IssueToken(c, anp.Signer(notaryKey))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIssueAndParseToken(t *testing.T) {
	c := tokenClaims()
	tok := issueFixtureToken(t, c)
	body, sig, ok := strings.Cut(tok, ".")
	if !ok || len(sig) != 128 {
		t.Fatalf("token %q is not base64url(claims).hex(sig)", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || string(raw) != string(mustCanonical(t, c)) {
		t.Fatalf("token body %q is not base64url of JCS(claims): %v", raw, err)
	}
	got, err := anp.ParseToken(tok, t0.Add(time.Minute), chainKeys)
	if err != nil || *got != c {
		t.Fatalf("ParseToken = %+v, %v", got, err)
	}
	if _, err := anp.IssueToken(c, func(anp.Purpose, any) (string, error) { return "", fmt.Errorf("signer down") }); err == nil {
		t.Fatal("IssueToken ignored the signer's error")
	}
}

func TestParseTokenRefusals(t *testing.T) {
	c := tokenClaims()
	tok := issueFixtureToken(t, c)
	body, sig, _ := strings.Cut(tok, ".")
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	other := c
	other.Sub = pub(strangerKey)
	forgedBody := base64.RawURLEncoding.EncodeToString(mustCanonical(t, other))
	byNext := c
	byNext.KeyIndex = 1
	nextTok := issueFixtureToken(t, byNext) // kid 1 but signed by key 0
	strangerTok, _ := anp.IssueToken(c, anp.Signer(strangerKey))
	envelopeSig, _ := anp.Sign(notaryKey, anp.PurposeEnvelope, c)

	tests := []struct {
		name string
		tok  string
		now  time.Time
		msg  string
	}{
		{"expired", tok, time.UnixMilli(c.Exp), "token expired at 2025-01-01T00:15:00Z"},
		{"long expired", tok, t0.Add(24 * time.Hour), "token expired"},
		{"wrong registry key", tok, t0, ""},
		{"signed by a stranger", strangerTok, t0, "token signature does not verify"},
		{"kid names another key", nextTok, t0, "token signature does not verify"},
		{"unknown kid", issueFixtureToken(t, anp.TokenClaims{Sub: c.Sub, Exp: c.Exp, KeyIndex: 9}), t0, "unknown registry key 9"},
		{"tampered subject", forgedBody + "." + sig, t0, "token signature does not verify"},
		{"tampered signature", body + "." + strings.Repeat("0", 128), t0, "token signature does not verify"},
		{"signature for another purpose", body + "." + envelopeSig, t0, "token signature does not verify"},
		{"no dot", body, t0, "token is malformed"},
		{"empty", "", t0, "token is malformed"},
		{"bad base64", "!!!." + sig, t0, "token is malformed"},
		{"padded base64", body + "==." + sig, t0, "token is malformed"},
		{"not JSON", enc("hello") + "." + sig, t0, "token claims"},
		{"unknown claim", enc(`{"sub":"a","iat":1,"exp":2,"kid":0,"jti":"x","admin":true}`) + "." + sig, t0, `token claims: json: unknown field "admin"`},
		{"trailing claims", enc(`{"sub":"a"} {}`) + "." + sig, t0, "token claims: unexpected data"},
		{"too long", strings.Repeat("a", 1025), t0, "token is too long"},
		{"extra dot", tok + ".x", t0, "token signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyFor := chainKeys
			if tt.name == "wrong registry key" {
				keyFor = func(uint64) (string, bool) { return pub(strangerKey), true }
				tt.msg = "token signature does not verify"
			}
			got, err := anp.ParseToken(tt.tok, tt.now, keyFor)
			if got != nil {
				t.Fatalf("refused token returned claims %+v", got)
			}
			wantCode(t, err, anp.CodeUnauthorized, tt.msg)
		})
	}
}

// A token's iat is checked against the window of the key that signed it
// (the dated cases are in key_windows.json); CheckKeyWindow refuses an
// entry that is not the token's key, and ParseTokenInChain a kid beyond
// the chain.
func TestTokenKeyWindow(t *testing.T) {
	chain := buildKeyChain(t, rootKey, notaryKey, nextKey)
	c := tokenClaims()
	tok := issueFixtureToken(t, c)
	if got, err := anp.ParseTokenInChain(tok, time.UnixMilli(c.Iat), chain); err != nil || *got != c {
		t.Fatalf("ParseTokenInChain = %+v, %v", got, err)
	}
	wantCode(t, c.CheckKeyWindow(&chain[1]), anp.CodeUnauthorized, "token was signed by registry key 0, not key 1")
	late := c
	late.Iat, late.Exp = chain[0].ValidUntil, chain[0].ValidUntil+60_000
	_, err := anp.ParseTokenInChain(issueFixtureToken(t, late), time.UnixMilli(late.Iat), chain)
	if !errors.Is(err, anp.ErrKeyWindow) {
		t.Fatalf("token dated at key 0's valid_until: %v, want ErrKeyWindow", err)
	}
	wantCode(t, err, anp.CodeUnauthorized, "token is dated", "outside registry key 0's validity")
	beyond := c
	beyond.KeyIndex = 2
	_, err = anp.ParseTokenInChain(issueFixtureToken(t, beyond), time.UnixMilli(c.Iat), chain)
	wantCode(t, err, anp.CodeUnauthorized, "unknown registry key 2")
}
