package registry

import (
	"context"
	"testing"
	"time"
)

// TestMemNoncesRecordOnce: a key is fresh once until it expires, keys are
// told apart, and pruning drops only expired keys.
func TestMemNoncesRecordOnce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	n := newMemNonces(func() time.Time { return now })
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		expires time.Duration // after the clock at this step
		fresh   bool
	}{
		{"first use", 0, "env/k/1", time.Minute, true},
		{"replay", 0, "env/k/1", time.Minute, false},
		{"other key", 0, "env/k/2", time.Minute, true},
		{"replay just before expiry", 59 * time.Second, "env/k/1", time.Minute, false},
		{"fresh again once expired", time.Second, "env/k/1", time.Minute, true},
		{"replay of the renewed key", 0, "env/k/1", time.Minute, false},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got, err := n.RecordOnce(ctx, s.key, now.Add(s.expires))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.fresh {
			t.Fatalf("%s: fresh = %v, want %v", s.name, got, s.fresh)
		}
	}
	now = now.Add(2 * time.Minute) // every key above has expired
	for i := 0; i < 1024; i++ {    // the 1024th insert prunes
		if _, err := n.RecordOnce(ctx, "challenge/"+string(rune('a'+i%26))+time.Duration(i).String(), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.RecordOnce(ctx, "env/k/1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.seen) != 1025 {
		t.Fatalf("after pruning the store holds %d keys, want 1025 (the expired ones dropped)", len(n.seen))
	}
}
