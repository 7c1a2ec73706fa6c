package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestAuthenticateIssuesBoundToken(t *testing.T) {
	e := newEnv(t, nil)
	id := anptest.NewKey(t)
	tok, err := e.client(id).Authenticate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := e.srv.parseToken(context.Background(), tok.Token)
	if err != nil {
		t.Fatalf("registry refuses its own token: %v", err)
	}
	if claims.Sub != anptest.PubHex(id) {
		t.Errorf("token subject %s, want %s", claims.Sub, anptest.PubHex(id))
	}
	wantExp := e.clock.Now().Add(DefaultTokenTTL).UnixMilli()
	if claims.Exp != wantExp || tok.ExpiresAt != wantExp {
		t.Errorf("token expires at %d (response %d), want %d", claims.Exp, tok.ExpiresAt, wantExp)
	}
}

// challenge asks the registry for a challenge for pub.
func (e *testEnv) challenge(pub string) anp.Challenge {
	e.t.Helper()
	r := e.do(http.MethodPost, anp.RouteChallenge, anp.ChallengeRequest{PubKey: pub}, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("challenge: HTTP %d %s", r.status, r.body)
	}
	var ch anp.Challenge
	if err := json.Unmarshal(r.body, &ch); err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func solve(t *testing.T, ch anp.Challenge) uint64 {
	t.Helper()
	sol, err := anp.SolvePoW(context.Background(), &ch, 0)
	if err != nil {
		t.Fatal(err)
	}
	return sol
}

func possession(t *testing.T, key []byte, ch anp.Challenge, sol uint64) string {
	t.Helper()
	sig, err := anp.Sign(key, anp.PurposePoW, anp.PossessionProof{ChallengeID: ch.ID, Nonce: ch.Nonce, PubKey: ch.PubKey, Solution: sol})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Difficulty = 8 })
	id, other := anptest.NewKey(t), anptest.NewKey(t)

	tests := []struct {
		name   string
		req    func(t *testing.T) anp.TokenRequest
		status int
		code   anp.Code
	}{
		{"valid", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			sol := solve(t, ch)
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: sol, Sig: possession(t, id, ch, sol)}
		}, http.StatusOK, ""},
		{"possession signature forged by another key", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			sol := solve(t, ch)
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: sol, Sig: possession(t, other, ch, sol)}
		}, http.StatusUnauthorized, anp.CodeBadSignature},
		{"solution presented for a different key", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			sol := solve(t, ch)
			ch2 := ch
			ch2.PubKey = anptest.PubHex(other)
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: anptest.PubHex(other), Solution: sol, Sig: possession(t, other, ch2, sol)}
		}, http.StatusUnauthorized, anp.CodeUnauthorized},
		{"solution below difficulty", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			var bad uint64
			for anp.CheckPoW(ch.Nonce, ch.PubKey, bad, ch.Difficulty) {
				bad++
			}
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: bad, Sig: possession(t, id, ch, bad)}
		}, http.StatusUnauthorized, anp.CodeUnauthorized},
		{"unknown challenge", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			sol := solve(t, ch)
			ch.ID = strings.Repeat("0", 32)
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: sol, Sig: possession(t, id, ch, sol)}
		}, http.StatusUnauthorized, anp.CodeUnauthorized},
		{"expired challenge", func(t *testing.T) anp.TokenRequest {
			ch := e.challenge(anptest.PubHex(id))
			sol := solve(t, ch)
			e.clock.Advance(challengeTTL + time.Second)
			return anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: sol, Sig: possession(t, id, ch, sol)}
		}, http.StatusGone, anp.CodeExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, anp.RouteToken, tc.req(t), nil)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Fatalf("HTTP %d code %q (%s), want %d %q", r.status, r.errCode(), r.body, tc.status, tc.code)
			}
		})
	}
}

func TestChallengeIsSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	id := anptest.NewKey(t)
	ch := e.challenge(anptest.PubHex(id))
	sol := solve(t, ch)
	req := anp.TokenRequest{ChallengeID: ch.ID, PubKey: ch.PubKey, Solution: sol, Sig: possession(t, id, ch, sol)}
	if r := e.do(http.MethodPost, anp.RouteToken, req, nil); r.status != http.StatusOK {
		t.Fatalf("first use: HTTP %d %s", r.status, r.body)
	}
	r := e.do(http.MethodPost, anp.RouteToken, req, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.errMessage(), "already used") {
		t.Fatalf("second use: HTTP %d %s, want 401 naming the reuse", r.status, r.body)
	}
}

func TestClientRefusesDifficultyAboveCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Difficulty = 30 })
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{MaxPoWDifficulty: 24})
	_, err := c.Authenticate(context.Background())
	if anp.CodeOf(err) != anp.CodeRefused {
		t.Fatalf("Authenticate with difficulty 30 and cap 24: %v, want code refused", err)
	}
}

func TestTokenExpiryAndReauthentication(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = time.Minute })
	e.addSeller("pans.anp")
	id := anptest.NewKey(t)
	c := e.client(id)
	ctx := context.Background()
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(http.MethodGet, anp.RouteDiscover, nil, bearerHeader(tok)); r.status != http.StatusOK {
		t.Fatalf("fresh token: HTTP %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Minute + time.Second)
	r := e.do(http.MethodGet, anp.RouteDiscover, nil, bearerHeader(tok))
	if r.status != http.StatusUnauthorized || r.errCode() != anp.CodeUnauthorized || !strings.Contains(r.errMessage(), "expired") {
		t.Fatalf("expired token: HTTP %d %s, want 401 unauthorized naming the expiry", r.status, r.body)
	}
	// The client notices the expiry itself and authenticates again.
	got, err := c.Discover(ctx, "", "", 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("Discover after expiry: %d listings, %v", len(got), err)
	}
	tok2, _ := c.Token(ctx)
	if tok2 == tok {
		t.Fatal("client kept the expired token")
	}
}

func TestClientReauthenticatesOnceOn401(t *testing.T) {
	e := newEnv(t, nil)
	e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	// A token the registry never issued, which the client believes valid.
	c.SetToken(anp.TokenResponse{Token: "e30.00", ExpiresAt: e.clock.Now().Add(time.Hour).UnixMilli()})
	got, err := c.Discover(context.Background(), "kitchen", "", 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("Discover with a refused cached token: %d listings, %v", len(got), err)
	}
	tok, _ := c.Token(context.Background())
	if _, err := e.srv.parseToken(context.Background(), tok); err != nil {
		t.Fatalf("client did not replace the refused token: %v", err)
	}
}

func TestForgedTokensRefused(t *testing.T) {
	e := newEnv(t, nil)
	id := anptest.NewKey(t)
	good := e.token(id)
	forger := anptest.NewKey(t)
	claims := anp.TokenClaims{Sub: anptest.PubHex(id), Iat: e.clock.Now().UnixMilli(), Exp: e.clock.Now().Add(time.Minute).UnixMilli()}
	forged, err := anp.IssueToken(claims, anp.Signer(forger))
	if err != nil {
		t.Fatal(err)
	}
	// A retired-but-known key must not mint a token with a long lifetime.
	priv, entry, err := e.srv.keys.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	long, err := anp.IssueToken(anp.TokenClaims{Sub: anptest.PubHex(id), Iat: e.clock.Now().UnixMilli(), Exp: e.clock.Now().Add(30 * 24 * time.Hour).UnixMilli(), KeyIndex: entry.Index}, anp.Signer(priv))
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(good, ".")
	tests := []struct{ name, tok string }{
		{"signed by another key", forged},
		{"lifetime longer than the registry issues", long},
		{"signature swapped", body + "." + strings.Repeat("0", 128)},
		{"no signature", body},
		{"garbage", "not-a-token"},
		{"claims tampered", "eyJzdWIiOiIwMCJ9." + sig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, anp.RouteDiscover, nil, bearerHeader(tc.tok))
			if r.status != http.StatusUnauthorized || r.errCode() != anp.CodeUnauthorized {
				t.Fatalf("HTTP %d %s, want 401 unauthorized", r.status, r.body)
			}
		})
	}
	if r := e.do(http.MethodGet, anp.RouteDiscover, nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: HTTP %d, want 401", r.status)
	}
}

