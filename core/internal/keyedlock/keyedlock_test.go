package keyedlock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLockSerialisesOneKey(t *testing.T) {
	var k Map
	var wg sync.WaitGroup
	n := 0
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.Lock("a")
			n++ // the race detector fails the test if two goroutines get here at once
			unlock()
		}()
	}
	wg.Wait()
	if n != 64 {
		t.Fatalf("n = %d, want 64", n)
	}
	if k.Len() != 0 {
		t.Fatalf("%d keys left after every unlock, want 0", k.Len())
	}
}

func TestKeysAreIndependent(t *testing.T) {
	var k Map
	unlockA := k.Lock("a")
	defer unlockA()
	unlockB, err := k.LockWithin(context.Background(), "b", 0)
	if err != nil {
		t.Fatalf("key b blocked by key a: %v", err)
	}
	unlockB()
}

func TestLockWithinGivesUp(t *testing.T) {
	cases := []struct {
		name string
		wait time.Duration
		ctx  func() context.Context
		want error
	}{
		{"try once", 0, context.Background, ErrTimeout},
		{"short wait", time.Millisecond, context.Background, ErrTimeout},
		{"cancelled context", time.Hour, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k Map
			unlock := k.Lock("a")
			_, err := k.LockWithin(tc.ctx(), "a", tc.wait)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if k.Len() != 1 {
				t.Fatalf("%d keys while one holder remains, want 1", k.Len())
			}
			unlock()
			if k.Len() != 0 {
				t.Fatalf("%d keys after unlock, want 0", k.Len())
			}
		})
	}
}

func TestLockWithinTakesAFreedLock(t *testing.T) {
	var k Map
	unlock := k.Lock("a")
	got := make(chan error, 1)
	go func() {
		u, err := k.LockWithin(context.Background(), "a", time.Hour)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("waiter did not get the freed lock: %v", err)
	}
}

func TestUnlockTwiceIsHarmless(t *testing.T) {
	var k Map
	unlock := k.Lock("a")
	unlock()
	unlock()
	if _, err := k.LockWithin(context.Background(), "a", 0); err != nil {
		t.Fatalf("lock after double unlock: %v", err)
	}
}
