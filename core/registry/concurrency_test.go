package registry

import (
	"context"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Racing copies of one envelope: the per-session lock lets exactly one in.
func TestConcurrentRelaysOfOneSessionAreSerialised(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(newKey(t))
	b := negotiate(t, e, c, "pans.anp")
	query := b.seal(anp.TypeQuery, anp.NoteBody{Message: "colour?"})
	before := seller.requests()

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Relay(context.Background(), "pans.anp", query)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch anp.CodeOf(err) {
		case "":
			ok++
		case anp.CodeReplay:
		default:
			t.Errorf("racing relay: %v, want success or replay", err)
		}
	}
	if ok != 1 || e.witnessLen(b.id) != 6 || seller.requests()-before != 1 {
		t.Fatalf("%d relays succeeded, %d envelopes witnessed, seller saw %d requests; want 1, 6, 1", ok, e.witnessLen(b.id), seller.requests()-before)
	}
}

// Parallel notarisations get distinct log positions with valid receipts.
func TestConcurrentNotarisations(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(newKey(t))
	const n = 6
	arts := make([]*anp.Artifact, n)
	for i := range arts {
		b := negotiate(t, e, c, "pans.anp")
		arts[i] = signDeal(t, b.terms(t, pubHex(seller.key), 4), b.key, seller.key)
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
		if seen[idx] || idx >= n {
			t.Fatalf("leaf index %d repeated or out of range", idx)
		}
		seen[idx] = true
	}
	l, _ := e.srv.directory.listing("pans.anp")
	if l.Stats.Deals != n || l.Stats.Sessions != n {
		t.Fatalf("stats %+v, want %d deals in %d sessions", l.Stats, n, n)
	}
}
