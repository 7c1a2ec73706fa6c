package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// publishAs publishes s's endpoint record for domain, signed by s's key.
func (e *testEnv) publishAs(s *sellerStub, seq uint64) error {
	e.t.Helper()
	rec, err := anp.SignRecord(anp.EndpointRecord{Domain: s.domain, Endpoint: s.ts.URL, Categories: []string{"kitchen"},
		Modes: []anp.Mode{anp.ModeC}, Seq: seq, TS: e.clock.Now().UnixMilli()}, anp.Signer(s.key))
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.client(s.key).PublishRecord(context.Background(), rec)
	return err
}

// proposeTo relays a fresh PROPOSE to domain through c.
func proposeTo(t *testing.T, e *testEnv, c *Client, domain string) error {
	t.Helper()
	b := newBuyerSession(t, e.clock, domain)
	_, err := c.Relay(context.Background(), domain, b.Seal(anp.TypePropose, proposeBody()))
	return err
}

// pinnedSeller is a registry with the seller pans.anp and a buyer client
// that pinned the seller's key from its logged binding.
func pinnedSeller(t *testing.T) (*testEnv, *sellerStub, *Client, anp.KeyState) {
	t.Helper()
	e := newEnv(t, nil)
	s := e.addSeller("pans.anp")
	buyer := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	pin, _, err := buyer.CheckSellerKey(context.Background(), "pans.anp", anptest.PubHex(s.key), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, s, buyer, pin
}

// TestKeyRotationIsLoggedAndProven: a seller rotates its key; the registry
// logs the rotation (signed by old and new key), binds the new key, stops
// listing the record of the old key until the new key publishes one, and a
// buyer that pinned the old key accepts the new one from the logged
// history. Stale, replayed and half-signed rotations are refused.
func TestKeyRotationIsLoggedAndProven(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	old := e.addSeller("pans.anp")
	buyer := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	l, err := buyer.Listing(ctx, "pans.anp")
	if err != nil {
		t.Fatal(err)
	}
	pin, changes, err := buyer.CheckSellerKey(ctx, "pans.anp", l.Binding.Key, nil)
	if err != nil || pin.Key != anptest.PubHex(old.key) || pin.Next != 1 || len(changes) != 1 || changes[0].Leaf.Event.Kind != anp.KeyEventBind {
		t.Fatalf("first use: pin %+v, %d events, %v; want the logged binding of the old key", pin, len(changes), err)
	}

	next := newSellerStub(t, e.clock, "pans.anp")
	sellerClient := e.client(old.key)
	half, err := anp.SignKeyChange(anp.KeyChange{Domain: "pans.anp", Kind: anp.KeyEventRotate, By: anp.ChangeByKey,
		Key: anptest.PubHex(old.key), NewKey: anptest.PubHex(next.key), Seq: 1, TS: e.clock.Now().UnixMilli()}, anp.Signer(old.key), anp.Signer(next.key))
	if err != nil {
		t.Fatal(err)
	}
	half.NewSig = ""
	if _, err := sellerClient.SubmitKeyChange(ctx, &half); anp.CodeOf(err) != anp.CodeBadSignature {
		t.Fatalf("rotation without the new key's signature: %v, want bad_signature", err)
	}
	entry, err := sellerClient.RotateKey(ctx, "pans.anp", next.key)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if ev := entry.Leaf.Event; ev.Kind != anp.KeyEventRotate || ev.Seq != 1 || ev.Key != anptest.PubHex(next.key) {
		t.Fatalf("logged %+v, want rotation 1 to the new key", ev)
	}
	if _, err := sellerClient.RotateKey(ctx, "pans.anp", anptest.NewKey(t)); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("the old key rotating again: %v, want conflict", err)
	}
	replay := *entry.Leaf.Event.Change
	if _, err := sellerClient.SubmitKeyChange(ctx, &replay); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("the same rotation again: %v, want conflict", err)
	}

	if _, err := buyer.Listing(ctx, "pans.anp"); anp.CodeOf(err) != anp.CodeNotFound {
		t.Fatalf("listing before the new key publishes: %v, want not_found (the record is the old key's)", err)
	}
	if err := e.publishAs(old, 2); anp.CodeOf(err) != anp.CodeBadSignature {
		t.Fatalf("a record signed by the rotated-out key: %v, want bad_signature", err)
	}
	if err := e.publishAs(next, 2); err != nil {
		t.Fatalf("record of the new key: %v", err)
	}
	l, err = buyer.Listing(ctx, "pans.anp")
	if err != nil || l.Binding.Key != anptest.PubHex(next.key) {
		t.Fatalf("listing after the rotation: %+v %v", l, err)
	}
	got, changes, err := buyer.CheckSellerKey(ctx, "pans.anp", l.Binding.Key, &pin)
	if err != nil || got.Key != anptest.PubHex(next.key) || len(changes) != 1 || changes[0].LeafIndex != entry.LeafIndex {
		t.Fatalf("pinned buyer after the rotation: %+v, %d changes, %v; want the new key proven by log index %d", got, len(changes), err, entry.LeafIndex)
	}
	if err := proposeTo(t, e, buyer, "pans.anp"); err != nil {
		t.Fatalf("a session with the new key: %v", err)
	}
	if _, err := e.client(anptest.NewKey(t)).Bind(ctx, "pans.anp", e.grant("pans.anp")); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("a grant does not take over a bound domain: %v, want conflict", err)
	}
}

