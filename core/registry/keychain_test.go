package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestKeyChainRotatesAndPersists(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyLifetime = time.Hour; c.TokenTTL = 2 * time.Hour })
	ctx := context.Background()
	id := anptest.NewKey(t)
	c := e.client(id)
	k1, err := c.Keys(ctx)
	if err != nil || len(k1.Chain) != 1 || k1.RootKey != e.srv.RootKey() {
		t.Fatalf("Keys: %+v %v", k1, err)
	}
	tok, err := c.Token(ctx) // signed by key 0
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Hour + time.Minute)
	_, entry, err := e.srv.keys.current(ctx)
	if err != nil || entry.Index != 1 {
		t.Fatalf("current key after a lifetime: index %d %v, want 1", entry.Index, err)
	}
	chain := e.srv.keys.chain()
	if err := anp.VerifyKeyChain(e.srv.RootKey(), chain); err != nil || len(chain) != 2 {
		t.Fatalf("rotated chain: %d entries %v", len(chain), err)
	}
	if chain[0].ValidUntil <= chain[1].ValidFrom {
		t.Fatal("consecutive keys do not overlap")
	}
	if _, err := e.srv.parseToken(tok); err != nil {
		t.Fatalf("a token of the previous key stopped working before it expired: %v", err)
	}
	// A head signed by the new key makes the client fetch the longer chain.
	h, err := c.LogHead(ctx)
	if err != nil || h.KeyIndex != 1 {
		t.Fatalf("LogHead after rotation: %+v %v", h, err)
	}
	if k2, _ := c.Keys(ctx); len(k2.Chain) != 2 {
		t.Fatalf("client chain has %d entries after seeing key 1, want 2", len(k2.Chain))
	}

	e.restart()
	if got := e.srv.keys.chain(); len(got) != 2 || got[1] != chain[1] {
		t.Fatalf("chain after restart has %d entries", len(got))
	}
	priv, entry, err := e.srv.keys.current(ctx)
	if err != nil || entry.Index != 1 || anptest.PubHex(priv) != chain[1].Key {
		t.Fatal("restart did not restore the current signing key")
	}
}

func TestNewRefusesAnotherRootForTheLedger(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.cfg
	cfg.Root = anptest.NewKey(t)
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not verify under root key") {
		t.Fatalf("New with another root on the same ledger: %v", err)
	}
	cfg.Root = nil
	if _, err := New(context.Background(), cfg); err == nil {
		t.Fatal("New without a root key succeeded")
	}
}

func TestClientRefusesUnpinnedOrChangedRoot(t *testing.T) {
	e := newEnv(t, nil)
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{RootKey: anptest.PubHex(anptest.NewKey(t))})
	if _, err := c.Keys(context.Background()); anp.CodeOf(err) != anp.CodeBadSignature {
		t.Fatalf("Keys with a wrong pin: %v, want bad_signature", err)
	}
	good := e.client(anptest.NewKey(t))
	if _, err := good.Keys(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Another registry (another root) behind the same URL is refused.
	other := newEnv(t, nil)
	good.base = other.ts.URL
	if _, err := good.refreshKeys(context.Background()); err == nil || !strings.Contains(err.Error(), "root key changed") {
		t.Fatalf("root change: %v", err)
	}
}
