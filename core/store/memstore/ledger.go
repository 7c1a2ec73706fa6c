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
	mu       sync.RWMutex
	buckets  map[string]map[string][]byte
	leaves   [][]byte
	nodes    map[store.TreeNodeID][]byte
	treeSize uint64
}

var _ store.Ledger = (*Ledger)(nil)

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{buckets: map[string]map[string][]byte{}, nodes: map[store.TreeNodeID][]byte{}}
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

// Delete removes a pair; deleting a missing key is not an error.
func (l *Ledger) Delete(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.buckets[bucket], key)
	l.mu.Unlock()
	return nil
}

// List returns copies of a bucket's pairs ordered by key.
func (l *Ledger) List(ctx context.Context, bucket string) ([]store.KV, error) {
	return l.ListPrefix(ctx, bucket, "")
}

// ListPrefix returns copies of the pairs of a bucket whose key starts
// with prefix, ordered by key.
func (l *Ledger) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	b := l.buckets[bucket]
	out := make([]store.KV, 0, len(b))
	for k, v := range b {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.KV{Key: k, Value: cloneBytes(v)})
		}
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.KV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
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

// AppendLeaves adds copies of leaves at first and stores copies of nodes,
// when both the log size and the tree size are first.
func (l *Ledger) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	if _, err := store.CheckAppendLeaves(ctx, first, len(leaves), nodes); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if size := uint64(len(l.leaves)); size != first || l.treeSize != first {
		return fmt.Errorf("memstore: append at %d to a log of size %d and tree size %d: %w", first, size, l.treeSize, store.ErrConflict)
	}
	for _, leaf := range leaves {
		l.leaves = append(l.leaves, cloneBytes(leaf))
	}
	l.putNodes(nodes)
	l.treeSize = uint64(len(l.leaves))
	return nil
}

// PutTreeNodes stores copies of nodes and raises the tree size to size.
func (l *Ledger) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	if err := store.CheckPutTreeNodes(ctx, nodes); err != nil {
		return fmt.Errorf("memstore: put tree nodes: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := uint64(len(l.leaves)); size > n {
		return fmt.Errorf("memstore: tree size %d is beyond the log size %d", size, n)
	}
	l.putNodes(nodes)
	l.treeSize = max(l.treeSize, size)
	return nil
}

// putNodes stores copies of the nodes not stored yet; l.mu is held for writing.
func (l *Ledger) putNodes(nodes []store.TreeNode) {
	for _, n := range nodes {
		if _, ok := l.nodes[n.TreeNodeID]; !ok {
			l.nodes[n.TreeNodeID] = cloneBytes(n.Hash)
		}
	}
}

// TreeNodes returns copies of the hashes of ids.
func (l *Ledger) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := l.nodes[id]
		if !ok {
			return nil, fmt.Errorf("memstore: tree node %d/%d: %w", id.Level, id.Index, store.ErrNotFound)
		}
		out[i] = cloneBytes(h)
	}
	return out, nil
}

// TreeSize returns the number of leaves whose tree nodes are stored.
func (l *Ledger) TreeSize(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.treeSize, nil
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
