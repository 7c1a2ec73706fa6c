package notify

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestLocalTwoSubscribers(t *testing.T) {
	l := NewLocal()
	a, b := subscribe(t, "a", l), subscribe(t, "b", l)
	a.expect(t, AllSessions)
	b.expect(t, AllSessions)
	publishAll(t, l, "s1", "s2", "s1")
	for _, s := range []*subscription{a, b} {
		s.expect(t, "s1")
		s.expect(t, "s2")
		s.expect(t, "s1")
		s.expectNothingQueued(t)
	}
}

// TestLocalOverflowCollapses has a subscriber fall behind: Publish must not
// block, and the subscriber must get AllSessions for what it missed.
func TestLocalOverflowCollapses(t *testing.T) {
	l := NewLocal()
	release := make(chan struct{})
	got := make(chan string, 2*localQueue)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		first := true
		done <- l.Subscribe(ctx, func(id string) {
			got <- id
			if first {
				first = false
				<-release // block in the first call, so the queue fills
			}
		})
	}()
	if first := <-got; first != AllSessions {
		t.Fatalf("first notification %q", first)
	}
	for i := range localQueue + 10 {
		publishAll(t, l, fmt.Sprintf("s%d", i)) // must not block
	}
	close(release)
	if id := <-got; id != AllSessions {
		t.Fatalf("after an overflow got %q, want AllSessions", id)
	}
	publishAll(t, l, "fresh")
	if id := <-got; id != "fresh" {
		t.Fatalf("after the overflow got %q, want the next publish", id)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
}

func TestLocalUnsubscribes(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- l.Subscribe(ctx, func(string) { close(ready) }) }()
	<-ready
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	l.mu.Lock()
	n := len(l.subs)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d subscribers left after cancel", n)
	}
	publishAll(t, l, "s1") // nobody listening: no block, no error
}

func TestLocalPublishRejects(t *testing.T) {
	testPublishRejects(t, NewLocal())
}
