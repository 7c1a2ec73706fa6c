package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

const testLeaseTTL = time.Hour

// expireLease moves the lease's expiry into the past, as the passing of
// its ttl would: the test controls the expiry instead of waiting for it.
func expireLease(t *testing.T, db *DB) {
	t.Helper()
	if _, err := db.pool.Exec(context.Background(), `UPDATE log_lease SET expires = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
}

// TestLogLeaseContenders: processes on one database race for a free lease;
// exactly one holds it, the others see that one as the holder, and a
// renewal by the holder keeps the token.
func TestLogLeaseContenders(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	const contenders = 8
	dbs := make([]*DB, contenders)
	for i := range dbs {
		dbs[i] = openDSN(t, dsn)
	}
	type result struct {
		lease store.LogLease
		got   bool
		err   error
	}
	results := make([]result, contenders)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l, got, err := dbs[i].Ledger().(store.LogLeaser).AcquireLogLease(context.Background(), fmt.Sprintf("p%d", i), fmt.Sprintf("http://p%d", i), testLeaseTTL)
			results[i] = result{l, got, err}
		}()
	}
	close(start)
	wg.Wait()
	holders := 0
	var holder string
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("contender %d: %v", i, r.err)
		}
		if r.got {
			holders++
			holder = fmt.Sprintf("p%d", i)
		}
	}
	if holders != 1 {
		t.Fatalf("%d contenders hold the lease, want exactly 1", holders)
	}
	for i, r := range results {
		if r.lease.Holder != holder || r.lease.Token != 1 || !r.lease.Live || r.lease.Addr != "http://"+holder {
			t.Fatalf("contender %d sees %+v, want %s live with token 1", i, r.lease, holder)
		}
	}
	leaser := dbs[0].Ledger().(store.LogLeaser)
	again, got, err := leaser.AcquireLogLease(context.Background(), holder, "http://"+holder, testLeaseTTL)
	if err != nil || !got || again.Token != 1 {
		t.Fatalf("the holder acquiring again: %+v %v %v, want the same token 1", again, got, err)
	}
	if err := leaser.RenewLogLease(context.Background(), holder, 1, testLeaseTTL); err != nil {
		t.Fatalf("renew: %v", err)
	}
}

// TestLogLeaseExpiry: a live lease is refused to another process; once it
// expired, the other takes it with a higher token, and the old holder can
// neither renew nor append.
func TestLogLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	leaser := db.Ledger().(store.LogLeaser)
	a, got, err := leaser.AcquireLogLease(ctx, "a", "http://a", testLeaseTTL)
	if err != nil || !got {
		t.Fatalf("a acquires: %v %v", got, err)
	}
	if l, got, err := leaser.AcquireLogLease(ctx, "b", "http://b", testLeaseTTL); err != nil || got || l.Holder != "a" || !l.Live {
		t.Fatalf("b acquires a live lease of a: %+v %v %v", l, got, err)
	}
	expireLease(t, db)
	if cur, err := leaser.CurrentLogLease(ctx); err != nil || cur.Live || cur.Holder != "a" {
		t.Fatalf("after expiry: %+v %v, want a's lease not live", cur, err)
	}
	b, got, err := leaser.AcquireLogLease(ctx, "b", "http://b", testLeaseTTL)
	if err != nil || !got || b.Token != a.Token+1 || b.Holder != "b" || !b.Live {
		t.Fatalf("b takes over the expired lease: %+v %v %v, want token %d", b, got, err, a.Token+1)
	}
	if err := leaser.RenewLogLease(ctx, "a", a.Token, testLeaseTTL); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a renews after the takeover: %v, want ErrLeaseLost", err)
	}
	if err := leaser.AppendLeavesFenced(ctx, a.Token, 0, [][]byte{[]byte("late")}, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a appends after the takeover: %v, want ErrLeaseLost", err)
	}
	if err := leaser.AppendLeavesFenced(ctx, b.Token, 0, [][]byte{[]byte("b0")}, nil); err != nil {
		t.Fatalf("b appends: %v", err)
	}
	if n, err := db.Ledger().Size(ctx); err != nil || n != 1 {
		t.Fatalf("log size %d %v, want 1 (b's leaf only)", n, err)
	}
}

// TestLogLeaseExpiresByTTL: a lease acquired for a moment lapses by the
// database clock and another process takes it; the test waits for the
// takeover, which must happen, without deciding anything by time.
func TestLogLeaseExpiresByTTL(t *testing.T) {
	ctx := context.Background()
	leaser := openFresh(t).Ledger().(store.LogLeaser)
	a, got, err := leaser.AcquireLogLease(ctx, "a", "", time.Millisecond)
	if err != nil || !got {
		t.Fatalf("a acquires: %v %v", got, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, got, err := leaser.AcquireLogLease(ctx, "b", "", testLeaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			if b.Token != a.Token+1 {
				t.Fatalf("token %d after the takeover, want %d", b.Token, a.Token+1)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's 1 ms lease never lapsed: %+v", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLogLeaseFencing: appends carry the fencing token; a released lease
// passes to the next process at once with a new token, and appends with
// the old token write nothing, not even when the log size matches.
func TestLogLeaseFencing(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	leaser, ledger := db.Ledger().(store.LogLeaser), db.Ledger()
	if err := leaser.AppendLeavesFenced(ctx, 1, 0, [][]byte{[]byte("x")}, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("append before any lease: %v, want ErrLeaseLost", err)
	}
	a, _, err := leaser.AcquireLogLease(ctx, "a", "http://a", testLeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaser.AppendLeavesFenced(ctx, a.Token, 0, [][]byte{[]byte("a0"), []byte("a1")}, nil); err != nil {
		t.Fatalf("a appends: %v", err)
	}
	if err := leaser.AppendLeavesFenced(ctx, a.Token, 1, [][]byte{[]byte("a2")}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a appends at a stale size: %v, want ErrConflict", err)
	}
	if err := leaser.ReleaseLogLease(ctx, "a", a.Token); err != nil {
		t.Fatal(err)
	}
	if cur, err := leaser.CurrentLogLease(ctx); err != nil || cur.Live || cur.Holder != "" {
		t.Fatalf("after release: %+v %v, want no holder", cur, err)
	}
	b, got, err := leaser.AcquireLogLease(ctx, "b", "http://b", testLeaseTTL)
	if err != nil || !got || b.Token != a.Token+1 {
		t.Fatalf("b after the release: %+v %v %v", b, got, err)
	}
	if err := leaser.AppendLeavesFenced(ctx, a.Token, 2, [][]byte{[]byte("a2")}, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a appends after its release: %v, want ErrLeaseLost", err)
	}
	if err := leaser.RenewLogLease(ctx, "a", a.Token, testLeaseTTL); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a renews after its release: %v", err)
	}
	if err := leaser.ReleaseLogLease(ctx, "a", a.Token); err != nil {
		t.Fatalf("a releases a lease it lost: %v", err)
	}
	if cur, _ := leaser.CurrentLogLease(ctx); cur.Holder != "b" || !cur.Live {
		t.Fatalf("a's stale release freed b's lease: %+v", cur)
	}
	if n, _ := ledger.Size(ctx); n != 2 {
		t.Fatalf("log size %d, want 2", n)
	}
}

// TestLogLeaseRefusesBadArguments: bad holder, address or ttl are named.
func TestLogLeaseRefusesBadArguments(t *testing.T) {
	leaser := openFresh(t).Ledger().(store.LogLeaser)
	for _, tc := range []struct {
		holder, addr string
		ttl          time.Duration
	}{{"", "x", time.Second}, {"a\x00", "x", time.Second}, {"a", "\xff", time.Second}, {"a", "x", 0}} {
		if _, _, err := leaser.AcquireLogLease(context.Background(), tc.holder, tc.addr, tc.ttl); !errors.Is(err, errBadLease) {
			t.Errorf("acquire(%q, %q, %s): %v, want errBadLease", tc.holder, tc.addr, tc.ttl, err)
		}
	}
}

// BenchmarkAppendLeavesFenced measures one-leaf appends under the lease,
// the rate the single log writer can sustain on this database.
func BenchmarkAppendLeavesFenced(b *testing.B) {
	ctx := context.Background()
	db := openFresh(b)
	leaser := db.Ledger().(store.LogLeaser)
	l, _, err := leaser.AcquireLogLease(ctx, "bench", "", testLeaseTTL)
	if err != nil {
		b.Fatal(err)
	}
	leaf := make([]byte, 600)
	node := []store.TreeNode{{TreeNodeID: store.TreeNodeID{}, Hash: make([]byte, 32)}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		node[0].Index = uint64(i)
		if err := leaser.AppendLeavesFenced(ctx, l.Token, uint64(i), [][]byte{leaf}, node); err != nil {
			b.Fatal(err)
		}
	}
}
