package registry

import (
	"context"
	"sync"
	"time"
)

// memNonces is an in-memory store.Nonces. Expired keys are pruned now and
// then so that the map does not grow without bound.
type memNonces struct {
	mu      sync.Mutex
	now     func() time.Time
	seen    map[string]time.Time
	inserts int
}

func newMemNonces(now func() time.Time) *memNonces {
	return &memNonces{now: now, seen: make(map[string]time.Time)}
}

func (n *memNonces) RecordOnce(_ context.Context, key string, expires time.Time) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if exp, ok := n.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	n.seen[key] = expires
	n.inserts++
	if n.inserts%1024 == 0 {
		for k, exp := range n.seen {
			if !now.Before(exp) {
				delete(n.seen, k)
			}
		}
	}
	return true, nil
}
