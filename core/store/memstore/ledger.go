package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger is an in-memory store.Ledger.
type Ledger struct {
	mu      sync.RWMutex
	buckets map[string]map[string][]byte
	leaves  [][]byte
}

var _ store.Ledger = (*Ledger)(nil)

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{buckets: map[string]map[string][]byte{}}
}

// Get returns a copy of the value or store.ErrNotFound.
func (l *Ledger) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	v, ok := l.buckets[bucket][key]
	l.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	return cloneBytes(v), nil
}

// Put writes a copy of value.
func (l *Ledger) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	l.bucket(bucket)[key] = cloneBytes(value)
	l.mu.Unlock()
	return nil
}

// PutIfAbsent writes a copy of value if key is new and reports whether it did.
func (l *Ledger) PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(bucket)
	if _, ok := b[key]; ok {
		return false, nil
	}
	b[key] = cloneBytes(value)
	return true, nil
}

// List returns copies of a bucket's pairs ordered by key.
func (l *Ledger) List(ctx context.Context, bucket string) ([]store.KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	b := l.buckets[bucket]
	out := make([]store.KV, 0, len(b))
	for k, v := range b {
		out = append(out, store.KV{Key: k, Value: cloneBytes(v)})
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.KV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes a pair; a missing key is not an error.
func (l *Ledger) Delete(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.buckets[bucket], key)
	l.mu.Unlock()
	return nil
}

// Append adds a copy of leaf to the log and returns its index.
func (l *Ledger) Append(ctx context.Context, leaf []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leaves = append(l.leaves, cloneBytes(leaf))
	return uint64(len(l.leaves) - 1), nil
}

// Leaves returns copies of leaves [from, to); the range must lie within the log.
func (l *Ledger) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size := uint64(len(l.leaves)); from > to || to > size {
		return nil, fmt.Errorf("memstore: leaves [%d, %d) are outside the log of size %d", from, to, size)
	}
	out := make([][]byte, 0, to-from)
	for _, leaf := range l.leaves[from:to] {
		out = append(out, cloneBytes(leaf))
	}
	return out, nil
}

// Size returns the number of leaves.
func (l *Ledger) Size(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return uint64(len(l.leaves)), nil
}

// bucket returns the named bucket, creating it; l.mu must be held for writing.
func (l *Ledger) bucket(name string) map[string][]byte {
	b, ok := l.buckets[name]
	if !ok {
		b = map[string][]byte{}
		l.buckets[name] = b
	}
	return b
}

// cloneBytes copies b, keeping an empty value non-nil.
func cloneBytes(b []byte) []byte { return append([]byte{}, b...) }
