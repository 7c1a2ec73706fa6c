package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// pruneEvery is how many recordings pass between sweeps of expired keys.
const pruneEvery = 1024

// Nonces is an in-memory store.Nonces. Expired keys are swept out every
// pruneEvery recordings, so memory stays proportional to live keys.
type Nonces struct {
	mu      sync.Mutex
	expires map[string]time.Time
	writes  int
}

var _ store.Nonces = (*Nonces)(nil)

// NewNonces returns an empty nonce store.
func NewNonces() *Nonces {
	return &Nonces{expires: map[string]time.Time{}}
}

// RecordOnce records key until expires and reports whether it was new (or
// its previous recording had expired).
func (n *Nonces) RecordOnce(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if exp, ok := n.expires[key]; ok && exp.After(now) {
		return false, nil
	}
	n.expires[key] = expires
	if n.writes++; n.writes%pruneEvery == 0 {
		for k, exp := range n.expires {
			if !exp.After(now) {
				delete(n.expires, k)
			}
		}
	}
	return true, nil
}
