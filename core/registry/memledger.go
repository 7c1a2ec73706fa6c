package registry

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// memLedger is an in-memory store.Ledger for tests and demos. It loses
// everything when the process ends.
type memLedger struct {
	mu      sync.Mutex
	buckets map[string]map[string][]byte
	leaves  [][]byte
}

func newMemLedger() *memLedger {
	return &memLedger{buckets: make(map[string]map[string][]byte)}
}

func (m *memLedger) Get(_ context.Context, bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.buckets[bucket][key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(v), nil
}

func (m *memLedger) Put(_ context.Context, bucket, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bucket(bucket)[key] = clone(value)
	return nil
}

func (m *memLedger) PutIfAbsent(_ context.Context, bucket, key string, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.bucket(bucket)
	if _, ok := b[key]; ok {
		return false, nil
	}
	b[key] = clone(value)
	return true, nil
}

func (m *memLedger) List(_ context.Context, bucket string) ([]store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[bucket]
	out := make([]store.KV, 0, len(b))
	for k, v := range b {
		out = append(out, store.KV{Key: k, Value: clone(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memLedger) Append(_ context.Context, leaf []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves = append(m.leaves, clone(leaf))
	return uint64(len(m.leaves) - 1), nil
}

func (m *memLedger) Leaves(_ context.Context, from, to uint64) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from > to || to > uint64(len(m.leaves)) {
		return nil, fmt.Errorf("memledger: leaves [%d, %d) out of range of %d", from, to, len(m.leaves))
	}
	out := make([][]byte, 0, to-from)
	for _, l := range m.leaves[from:to] {
		out = append(out, clone(l))
	}
	return out, nil
}

func (m *memLedger) Size(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.leaves)), nil
}

func (m *memLedger) bucket(name string) map[string][]byte {
	b, ok := m.buckets[name]
	if !ok {
		b = make(map[string][]byte)
		m.buckets[name] = b
	}
	return b
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

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
