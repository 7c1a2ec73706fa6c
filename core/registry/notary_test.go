package registry

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var agreedPrice = anptest.USD(8000)

// negotiate runs PROPOSE -> COUNTER, COUNTER -> ACCEPT through the registry.
func negotiate(t *testing.T, e *testEnv, c *Client, domain string) *buyerSession {
	t.Helper()
	b := newBuyerSession(t, e.clock, domain)
	b.relay(c, b.Seal(anp.TypePropose, proposeBody()))
	b.relay(c, b.Seal(anp.TypeCounter, anp.OfferBody{Price: agreedPrice, Turn: 2}))
	if last := b.Tr.Last(); last.Type != anp.TypeAccept {
		t.Fatalf("negotiation ended with %s, want ACCEPT", last.Type)
	}
	return b
}

// terms is the deal for the seller offer at position n (1-based) of b's
// transcript.
func (b *buyerSession) terms(sellerKey string, n int) anp.DealTerms {
	return b.Terms(b.Tr.Envelopes[n-1], proposeBody(), sellerKey)
}

// commit sends the buyer-signed artifact as COMMIT and adds the seller's
// CONFIRM signature.
func (b *buyerSession) commit(t *testing.T, c *Client, a *anp.Artifact) {
	t.Helper()
	resp := b.relay(c, b.Seal(anp.TypeCommit, anp.CommitBody{Artifact: a}))
	if resp.Reply == nil || resp.Reply.Type != anp.TypeConfirm {
		t.Fatalf("COMMIT answered with %+v, want CONFIRM", resp)
	}
	a.SellerSig = anptest.Body[anp.ConfirmBody](t, resp.Reply).SellerSig
}

func TestNotaryRefusals(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	b := negotiate(t, e, c, "pans.anp")
	sk := anptest.PubHex(seller.key)
	ctx := context.Background()
	other := anptest.NewKey(t)

	mod := func(f func(*anp.DealTerms)) anp.DealTerms {
		terms := b.terms(sk, 4)
		f(&terms)
		return terms
	}
	tests := []struct {
		name   string
		art    func() *anp.Artifact
		client *Client
		code   anp.Code
	}{
		{"wrong price", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.Price.Amount = 7000 }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"transcript head mismatch", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.TranscriptHead = anptest.Hash(t, b.Tr.Envelopes[2]) }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"head is not an ACCEPT", func() *anp.Artifact {
			terms := b.terms(sk, 2) // the seller's COUNTER
			return anptest.SignDeal(t, terms, b.Key, seller.key)
		}, c, anp.CodeBadState},
		{"transcript beyond what was witnessed", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.TranscriptLen = 9 }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"different item", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.Item = "gold pan" }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"different quantity", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.Quantity = 20 }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"different terms", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.Terms = map[string]string{"shipping": "express"} }), b.Key, seller.key)
		}, c, anp.CodeConflict},
		{"agreed_at is not the ACCEPT time", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.AgreedAt-- }), b.Key, seller.key)
		}, c, anp.CodeBadRequest},
		{"buyer key is not the session key", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.BuyerKey = anptest.PubHex(other) }), other, seller.key)
		}, c, anp.CodeBadRequest},
		{"seller key is not the bound key", func() *anp.Artifact {
			return anptest.SignDeal(t, mod(func(d *anp.DealTerms) { d.SellerKey = anptest.PubHex(other) }), b.Key, other)
		}, c, anp.CodeBadRequest},
		{"no seller signature", func() *anp.Artifact { return anptest.SignDeal(t, b.terms(sk, 4), b.Key, nil) }, c, anp.CodeBadSignature},
		{"seller signature forged", func() *anp.Artifact {
			a := anptest.SignDeal(t, b.terms(sk, 4), b.Key, nil)
			forged := *a
			forged.Terms.SellerKey = anptest.PubHex(other)
			sig, err := forged.SellerSignature(other)
			if err != nil {
				t.Fatal(err)
			}
			a.SellerSig = sig
			return a
		}, c, anp.CodeBadSignature},
		{"another identity's session", func() *anp.Artifact { return anptest.SignDeal(t, b.terms(sk, 4), b.Key, seller.key) },
			e.client(anptest.NewKey(t)), anp.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Notarize(ctx, tc.art())
			if anp.CodeOf(err) != tc.code {
				t.Fatalf("Notarize: %v, want code %q", err, tc.code)
			}
		})
	}
	if size := e.srv.tree.size(); size != 1 { // the seller's bind event only
		t.Fatalf("refused artifacts reached the log: size %d", size)
	}
}

