package registry

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// memNonces is an in-memory store.Nonces. Expired keys are pruned now and
// then so that the map does not grow without bound.
//
// A key is held as its SHA-256 digest and its expiry as Unix nanoseconds:
// each entry lives inside the map (72 bytes of key and value) instead of a
// key string of about a hundred bytes (an envelope key names the sender's
// hex key and the nonce) allocated apart, beside a 24-byte time.Time. Two
// keys with the same digest would need a SHA-256 collision.
type memNonces struct {
	mu      sync.Mutex
	now     func() time.Time
	seen    map[[sha256.Size]byte]int64
	inserts int
}

func newMemNonces(now func() time.Time) *memNonces {
	return &memNonces{now: now, seen: make(map[[sha256.Size]byte]int64)}
}

func (n *memNonces) RecordOnce(_ context.Context, key string, expires time.Time) (bool, error) {
	k := sha256.Sum256([]byte(key))
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now().UnixNano()
	if exp, ok := n.seen[k]; ok && now < exp {
		return false, nil
	}
	n.seen[k] = expires.UnixNano()
	n.inserts++
	if n.inserts%1024 == 0 {
		for k, exp := range n.seen {
			if now >= exp {
				delete(n.seen, k)
			}
		}
	}
	return true, nil
}