// TestRevocationStopsNewSessions: after the key of a domain is revoked
// (by the key itself, or by the operator with the root key) the registry
// logs it, stops listing the domain, refuses relayed PROPOSEs and new
// records, and a buyer sees ErrKeyRevoked; the revocation survives a
// restart; a revoked key cannot come back; a fresh grant binds a new key.
func TestRevocationStopsNewSessions(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(e *testEnv, s *sellerStub) (*anp.KeyEventEntry, error)
		by     string
	}{
		{"by the key", func(e *testEnv, s *sellerStub) (*anp.KeyEventEntry, error) {
			return e.client(s.key).RevokeKey(context.Background(), s.domain)
		}, anp.ChangeByKey},
		{"by the operator", func(e *testEnv, s *sellerStub) (*anp.KeyEventEntry, error) {
			return e.client(anptest.NewKey(t)).RevokeKeyAsOperator(context.Background(), s.domain, e.root)
		}, anp.ChangeByOperator},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, s, buyer, pin := pinnedSeller(t)
			ctx := context.Background()
			if err := proposeTo(t, e, buyer, "pans.anp"); err != nil {
				t.Fatalf("a session before the revocation: %v", err)
			}
			if _, err := e.client(anptest.NewKey(t)).RevokeKeyAsOperator(ctx, "pans.anp", anptest.NewKey(t)); anp.CodeOf(err) != anp.CodeBadSignature {
				t.Fatalf("an operator revocation not signed by the root key: %v, want bad_signature", err)
			}
			entry, err := tc.revoke(e, s)
			if err != nil || entry.Leaf.Event.Kind != anp.KeyEventRevoke || entry.Leaf.Event.Change.Change.By != tc.by {
				t.Fatalf("revoke: %+v %v", entry, err)
			}
			for round := range 2 {
				if round == 1 {
					e.restart()
					buyer = NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
				}
				err := proposeTo(t, e, buyer, "pans.anp")
				if anp.CodeOf(err) != anp.CodeForbidden || !containsAll(err.Error(), "revoked", "log index") {
					t.Fatalf("round %d: PROPOSE to a revoked key: %v, want forbidden naming the revocation", round, err)
				}
				if _, err := buyer.Listing(ctx, "pans.anp"); anp.CodeOf(err) != anp.CodeForbidden {
					t.Fatalf("round %d: listing of a revoked key: %v, want forbidden", round, err)
				}
				if ls, err := buyer.Discover(ctx, "", "", 0); err != nil || len(ls) != 0 {
					t.Fatalf("round %d: discovery lists %d sellers (%v), want none", round, len(ls), err)
				}
				if err := e.publishAs(s, uint64(10+round)); anp.CodeOf(err) != anp.CodeForbidden {
					t.Fatalf("round %d: a record of the revoked key: %v, want forbidden", round, err)
				}
			}
			if _, _, err := buyer.CheckSellerKey(ctx, "pans.anp", anptest.PubHex(s.key), &anp.KeyState{Domain: "pans.anp", Key: "x"}); err == nil {
				t.Fatal("a buyer accepted a key after a forged pin")
			}
			_, _, err = buyer.CheckSellerKey(ctx, "pans.anp", anptest.PubHex(anptest.NewKey(t)), &pin)
			if !errors.Is(err, ErrKeyRevoked) || anp.CodeOf(err) != anp.CodeForbidden {
				t.Fatalf("a buyer that pinned the revoked key: %v, want ErrKeyRevoked", err)
			}
			if _, err := e.client(s.key).Bind(ctx, "pans.anp", e.grant("pans.anp")); anp.CodeOf(err) != anp.CodeRefused {
				t.Fatalf("binding the revoked key again: %v, want refused", err)
			}
			fresh := newSellerStub(t, e.clock, "pans.anp")
			if _, err := e.client(fresh.key).Bind(ctx, "pans.anp", e.grant("pans.anp")); err != nil {
				t.Fatalf("a new key with a fresh grant: %v", err)
			}
			if err := e.publishAs(fresh, 20); err != nil {
				t.Fatal(err)
			}
			got, changes, err := buyer.CheckSellerKey(ctx, "pans.anp", anptest.PubHex(fresh.key), &pin)
			if err != nil || got.Key != anptest.PubHex(fresh.key) || len(changes) != 2 {
				t.Fatalf("after revoke and a new binding: %+v, %d changes, %v; want the new key proven by 2 logged events", got, len(changes), err)
			}
			if err := proposeTo(t, e, buyer, "pans.anp"); err != nil {
				t.Fatalf("a session with the newly bound key: %v", err)
			}
		})
	}
}

