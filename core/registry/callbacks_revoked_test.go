package registry

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// TestCallbacksFromARevokedKeyAreRefused: a session opened before its
// seller's key was revoked takes no callback signed by that key — neither
// a new one nor the retry of one taken before — with forbidden naming the
// revocation, and nothing is witnessed or queued; the same holds once a
// new key is bound to the domain, and the buyer can relay nothing more in
// the session. A key that is not the session's seller still learns
// nothing (not_found). Another seller's callbacks are taken.
func TestCallbacksFromARevokedKeyAreRefused(t *testing.T) {
	tests := []struct {
		name     string
		rebind   bool // bind a new key to the domain after the revocation
		restarts bool // restart the registry after the revocation
	}{
		{name: "revoked"},
		{name: "revoked, registry restarted", restarts: true},
		{name: "revoked, new key bound", rebind: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := context.Background()
			seller, other := e.addSeller("pans.anp"), e.addSeller("pots.anp")
			identity := anptest.NewKey(t)
			c := e.client(identity)
			b, propose := pendingSession(t, e, seller, c)
			inform := seller.seal(propose, anp.TypeInform, anp.NoteBody{Reason: "thinking", Message: "one moment"})
			if err := e.callback(seller, inform); err != nil {
				t.Fatalf("a callback before the revocation: %v", err)
			}
			ob, oPropose := pendingSession(t, e, other, c)

			entry, err := e.client(seller.key).RevokeKey(ctx, seller.domain)
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if tc.restarts {
				e.restart()
				c = e.client(identity) // the registry has a new URL
			}
			if tc.rebind {
				fresh := newSellerStub(t, e.clock, seller.domain)
				if _, err := e.client(fresh.key).Bind(ctx, seller.domain, e.grant(seller.domain)); err != nil {
					t.Fatalf("bind a new key: %v", err)
				}
				if err := e.publishAs(fresh, 5); err != nil {
					t.Fatal(err)
				}
			}
			before := e.storedRecord(b.Session)
			queued := e.srv.hub.pendingCount(anptest.PubHex(identity))
			next := anp.EnvelopeSpec{Type: anp.TypeCounter, Session: b.Session, Seq: inform.Seq + 1, Prev: anptest.Hash(t, inform), To: propose.From,
				Body: anp.OfferBody{Price: stubPrice, Turn: 1}, Now: e.clock.Now()}
			counter, err := anp.Seal(seller.key, next)
			if err != nil {
				t.Fatal(err)
			}
			for what, env := range map[string]*anp.Envelope{"a new callback": counter, "the retry of a callback taken before": inform} {
				err := e.callback(seller, env)
				if anp.CodeOf(err) != anp.CodeForbidden || !containsAll(err.Error(), "revoked", "log index", strconv.FormatUint(entry.LeafIndex, 10)) {
					t.Fatalf("%s from the revoked key: %v, want forbidden naming the revocation at log index %d", what, err, entry.LeafIndex)
				}
			}
			stranger := newSellerStub(t, e.clock, seller.domain)
			forged, err := anp.Seal(stranger.key, next)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.callback(stranger, forged); anp.CodeOf(err) != anp.CodeNotFound {
				t.Fatalf("a callback signed by another key: %v, want not_found", err)
			}
			if after := e.storedRecord(b.Session); string(after) != string(before) || e.srv.hub.pendingCount(anptest.PubHex(identity)) != queued {
				t.Fatal("a refused callback changed the session or was queued")
			}

			b.Accept(inform)
			_, err = c.Relay(ctx, seller.domain, b.Seal(anp.TypeQuery, anp.NoteBody{Message: "still there?"}))
			if anp.CodeOf(err) != anp.CodeForbidden || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("the buyer relaying in the session after the revocation: %v, want forbidden", err)
			}

			if err := e.callback(other, other.seal(oPropose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})); err != nil {
				t.Fatalf("another seller's callback: %v", err)
			}
			if n := e.witnessLen(ob.Session); n != 2 {
				t.Fatalf("the other session holds %d envelopes, want 2", n)
			}
		})
	}
}

// TestNotaryRefusesADealOfARevokedKey: a deal the seller signed with a key
// that was revoked before notarisation is not logged (forbidden, naming the
// revocation), while a deal notarised before the revocation still returns
// its receipt when asked again.
func TestNotaryRefusesADealOfARevokedKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	done := negotiate(t, e, c, "pans.anp")
	early := anptest.SignDeal(t, done.terms(anptest.PubHex(seller.key), 4), done.Key, seller.key)
	done.commit(t, c, early)
	if _, err := c.Notarize(ctx, early); err != nil {
		t.Fatalf("notarise before the revocation: %v", err)
	}
	late := negotiate(t, e, c, "pans.anp")
	a := anptest.SignDeal(t, late.terms(anptest.PubHex(seller.key), 4), late.Key, seller.key)
	late.commit(t, c, a)
	entry, err := e.client(seller.key).RevokeKey(ctx, seller.domain)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	size := e.srv.tree.size()
	_, err = c.Notarize(ctx, a)
	if anp.CodeOf(err) != anp.CodeForbidden || !containsAll(err.Error(), "revoked", strconv.FormatUint(entry.LeafIndex, 10)) {
		t.Fatalf("notarise after the revocation: %v, want forbidden naming log index %d", err, entry.LeafIndex)
	}
	if got := e.srv.tree.size(); got != size {
		t.Fatalf("the log grew from %d to %d entries", size, got)
	}
	if _, err := c.Notarize(ctx, early); err != nil {
		t.Fatalf("the deal notarised before the revocation, asked again: %v", err)
	}
}
