package registry

import (
	"context"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// Racing copies of one envelope: the per-session lock lets exactly one
// through to the seller; the others are resends and get the same answer.
func TestConcurrentRelaysOfOneSessionAreSerialised(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	b := negotiate(t, e, c, "pans.anp")
	query := b.Seal(anp.TypeQuery, anp.NoteBody{Message: "colour?"})
	before := seller.requests()

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	replies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Relay(context.Background(), "pans.anp", query)
			errs[i] = err
			if err == nil && resp.Reply != nil {
				replies[i], _ = resp.Reply.Hash()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || replies[i] == "" || replies[i] != replies[0] {
			t.Fatalf("racing copy %d: %v (reply %q vs %q)", i, err, replies[i], replies[0])
		}
	}
	if e.witnessLen(b.Session) != 6 || seller.requests()-before != 1 {
		t.Fatalf("%d envelopes witnessed, seller saw %d requests; want 6, 1", e.witnessLen(b.Session), seller.requests()-before)
	}
}

// Parallel notarisations get distinct log positions with valid receipts.
func TestConcurrentNotarisations(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	const n = 6
	arts := make([]*anp.Artifact, n)
	for i := range arts {
		b := negotiate(t, e, c, "pans.anp")
		arts[i] = anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, seller.key)
	}
	var wg sync.WaitGroup
	outs := make([]*anp.Artifact, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = c.Notarize(context.Background(), arts[i])
		}()
	}
	wg.Wait()
	seen := make(map[uint64]bool)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Notarize %d: %v", i, errs[i])
		}
		idx := outs[i].Receipt.LeafIndex
		if seen[idx] || idx < 1 || idx > n { // leaf 0 is the seller's bind event
			t.Fatalf("leaf index %d repeated or out of range", idx)
		}
		seen[idx] = true
	}
	l, _ := e.srv.directory.listing("pans.anp")
	if l.Stats.Deals != n || l.Stats.Sessions != n {
		t.Fatalf("stats %+v, want %d deals in %d sessions", l.Stats, n, n)
	}
}