func TestNotaryHappyPathIdempotenceAndLog(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := NewClient(e.ts.URL, identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	ctx := context.Background()

	b := negotiate(t, e, c, "pans.anp")
	a := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, nil)
	b.commit(t, c, a)
	out, err := c.Notarize(ctx, a)
	if err != nil {
		t.Fatalf("Notarize: %v", err)
	}
	if err := anp.VerifyArtifact(out, anp.VerifyOptions{RootKey: e.srv.RootKey()}); err != nil {
		t.Fatalf("notarised artifact does not verify offline: %v", err)
	}
	if out.Receipt.LeafIndex != 1 || out.Receipt.TreeHead.Size != 2 { // leaf 0 is the seller's bind event
		t.Fatalf("receipt leaf %d size %d, want 1 and 2", out.Receipt.LeafIndex, out.Receipt.TreeHead.Size)
	}
	l, err := c.Listing(ctx, "pans.anp")
	if err != nil {
		t.Fatal(err)
	}
	// The deal awaits delivery: it earns no reputation yet.
	if ev := l.Reputation.Evidence; l.Stats.Deals != 1 || l.Stats.Sessions != 1 || l.Stats.Score != 50 || ev.Deals != 1 || ev.Awaiting != 1 || ev.Completed != 0 {
		t.Fatalf("stats %+v reputation %+v, want 1 deal in 1 session awaiting delivery, score 50", l.Stats, l.Reputation)
	}

	// The same artifact again returns the stored result; another deal for
	// the session is a conflict; the session takes no more envelopes.
	again, err := c.Notarize(ctx, a)
	if err != nil || again.Registry.Sig != out.Registry.Sig || again.Receipt.LeafIndex != 1 {
		t.Fatalf("repeat Notarize: %v (sig equal %v)", err, err == nil && again.Registry.Sig == out.Registry.Sig)
	}
	changed := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, seller.key)
	changed.Terms.CreatedAt++
	changed = anptest.SignDeal(t, changed.Terms, b.Key, seller.key)
	if _, err := c.Notarize(ctx, changed); anp.CodeOf(err) != anp.CodeConflict {
		t.Fatalf("a different artifact for a notarised session: %v, want conflict", err)
	}
	tok, _ := c.Token(ctx)
	r := e.do(http.MethodPost, "/v1/relay/pans.anp", b.Seal(anp.TypeQuery, anp.NoteBody{}), bearerHeader(tok))
	if r.errCode() != anp.CodeBadState {
		t.Fatalf("relay after notarisation: HTTP %d %s, want bad_state", r.status, r.body)
	}

	// A second deal grows the log consistently.
	head1, err := c.LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2 := negotiate(t, e, c, "pans.anp")
	a2 := anptest.SignDeal(t, b2.terms(anptest.PubHex(seller.key), 4), b2.Key, nil)
	b2.commit(t, c, a2)
	out2, err := c.Notarize(ctx, a2)
	if err != nil || out2.Receipt.LeafIndex != 2 {
		t.Fatalf("second Notarize: %v", err)
	}
	e.restart() // the tree is rebuilt from the ledger
	c = NewClient(e.ts.URL, identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	head2, err := c.LogHead(ctx)
	if err != nil || head2.Size != 3 || head2.RootHash != out2.Receipt.TreeHead.RootHash {
		t.Fatalf("head after restart %+v %v, want size 3 and the receipt's root", head2, err)
	}
	proof, err := c.Consistency(ctx, head1.Size, head2.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyConsistency(head1, head2, proof); err != nil {
		t.Fatalf("consistency 1 -> 2: %v", err)
	}
	if again, err := c.Notarize(ctx, a); err != nil || again.Registry.Sig != out.Registry.Sig {
		t.Fatalf("Notarize after restart: %v", err)
	}
}

// TestNotarizeVerifiesWhatTheRegistryReturns: the client returns a
// notarised artifact only when it is the deal it sent and verifies under
// the pinned root: the configured one, or else the first one it fetched.
func TestNotarizeVerifiesWhatTheRegistryReturns(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	b := negotiate(t, e, c, "pans.anp")
	a := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, nil)
	b.commit(t, c, a)
	if _, err := c.Notarize(context.Background(), a); err != nil {
		t.Fatalf("honest Notarize: %v", err)
	}
	forged := notarisedBy(t, newEnv(t, nil), a)

	tests := []struct {
		name   string
		pin    string // the client's RootKey: "registry", "stranger" or "" for none
		change func(*anp.Artifact) *anp.Artifact
		want   string // in the error; "" for success
	}{
		{"honest answer, pinned root", "registry", nil, ""},
		{"honest answer, root pinned from the first key chain", "", nil, ""},
		{"honest answer, client pinned to another root", "stranger", nil, "is not the pinned key"},
		{"another deal", "registry", func(a *anp.Artifact) *anp.Artifact { a.Terms.Price.Amount--; return a }, "different deal"},
		{"no seller signature", "", func(a *anp.Artifact) *anp.Artifact { a.SellerSig = ""; return a }, "different deal"},
		{"countersignature forged", "registry", func(a *anp.Artifact) *anp.Artifact { a.Registry.Sig = a.BuyerSig; return a }, "registry countersignature"},
		{"countersignature time changed", "", func(a *anp.Artifact) *anp.Artifact { a.Registry.NotarizedAt++; return a }, "registry countersignature"},
		{"no receipt", "registry", func(a *anp.Artifact) *anp.Artifact { a.Receipt = nil; return a }, "no registry countersignature and log receipt"},
		{"tree head changed", "registry", func(a *anp.Artifact) *anp.Artifact { a.Receipt.TreeHead.Size++; return a }, "tree head"},
		{"another registry's receipt, pinned root", "registry", func(*anp.Artifact) *anp.Artifact { return forged }, "is not the pinned key"},
		{"another registry's receipt, root pinned from the first key chain", "", func(*anp.Artifact) *anp.Artifact { return forged }, "is not the pinned key"},
	}
	pins := map[string]string{"registry": e.srv.RootKey(), "stranger": anptest.PubHex(anptest.NewKey(t)), "": ""}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := e.ts.URL
			if tc.change != nil {
				url = tamperingProxy(t, e, tc.change)
			}
			client := NewClient(url, identity, ClientOptions{Now: e.clock.Now, RootKey: pins[tc.pin]})
			out, err := client.Notarize(context.Background(), a)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Notarize: %v", err)
				}
				if err := anp.VerifyArtifact(out, anp.VerifyOptions{RootKey: e.srv.RootKey()}); err != nil {
					t.Fatalf("returned artifact does not verify: %v", err)
				}
				return
			}
			if anp.CodeOf(err) != anp.CodeBadSignature || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Notarize: %v (%v), want bad_signature saying %q", out, err, tc.want)
			}
		})
	}
}

