package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// TestPassedTokenAnswersOnlyForItsString: once a token passed, other
// strings (its signature or claims changed, a suffix added) still take the
// whole check and are refused, and the token itself is refused once it
// expired, with the message a token never seen gets.
func TestPassedTokenAnswersOnlyForItsString(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = time.Minute })
	ctx := context.Background()
	id := anptest.NewKey(t)
	good := e.token(id)
	want, err := e.srv.parseToken(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.passed.get(good); !ok {
		t.Fatal("a token that passed is not remembered")
	}
	body, sig, _ := strings.Cut(good, ".")
	for _, tok := range []string{body + "." + strings.Repeat("0", len(sig)), "eyJzdWIiOiIwMCJ9." + sig, good + "00", body} {
		if c, err := e.srv.parseToken(ctx, tok); err == nil {
			t.Fatalf("token %q passed as %+v after %q did", tok, c, good)
		}
	}
	if got, err := e.srv.parseToken(ctx, good); err != nil || *got != *want {
		t.Fatalf("the token again: %+v, %v", got, err)
	}
	e.clock.Advance(time.Minute)
	_, expired := e.srv.parseToken(ctx, good)
	fresh := e.token(anptest.NewKey(t))
	e.clock.Advance(time.Minute)
	_, unseen := e.srv.parseToken(ctx, fresh) // never checked before
	if expired == nil || anp.CodeOf(expired) != anp.CodeUnauthorized || !strings.Contains(expired.Error(), "expired") {
		t.Fatalf("a remembered token after its expiry: %v, want unauthorized naming the expiry", expired)
	}
	if unseen == nil || !strings.Contains(unseen.Error(), "expired") {
		t.Fatalf("an unseen expired token: %v", unseen)
	}
}

// TestPassedTokensAreBounded: the memo never holds more than its bound.
func TestPassedTokensAreBounded(t *testing.T) {
	p := newPassedTokens(3)
	for i := range 10 {
		p.add(fmt.Sprintf("t%d", i), anp.TokenClaims{ID: fmt.Sprint(i)}, "k")
		if len(p.m) > 3 {
			t.Fatalf("after %d tokens the memo holds %d, want at most 3", i+1, len(p.m))
		}
		if got, ok := p.get(fmt.Sprintf("t%d", i)); !ok || got.claims.ID != fmt.Sprint(i) {
			t.Fatalf("t%d: %+v, %v", i, got, ok)
		}
	}
}

// TestPassedTokensConcurrently adds and reads from several goroutines
// (for -race); each token reads back its own claims.
func TestPassedTokensConcurrently(t *testing.T) {
	p := newPassedTokens(8)
	concurrently(4, 300, func(g, i int) {
		tok := fmt.Sprintf("t%d", (g*7+i)%20)
		p.add(tok, anp.TokenClaims{ID: tok}, "k")
		if got, ok := p.get(tok); ok && got.claims.ID != tok {
			t.Errorf("%s read back %s", tok, got.claims.ID)
		}
	})
}
