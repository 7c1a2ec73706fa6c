package registry

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// lifecycleReads counts the reads of stored lifecycles: one Get each, and
// every record of a List of the bucket.
type lifecycleReads struct {
	store.Ledger
	n atomic.Int64
}

func (l *lifecycleReads) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if bucket == bucketDeals {
		l.n.Add(1)
	}
	return l.Ledger.Get(ctx, bucket, key)
}

func (l *lifecycleReads) List(ctx context.Context, bucket string) ([]store.KV, error) {
	kvs, err := l.Ledger.List(ctx, bucket)
	if bucket == bucketDeals {
		l.n.Add(int64(len(kvs)))
	}
	return kvs, err
}

// sweepReads runs one sweep and returns the events it logged and the
// lifecycles it read.
func sweepReads(t *testing.T, e *testEnv, reads *lifecycleReads) (events, read int) {
	t.Helper()
	reads.n.Store(0)
	n, err := e.srv.SweepDeals(context.Background())
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return n, int(reads.n.Load())
}

// TestSweepReadsTheDealsInFlight: the deal sweep reads the deals a rule
// may apply to, not every deal ever made: none while every deadline is
// ahead, the due ones once they pass, and none of the deals no rule can
// move any more.
func TestSweepReadsTheDealsInFlight(t *testing.T) {
	reads := &lifecycleReads{}
	e := newEnv(t, func(c *Config) { reads.Ledger = c.Ledger; c.Ledger = reads })
	seller := e.addSeller("pans.anp")
	const deals = 6
	var ds []*signedDeal
	for range deals {
		ds = append(ds, signDeal(t, e, seller, "pans.anp"))
	}
	sweepReads(t, e, reads) // the first sweep indexes what was stored before the index: here, nothing

	if events, read := sweepReads(t, e, reads); events != 0 || read != 0 {
		t.Fatalf("sweep before any deadline: %d events, %d lifecycles read; want none", events, read)
	}
	e.clock.Advance(anp.DefaultDeliveryWindow / 2)
	ds[0].fulfil(t, e)
	e.clock.Advance(anp.DefaultDeliveryWindow/2 + time.Minute)
	events, read := sweepReads(t, e, reads)
	if events != deals-1 || read != deals-1 {
		t.Fatalf("sweep past deliver_by: %d events, %d lifecycles read; want the %d breaches and their deals", events, read, deals-1)
	}
	for _, d := range ds[1:] {
		if st := d.status(t, d.buyer); st.Lifecycle.State != anp.StateBreached {
			t.Fatalf("undelivered deal is %s", st.Lifecycle.State)
		}
	}
	e.clock.Advance(anp.DefaultReceiptWindow - anp.DefaultDeliveryWindow/2)
	if events, read := sweepReads(t, e, reads); events != 1 || read != 1 {
		t.Fatalf("sweep past the receipt window: %d events, %d lifecycles read; want the lapse of the fulfilled deal", events, read)
	}
	if l := ds[0].verifyOffline(t, e); l.State != anp.StateReceived {
		t.Fatalf("fulfilled deal after its receipt window: %s", l.State)
	}
	e.clock.Advance(365 * 24 * time.Hour)
	if events, read := sweepReads(t, e, reads); events != 0 || read != 0 {
		t.Fatalf("sweep a year later: %d events, %d lifecycles read; want none (breached and received deals are left to their parties)", events, read)
	}
}

// TestSweepIndexesLifecyclesStoredBeforeTheIndex: a ledger whose
// lifecycles were stored without due entries (a registry before the index)
// is indexed by its first sweep, once, and its deals are swept as before.
func TestSweepIndexesLifecyclesStoredBeforeTheIndex(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seller := e.addSeller("pans.anp")
	d1, d2 := signDeal(t, e, seller, "pans.anp"), signDeal(t, e, seller, "pans.anp")
	kvs, err := e.ledger.List(ctx, bucketDealsDue)
	if err != nil || len(kvs) != 2 {
		t.Fatalf("due entries of two new deals: %d, %v", len(kvs), err)
	}
	for _, kv := range kvs {
		if err := e.ledger.Delete(ctx, bucketDealsDue, kv.Key); err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	for _, d := range []*signedDeal{d1, d2} {
		d.buyer = NewClient(e.ts.URL, d.buyer.identity, ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	}
	e.clock.Advance(anp.DefaultDeliveryWindow + time.Minute)
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 2 {
		t.Fatalf("first sweep of a ledger without the index: %d events, %v; want the 2 breaches", n, err)
	}
	for _, d := range []*signedDeal{d1, d2} {
		if l := d.verifyOffline(t, e); l.State != anp.StateBreached {
			t.Fatalf("deal after the sweep: %s", l.State)
		}
	}
	if _, err := e.ledger.Get(ctx, bucketDealsDue, dealsDueIndexed); err != nil {
		t.Fatalf("the index is not marked complete: %v", err)
	}
}

// TestSweepSetsWrongDueEntriesRight: what an interrupted save can leave —
// an entry earlier than its deal needs, an entry of a deal no rule moves,
// an entry naming no deal — costs one look and is set right; it never
// makes a rule apply early.
func TestSweepSetsWrongDueEntriesRight(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seller := e.addSeller("pans.anp")
	early := signDeal(t, e, seller, "pans.anp")
	session := early.artifact.Terms.SessionID
	want, err := e.ledger.Get(ctx, bucketDealsDue, session)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := strconv.ParseInt(string(want), 10, 64); err != nil || at != early.status(t, early.buyer).Lifecycle.NextDeadline() {
		t.Fatalf("due entry %q, want the deal's next deadline", want)
	}
	stray := "0123456789abcdef0123456789abcdef"
	for key, value := range map[string]string{session: "0", stray: "0"} {
		if err := e.ledger.Put(ctx, bucketDealsDue, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.srv.SweepDeals(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of wrong entries: %d events, %v; want none", n, err)
	}
	if got, err := e.ledger.Get(ctx, bucketDealsDue, session); err != nil || string(got) != string(want) {
		t.Fatalf("the early entry is %q (%v), want %q", got, err, want)
	}
	if _, err := e.ledger.Get(ctx, bucketDealsDue, stray); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the entry of no deal: %v, want it removed", err)
	}
	if st := early.status(t, early.buyer); st.Lifecycle.State != anp.StateAwaitingDelivery {
		t.Fatalf("the deal is %s after a sweep of its early entry", st.Lifecycle.State)
	}
}