// tamperingProxy serves e's registry with every notarised artifact passed
// through change first.
func tamperingProxy(t *testing.T, e *testEnv, change func(*anp.Artifact) *anp.Artifact) string {
	t.Helper()
	h := e.srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != anp.RouteNotary {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var a anp.Artifact
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &a) != nil {
			http.Error(w, "the registry did not notarise: "+rec.Body.String(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(change(&a))
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// notarisedBy countersigns and logs a's deal in registry e: a complete,
// valid artifact under e's root, as an impostor registry would answer.
func notarisedBy(t *testing.T, e *testEnv, a *anp.Artifact) *anp.Artifact {
	t.Helper()
	ctx := context.Background()
	priv, entry, err := e.srv.keys.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := &anp.Artifact{Terms: a.Terms, BuyerSig: a.BuyerSig, SellerSig: a.SellerSig}
	if err := out.Countersign(priv, entry, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	leaf, err := out.LeafData()
	if err != nil {
		t.Fatal(err)
	}
	idx, size, root, incl, err := e.srv.logLeaf(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	head := anp.SignedTreeHead{Size: size, RootHash: hex.EncodeToString(root), Timestamp: e.clock.Now().UnixMilli(), KeyIndex: entry.Index}
	if err := anp.SignTreeHead(&head, anp.Signer(priv)); err != nil {
		t.Fatal(err)
	}
	out.Receipt = &anp.Receipt{LeafIndex: idx, TreeHead: head, Inclusion: hexAll(incl), KeyChain: e.srv.keys.chain(), RootKey: e.srv.RootKey()}
	if err := anp.VerifyArtifact(out, anp.VerifyOptions{}); err != nil {
		t.Fatalf("the impostor's artifact is not self-consistent: %v", err)
	}
	return out
}

// flakyLedger fails the first Put into one bucket, as a storage error after
// the log append would.
type flakyLedger struct {
	*memstore.Ledger
	bucket string
	failed atomic.Bool
}

func (f *flakyLedger) Put(ctx context.Context, bucket, key string, value []byte) error {
	if bucket == f.bucket && f.failed.CompareAndSwap(false, true) {
		return errors.New("disk full")
	}
	return f.Ledger.Put(ctx, bucket, key, value)
}

// TestNotarizeRetryLogsTheDealOnce: storing the notarised artifact fails
// after its leaf was appended; the retry finds that leaf instead of logging
// the deal a second time.
func TestNotarizeRetryLogsTheDealOnce(t *testing.T) {
	var fl *flakyLedger
	e := newEnv(t, func(c *Config) {
		fl = &flakyLedger{Ledger: c.Ledger.(*memstore.Ledger), bucket: bucketArtifacts}
		c.Ledger = fl
	})
	seller := e.addSeller("pans.anp")
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	ctx := context.Background()
	b := negotiate(t, e, c, "pans.anp")
	a := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, nil)
	b.commit(t, c, a)
	if _, err := c.Notarize(ctx, a); err == nil {
		t.Fatal("the first attempt should fail on the storage error")
	}
	out, err := c.Notarize(ctx, a)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if size, _ := fl.Size(ctx); size != 2 || out.Receipt.LeafIndex != 1 || out.Receipt.TreeHead.Size != 2 { // leaf 0: the bind event
		t.Fatalf("log has %d leaves, receipt leaf %d of %d; want the deal logged once", size, out.Receipt.LeafIndex, out.Receipt.TreeHead.Size)
	}
	if err := anp.VerifyArtifact(out, anp.VerifyOptions{RootKey: e.srv.RootKey()}); err != nil {
		t.Fatal(err)
	}
}
