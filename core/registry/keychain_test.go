package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
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
	if _, err := e.srv.parseToken(context.Background(), tok); err != nil {
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

// TestKeyChainDeletesRetiredSeeds: the seed of a retired chain key stays
// in the ledger through the overlap (the key still signs what it began)
// and is deleted once its validity has ended; its entry stays in the
// public chain, and a restart neither misses it nor brings the seed back.
func TestKeyChainDeletesRetiredSeeds(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyLifetime = time.Hour }) // overlap: 15 minutes
	ctx := context.Background()
	seedOf := func(key string) error {
		_, err := e.ledger.Get(ctx, bucketKeys, keySeedPfx+key)
		return err
	}
	key0 := e.srv.keys.chain()[0]
	e.clock.Advance(time.Hour + time.Minute)
	if _, entry, err := e.srv.keys.current(ctx); err != nil || entry.Index != 1 {
		t.Fatalf("rotation: key %d, %v", entry.Index, err)
	}
	if err := seedOf(key0.Key); err != nil {
		t.Fatalf("the seed of key 0 is gone during the overlap: %v", err)
	}
	e.clock.Advance(15 * time.Minute) // key 0's validity ends
	if _, _, err := e.srv.keys.current(ctx); err != nil {
		t.Fatal(err)
	}
	if err := seedOf(key0.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the ledger still holds the seed of retired key 0: %v", err)
	}
	key1 := e.srv.keys.chain()[1]
	if err := seedOf(key1.Key); err != nil {
		t.Fatalf("the seed of the current key 1: %v", err)
	}
	if e.srv.keys.privs[0] != nil {
		t.Fatal("the registry still holds the private key of retired key 0")
	}
	k, err := e.client(anptest.NewKey(t)).Keys(ctx)
	if err != nil || len(k.Chain) != 2 || k.Chain[0] != key0 {
		t.Fatalf("public chain after the deletion: %+v %v", k, err)
	}
	e.restart()
	if got := e.srv.keys.chain(); len(got) != 2 || got[0] != key0 || e.srv.keys.privs[0] != nil {
		t.Fatalf("after a restart: %d entries, key 0 private %v", len(got), e.srv.keys.privs[0] != nil)
	}
	if err := seedOf(key0.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the seed of key 0 after a restart: %v", err)
	}
}

// TestClientRefusesABindingDatedAfterItsKeyExpired: a registry serving a
// binding signed by a chain key but dated 42 hours after that key expired
// (what a leaked old seed allows) is refused with ErrKeyWindow; the
// binding made while the key was valid still verifies after it expired.
func TestClientRefusesABindingDatedAfterItsKeyExpired(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyLifetime = time.Hour; c.TokenTTL = time.Hour })
	ctx := context.Background()
	e.addSeller("pans.anp")
	priv0, key0, err := e.srv.keys.current(ctx)
	if err != nil || key0.Index != 0 {
		t.Fatal(err)
	}
	leaked := append(ed25519.PrivateKey(nil), priv0...) // a copy taken before its deletion
	e.clock.Advance(2*time.Hour + 42*time.Hour)
	buyer := e.client(anptest.NewKey(t))
	if _, err := buyer.Listing(ctx, "pans.anp"); err != nil {
		t.Fatalf("the binding made while key 0 was valid: %v", err)
	}
	raw, err := e.ledger.Get(ctx, bucketDomains, "pans.anp")
	if err != nil {
		t.Fatal(err)
	}
	var b anp.DomainBinding
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	b.BoundAt = e.clock.Now().UnixMilli()
	if err := anp.SignDomainBinding(&b, anp.Signer(leaked)); err != nil {
		t.Fatal(err)
	}
	forged, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Put(ctx, bucketDomains, "pans.anp", forged); err != nil {
		t.Fatal(err)
	}
	e.restart()
	buyer = e.client(anptest.NewKey(t))
	_, err = buyer.Listing(ctx, "pans.anp")
	if !errors.Is(err, anp.ErrKeyWindow) || anp.CodeOf(err) != anp.CodeBadSignature {
		t.Fatalf("a binding dated after its key expired: %v, want ErrKeyWindow", err)
	}
}