func TestClientErrorsCarryCodes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(anptest.NewKey(t))
	_, err := c.Listing(context.Background(), "missing.anp")
	var ae *anp.Error
	if !errors.As(err, &ae) || ae.Code != anp.CodeNotFound {
		t.Fatalf("Listing of an unknown domain: %v, want a not_found *anp.Error", err)
	}
	dead := NewClient("http://127.0.0.1:1", anptest.NewKey(t), ClientOptions{})
	if _, err := dead.Keys(context.Background()); anp.CodeOf(err) != anp.CodeUnavailable {
		t.Fatalf("unreachable registry: %v, want code unavailable", err)
	}
}

// A token dated outside the validity window of the chain key that signed it
// is refused with anp.ErrKeyWindow (401 unauthorized): one pre-dated before
// its key existed, and one minted with a retired key's leaked seed after the
// key expired, each with a short lifetime that the TTL check lets through.
func TestTokenDatedOutsideItsKeyWindow(t *testing.T) {
	e := newEnv(t, nil)
	id := anptest.NewKey(t)
	current, entry0, err := e.srv.keys.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	priv0 := slices.Clone(current) // the leaked copy: the registry wipes its own when the key retires
	mint := func(iat time.Time) string {
		t.Helper()
		tok, err := anp.IssueToken(anp.TokenClaims{Sub: anptest.PubHex(id), Iat: iat.UnixMilli(), Exp: e.clock.Now().Add(time.Minute).UnixMilli(),
			KeyIndex: entry0.Index, ID: strings.Repeat("ab", 16)}, anp.Signer(priv0))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refused := func(name, tok string) {
		t.Helper()
		if _, err := e.srv.parseToken(context.Background(), tok); !errors.Is(err, anp.ErrKeyWindow) || anp.CodeOf(err) != anp.CodeUnauthorized {
			t.Fatalf("%s: parseToken = %v, want ErrKeyWindow with code unauthorized", name, err)
		}
		r := e.do(http.MethodGet, anp.RouteDiscover, nil, bearerHeader(tok))
		if r.status != http.StatusUnauthorized || r.errCode() != anp.CodeUnauthorized || !strings.Contains(string(r.body), "outside registry key") {
			t.Fatalf("%s: HTTP %d %s, want 401 naming the key window", name, r.status, r.body)
		}
	}
	if _, err := e.srv.parseToken(context.Background(), mint(time.UnixMilli(entry0.ValidFrom))); err != nil {
		t.Fatalf("a token issued at its key's first instant: %v", err)
	}
	refused("issued a millisecond before its key's valid_from", mint(time.UnixMilli(entry0.ValidFrom-1)))

	// Past key 0's window the registry signs with key 1 and forgets seed 0;
	// a copy of seed 0 still signs, but only statements dated in its window.
	e.clock.Advance(time.Duration(entry0.ValidUntil-e.clock.Now().UnixMilli())*time.Millisecond + time.Second)
	if _, entry1, err := e.srv.keys.current(context.Background()); err != nil || entry1.Index == entry0.Index {
		t.Fatalf("no rotation past key 0's window: %+v, %v", entry1, err)
	}
	refused("issued with the retired key after its valid_until", mint(e.clock.Now()))
	if tok := e.token(id); tok == "" {
		t.Fatal("a fresh token by the current key")
	} else if _, err := e.srv.parseToken(context.Background(), tok); err != nil {
		t.Fatalf("a fresh token by the current key: %v", err)
	}
}
