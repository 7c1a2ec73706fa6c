package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// TestNonces checks a store.Nonces implementation.
func TestNonces(t *testing.T, newStore func(t *testing.T) store.Nonces) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, n store.Nonces)
	}{
		{"FirstTrueThenFalse", noncesOnce},
		{"KeysAreIndependent", noncesIndependent},
		{"ExpiredKeyRecordableAgain", noncesExpired},
		{"ConcurrentExactlyOne", noncesConcurrent},
		{"CanceledContext", noncesCanceledContext},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func record(t *testing.T, n store.Nonces, key string, expires time.Time) bool {
	t.Helper()
	ok, err := n.RecordOnce(context.Background(), key, expires)
	if err != nil {
		t.Fatalf("RecordOnce(%s): %v", key, err)
	}
	return ok
}

func noncesOnce(t *testing.T, n store.Nonces) {
	exp := time.Now().Add(time.Hour)
	if !record(t, n, "k1", exp) {
		t.Fatal("first RecordOnce = false, want true")
	}
	for i := range 3 {
		if record(t, n, "k1", exp.Add(time.Duration(i)*time.Hour)) {
			t.Fatalf("repeat %d of RecordOnce = true, want false", i+1)
		}
	}
}

func noncesIndependent(t *testing.T, n store.Nonces) {
	exp := time.Now().Add(time.Hour)
	for _, k := range []string{"a", "A", "a ", "b", "é"} {
		if !record(t, n, k, exp) {
			t.Fatalf("RecordOnce(%q) = false on a new key", k)
		}
	}
	if record(t, n, "A", exp) {
		t.Fatal("RecordOnce(A) again = true")
	}
}

func noncesExpired(t *testing.T, n store.Nonces) {
	now := time.Now()
	past := now.Add(-time.Second).Truncate(time.Millisecond)
	if !record(t, n, "old", past) {
		t.Fatal("first RecordOnce with a past expiry = false")
	}
	// Its expiry has passed, so it may be recorded again, this time for long.
	if !record(t, n, "old", now.Add(time.Hour)) {
		t.Fatal("RecordOnce of an expired key = false, want true")
	}
	if record(t, n, "old", now.Add(time.Hour)) {
		t.Fatal("RecordOnce of a re-recorded, live key = true, want false")
	}
	// A live key with a short expiry stays live until then.
	if !record(t, n, "short", now.Add(time.Minute)) || record(t, n, "short", now.Add(time.Minute)) {
		t.Fatal("live key with a short expiry was recorded twice")
	}
	// Many expired keys do not block new ones (backends may prune them).
	for i := range 50 {
		if !record(t, n, fmt.Sprintf("expired-%d", i), past) {
			t.Fatalf("expired-%d not new", i)
		}
	}
	for i := range 50 {
		if !record(t, n, fmt.Sprintf("expired-%d", i), now.Add(time.Hour)) {
			t.Fatalf("expired-%d not recordable again", i)
		}
	}
}

func noncesConcurrent(t *testing.T, n store.Nonces) {
	const callers = 32
	exp := time.Now().Add(time.Hour)
	for round := range 3 {
		key := fmt.Sprintf("race-%d", round)
		var (
			wg    sync.WaitGroup
			wins  atomic.Int32
			start = make(chan struct{})
			errs  = make(chan error, callers)
		)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := n.RecordOnce(context.Background(), key, exp)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("RecordOnce: %v", err)
		}
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d callers recorded the key, want exactly 1", round, w)
		}
	}
}

func noncesCanceledContext(t *testing.T, n store.Nonces) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.RecordOnce(ctx, "k", time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecordOnce with a canceled context = %v, want context.Canceled", err)
	}
	if !record(t, n, "k", time.Now().Add(time.Hour)) {
		t.Fatal("the canceled call recorded the key")
	}
}
