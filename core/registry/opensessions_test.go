package registry

import (
	"context"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// openIndexed lists the ids in the open-session index, the marker left out,
// and whether the marker is there.
func (e *testEnv) openIndexed(t *testing.T) (ids map[string]bool, complete bool) {
	t.Helper()
	kvs, err := e.ledger.List(context.Background(), bucketOpenSessions)
	if err != nil {
		t.Fatal(err)
	}
	ids = map[string]bool{}
	for _, kv := range kvs {
		if kv.Key == openIndexMarker {
			complete = true
			continue
		}
		ids[kv.Key] = true
	}
	return ids, complete
}

// TestStartReadsOpenSessionsOnly: the registry indexes the sessions the
// sweep may delete in the Ledger, a notarised deal leaves the index, and a
// start reads the index, not the sessions: a deal's stored session that no
// longer decodes does not stop it. A Ledger without the index (written
// before it existed) has it built on the first start, and the sweep works
// from it after a restart.
func TestStartReadsOpenSessionsOnly(t *testing.T) {
	const abandoned = 3
	e := newEnv(t, func(c *Config) { c.SessionTTL = time.Hour; c.SessionRate = -1 })
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	ctx := context.Background()
	open := openAbandoned(t, e, c, "pans.anp", abandoned)
	deal := closeDeal(t, e, c, seller)

	ids, complete := e.openIndexed(t)
	if !complete || len(ids) != abandoned || ids[deal.Session] {
		t.Fatalf("open-session index: %v (complete %v), want the %d open sessions and not the deal %s", ids, complete, abandoned, deal.Session)
	}
	for _, id := range open {
		if !ids[id] {
			t.Fatalf("open session %s is not indexed", id)
		}
	}

	// The deal's record is damaged: a start that read every session would fail.
	if err := e.ledger.Put(ctx, bucketSessions, deal.Session, []byte(`{"id":`)); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := len(e.srv.idle.idleSince(e.clock.Now().Add(time.Hour).UnixMilli())); got != abandoned {
		t.Fatalf("after a restart the sweep knows %d sessions, want %d", got, abandoned)
	}

	// A Ledger from before the index: the first start builds it.
	if err := e.ledger.Delete(ctx, bucketSessions, deal.Session); err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if err := e.ledger.Delete(ctx, bucketOpenSessions, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ledger.Delete(ctx, bucketOpenSessions, openIndexMarker); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if ids, complete = e.openIndexed(t); !complete || len(ids) != abandoned {
		t.Fatalf("rebuilt index: %v (complete %v), want the %d open sessions", ids, complete, abandoned)
	}
	e.clock.Advance(2 * time.Hour)
	deleted, err := e.srv.sweepSessions(ctx)
	if err != nil || deleted != abandoned {
		t.Fatalf("sweep deleted %d (%v), want %d", deleted, err, abandoned)
	}
	if ids, _ = e.openIndexed(t); len(ids) != 0 {
		t.Fatalf("index after the sweep: %v, want empty", ids)
	}
}
