package pgstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

func TestLocksLeaseAndTakeOver(t *testing.T) {
	ctx := context.Background()
	l := openFresh(t).Locks()
	t0 := time.Unix(1_700_000_000, 0)
	steps := []struct {
		name, owner string
		now         time.Time
		want        bool
	}{
		{"a", "one", t0, true},                        // free
		{"a", "two", t0.Add(time.Second), false},      // held by one
		{"b", "two", t0.Add(time.Second), true},       // another name
		{"a", "one", t0.Add(2 * time.Second), true},   // renewal by its owner
		{"a", "two", t0.Add(11 * time.Second), false}, // renewed until t0+12s
		{"a", "two", t0.Add(12 * time.Second), true},  // expired: taken over
		{"a", "one", t0.Add(13 * time.Second), false}, // one lost it
	}
	for i, st := range steps {
		got, err := l.TryLock(ctx, st.name, st.owner, st.now, st.now.Add(10*time.Second))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.want {
			t.Fatalf("step %d: TryLock(%s, %s) = %v, want %v", i, st.name, st.owner, got, st.want)
		}
	}
	if err := l.Unlock(ctx, "a", "one"); err != nil { // not its lease any more: no effect
		t.Fatal(err)
	}
	if ok, _ := l.TryLock(ctx, "a", "three", t0.Add(14*time.Second), t0.Add(20*time.Second)); ok {
		t.Fatal("a stale owner's Unlock released the lease of another")
	}
	if err := l.Unlock(ctx, "a", "two"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.TryLock(ctx, "a", "three", t0.Add(14*time.Second), t0.Add(20*time.Second)); !ok {
		t.Fatal("a released lease could not be taken")
	}
}

func TestLocksOneWinnerAmongConcurrentTakers(t *testing.T) {
	ctx := context.Background()
	l := openFresh(t).Locks()
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := l.TryLock(ctx, "session/x", "owner-"+string(rune('a'+i)), now, now.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 16 concurrent takers got the lease, want 1", won)
	}
}

func TestRateLimiterTokenBucket(t *testing.T) {
	ctx := context.Background()
	r := openFresh(t).RateLimiter()
	t0 := time.Unix(1_700_000_000, 0)
	take := func(key string, at time.Time) bool {
		t.Helper()
		ok, err := r.Take(ctx, key, at, 2, 3) // 2 per second, burst 3
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range 3 {
		if !take("k", t0) {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	if take("k", t0) {
		t.Fatal("a fourth take at the same instant was allowed past a burst of 3")
	}
	if !take("other", t0) {
		t.Fatal("another key shares the bucket")
	}
	if !take("k", t0.Add(500*time.Millisecond)) { // one token back after 0.5 s at 2/s
		t.Fatal("the refill after 0.5 s was not granted")
	}
	if take("k", t0.Add(500*time.Millisecond)) {
		t.Fatal("more than the refill was granted")
	}
	if take("k", t0.Add(-time.Hour)) { // a clock behind the bucket refills nothing
		t.Fatal("a clock behind the bucket's last take refilled it")
	}
	for i := range 3 { // long idle: full again, never more than the burst
		if !take("k", t0.Add(time.Hour)) {
			t.Fatalf("take %d after an hour refused", i+1)
		}
	}
	if take("k", t0.Add(time.Hour)) {
		t.Fatal("an idle bucket refilled past its burst")
	}
	for _, bad := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := r.Take(ctx, "k", t0, bad.rate, bad.burst); err == nil {
			t.Errorf("Take with rate %v burst %d: no error", bad.rate, bad.burst)
		}
	}
}

func TestRateLimiterSharedAcrossConnections(t *testing.T) {
	ctx := context.Background()
	dsn, _ := pgtest.NewSchema(t)
	a, b := openDSN(t, dsn).RateLimiter(), openDSN(t, dsn).RateLimiter()
	now := time.Now()
	granted := 0
	for i := range 10 {
		r := a
		if i%2 == 1 {
			r = b
		}
		ok, err := r.Take(ctx, "shared", now, 0.001, 4)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			granted++
		}
	}
	if granted != 4 {
		t.Fatalf("two stores on one database granted %d takes, want the one burst of 4", granted)
	}
}