// TestSwappedKeyWithoutLogIsRefused: a registry operator rewrites the
// stored binding and record of a domain to a key of its own, signed with
// its chain key, without logging a key event. A buyer that pinned the
// seller's key, and a buyer that never dealt with it, both refuse the
// listed key with ErrKeyChanged.
func TestSwappedKeyWithoutLogIsRefused(t *testing.T) {
	e, _, buyer, pin := pinnedSeller(t)
	ctx := context.Background()
	attacker := newSellerStub(t, e.clock, "pans.anp")
	b, err := e.srv.signBinding(ctx, "pans.anp", anptest.PubHex(attacker.key))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := anp.SignRecord(anp.EndpointRecord{Domain: "pans.anp", Endpoint: attacker.ts.URL, Categories: []string{"kitchen"},
		Modes: []anp.Mode{anp.ModeC}, Seq: 99, TS: e.clock.Now().UnixMilli()}, anp.Signer(attacker.key))
	if err != nil {
		t.Fatal(err)
	}
	d := e.srv.directory
	d.mu.Lock()
	d.bindings["pans.anp"], d.records["pans.anp"], d.keys.recordKey["pans.anp"] = b, rec, b.Key
	d.mu.Unlock()

	l, err := buyer.Listing(ctx, "pans.anp")
	if err != nil || l.Binding.Key != anptest.PubHex(attacker.key) {
		t.Fatalf("the tampered listing verifies as a listing: %+v %v", l, err)
	}
	for name, p := range map[string]*anp.KeyState{"pinned": &pin, "first use": nil} {
		_, _, err := buyer.CheckSellerKey(ctx, "pans.anp", l.Binding.Key, p)
		if !errors.Is(err, ErrKeyChanged) || anp.CodeOf(err) != anp.CodeForbidden || !containsAll(err.Error(), "pans.anp", "no logged rotation") {
			t.Errorf("%s buyer: %v, want ErrKeyChanged naming the domain", name, err)
		}
	}
	if r := e.do(http.MethodGet, "/v1/domains/pans.anp/keys", nil, nil); r.status != http.StatusOK {
		t.Fatalf("key history: HTTP %d", r.status)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestBindingsBeforeKeyEventsAreLogged: a ledger holding a binding made
// before key events were logged gets a bind event for it when the registry
// starts (once), so a buyer can prove the bound key from the log.
func TestBindingsBeforeKeyEventsAreLogged(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	s := newSellerStub(t, e.clock, "old-shop.anp")
	b, err := e.srv.signBinding(ctx, "old-shop.anp", anptest.PubHex(s.key))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	if err := e.ledger.Put(ctx, bucketDomains, b.Domain, data); err != nil {
		t.Fatal(err)
	}
	e.restart()
	e.restart() // a second start logs nothing more
	h := e.srv.directory.keyHistory("old-shop.anp")
	if len(h) != 1 || h[0].Leaf.Event.Kind != anp.KeyEventBind || h[0].Leaf.Event.Bind != nil || e.srv.tree.size() != 1 {
		t.Fatalf("history %+v, log size %d; want one bind event without a request", h, e.srv.tree.size())
	}
	if err := e.publishAs(s, 1); err != nil {
		t.Fatal(err)
	}
	buyer := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	if _, _, err := buyer.CheckSellerKey(ctx, "old-shop.anp", anptest.PubHex(s.key), nil); err != nil {
		t.Fatalf("a buyer proves the migrated binding: %v", err)
	}
}

// refreshingLedger runs after, when set, once a Put has been written: it
// lands a refresh in the window between a replica's write to the Ledger
// and the update of its own cache.
type refreshingLedger struct {
	store.Ledger
	after func(bucket, key string)
}

func (l *refreshingLedger) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := l.Ledger.Put(ctx, bucket, key, value); err != nil {
		return err
	}
	if l.after != nil {
		l.after(bucket, key)
	}
	return nil
}

// TestBindSurvivesARefreshOfItsOwnKeyEvent: a replica's refresh of a
// domain (its own announcement, or a request for the domain) can read the
// key event this replica has just stored and install it before the bind
// records it in the cache. The bind still succeeds, and the event is
// applied once.
func TestBindSurvivesARefreshOfItsOwnKeyEvent(t *testing.T) {
	ledger := &refreshingLedger{}
	e := newEnv(t, func(c *Config) { ledger.Ledger = c.Ledger; c.Ledger = ledger })
	ctx := context.Background()
	ledger.after = func(bucket, key string) {
		if bucket != bucketKeyEvents {
			return
		}
		if err := e.srv.directory.refreshDomain(ctx, strings.Split(key, "/")[0]); err != nil {
			t.Errorf("refresh after storing %s: %v", key, err)
		}
	}
	s := e.addSeller("pans.anp")
	st := e.srv.directory.keyState("pans.anp")
	h := e.srv.directory.keyHistory("pans.anp")
	if st.Next != 1 || st.Key != anptest.PubHex(s.key) || len(h) != 1 {
		t.Fatalf("key state %+v and %d events in the history, want the one bind event of %s", st, len(h), anptest.PubHex(s.key))
	}
}

// ledgerReads counts the values a ledger hands out: one per Get that
// finds its key, one per pair a List returns.
type ledgerReads struct {
	store.Ledger
	values atomic.Int64
}

func (l *ledgerReads) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	v, err := l.Ledger.Get(ctx, bucket, key)
	if err == nil {
		l.values.Add(1)
	}
	return v, err
}

