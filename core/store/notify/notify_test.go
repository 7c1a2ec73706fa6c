package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// waitTimeout bounds every wait for a notification; it is only reached
// when a test fails.
const waitTimeout = 10 * time.Second

// subscription runs Subscribe in the background and records what fn gets.
type subscription struct {
	name string
	ids  chan string
	done chan error
}

// subscribe starts n.Subscribe; the test's cleanup cancels it and checks
// that it returned context.Canceled.
func subscribe(t *testing.T, name string, n Notifier) *subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{name: name, ids: make(chan string, 4096), done: make(chan error, 1)}
	go func() { s.done <- n.Subscribe(ctx, func(id string) { s.ids <- id }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Subscribe returned %v after cancel, want context.Canceled", name, err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("%s: Subscribe did not return after cancel", name)
		}
	})
	return s
}

// expect fails the test unless the next notification is want.
func (s *subscription) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-s.ids:
		if got != want {
			t.Fatalf("%s: got notification %q, want %q", s.name, got, want)
		}
	case err := <-s.done:
		t.Fatalf("%s: Subscribe returned %v while waiting for %q", s.name, err, want)
	case <-time.After(waitTimeout):
		t.Fatalf("%s: no notification %q within %v", s.name, want, waitTimeout)
	}
}

// expectNothingQueued fails the test if a notification is waiting.
func (s *subscription) expectNothingQueued(t *testing.T) {
	t.Helper()
	select {
	case got := <-s.ids:
		t.Fatalf("%s: unexpected notification %q", s.name, got)
	default:
	}
}

// randomHex returns 8 random bytes in hex, for names no other test uses.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// publishAll publishes ids in order through n.
func publishAll(t *testing.T, n Notifier, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := n.Publish(context.Background(), id); err != nil {
			t.Fatalf("Publish(%q): %v", id, err)
		}
	}
}

// testPublishRejects checks the IDs every Notifier refuses.
func testPublishRejects(t *testing.T, n Notifier) {
	t.Helper()
	for _, id := range []string{AllSessions, strings.Repeat("x", MaxIDLen+1), "nul\x00", "bad\xff"} {
		if err := n.Publish(context.Background(), id); err == nil {
			t.Errorf("Publish(%.20q) succeeded", id)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Publish(ctx, "s1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context = %v", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults(DefaultRedisChannel)
	if err != nil {
		t.Fatal(err)
	}
	if o.Channel != DefaultRedisChannel || o.MinBackoff != DefaultMinBackoff || o.MaxBackoff != DefaultMaxBackoff || o.HealthInterval != DefaultHealthInterval {
		t.Fatalf("defaults = %+v", o)
	}
	if o, err := (Options{MinBackoff: time.Minute}).withDefaults("c"); err != nil || o.MaxBackoff != time.Minute {
		t.Fatalf("MinBackoff above the default MaxBackoff: %+v, %v", o, err)
	}
	if _, err := (Options{MinBackoff: time.Second, MaxBackoff: time.Millisecond}).withDefaults("c"); err == nil {
		t.Fatal("MaxBackoff below MinBackoff accepted")
	}
}

func TestBackoff(t *testing.T) {
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000} // ms: doubling from min, capped at max
	for range 50 {
		b := backoff{min: 100 * time.Millisecond, max: time.Second}
		for i, c := range ceilings {
			c *= time.Millisecond
			if d := b.next(); d < c/2 || d > c {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", i, d, c/2, c)
			}
		}
		b.reset()
		if d := b.next(); d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("delay after reset = %v, want within [50ms, 100ms]", d)
		}
	}
}

func FuzzCheckID(f *testing.F) {
	for _, seed := range []string{"s1", "", "nul\x00", "bad\xff", "é中", strings.Repeat("x", MaxIDLen)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := checkID(id)
		valid := id != "" && len(id) <= MaxIDLen && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
		if (err == nil) != valid {
			t.Fatalf("checkID(%q) = %v, want valid=%v", id, err, valid)
		}
		if err != nil {
			return
		}
		l := NewLocal()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan string, 2)
		done := make(chan error, 1)
		go func() { done <- l.Subscribe(ctx, func(s string) { got <- s }) }()
		if first := <-got; first != AllSessions {
			t.Fatalf("first notification %q", first)
		}
		if err := l.Publish(ctx, id); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != id {
			t.Fatalf("delivered %q, published %q", s, id)
		}
		cancel()
		<-done
	})
}