func (l *ledgerReads) List(ctx context.Context, bucket string) ([]store.KV, error) {
	kvs, err := l.Ledger.List(ctx, bucket)
	l.values.Add(int64(len(kvs)))
	return kvs, err
}

func (l *ledgerReads) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	kvs, err := l.Ledger.ListPrefix(ctx, bucket, prefix)
	l.values.Add(int64(len(kvs)))
	return kvs, err
}

// TestDomainRefreshReadsOneDomain: a replica reads a domain it does not
// know from the Ledger on a request for it — a request any stranger can
// make with a made-up name. The read costs the entries of that domain, not
// the key events of every domain in the registry.
func TestDomainRefreshReadsOneDomain(t *testing.T) {
	reads := &ledgerReads{}
	e := newEnv(t, func(c *Config) { reads.Ledger = c.Ledger; c.Ledger = reads })
	ctx := context.Background()
	for i := range 20 {
		e.addSeller(fmt.Sprintf("shop-%d.anp", i))
	}
	for domain, want := range map[string]int64{
		"made-up.anp": 0,
		"shop-7.anp":  3, // its binding, its endpoint record, its one key event
	} {
		reads.values.Store(0)
		if err := e.srv.directory.refreshDomain(ctx, domain); err != nil {
			t.Fatalf("refresh %s: %v", domain, err)
		}
		if got := reads.values.Load(); got != want {
			t.Errorf("refresh of %s read %d stored values, want %d", domain, got, want)
		}
	}
	if st := e.srv.directory.keyState("shop-7.anp"); st.Next != 1 || st.Key == "" {
		t.Fatalf("key state of shop-7.anp after its refresh: %+v", st)
	}
}
