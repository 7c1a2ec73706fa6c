package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// nodeCacheSize bounds the tree nodes kept in memory besides the compact
// range: about the nodes of the last 2,000 appends, which the consistency
// proofs between recent heads (what clients ask for) mostly need.
const nodeCacheSize = 4096

// maxAppendAttempts bounds how often an append catches up with another
// writer of the same ledger before it gives up.
const maxAppendAttempts = 8

// merkleLog is the transparency log's Merkle tree (RFC 9162 hashing), kept
// in the Ledger next to the leaves: the hash of every perfect subtree is
// stored with the leaf that completes it. In memory there is only the
// compact range of the whole tree (one hash per one-bit of the size, at
// most 64) and a bounded cache of nodes, so memory does not grow with the
// log. Opening reads the tree size and the compact range's hashes; leaves
// stored without their nodes (a writer that stopped between the two, or a
// ledger from before the tree was stored) are hashed again, and only those.
type merkleLog struct {
	ledger store.Ledger
	log    zerolog.Logger
	// appendLeaves writes leaves with their nodes: the Ledger's
	// AppendLeaves, or its fenced append under the log writer lease.
	appendLeaves func(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error
	rf           *compact.RangeFactory
	cache        *nodeCache

	appendMu sync.Mutex   // one append or catch-up at a time
	mu       sync.RWMutex // guards rng; an installed range is never changed
	rng      *compact.Range
}

// openMerkleLog opens the tree kept in ledger, hashing any leaves stored
// without their nodes.
func openMerkleLog(ctx context.Context, ledger store.Ledger, log zerolog.Logger) (*merkleLog, error) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	l := &merkleLog{ledger: ledger, log: log, appendLeaves: ledger.AppendLeaves, rf: rf, cache: newNodeCache(nodeCacheSize), rng: rf.NewEmptyRange(0)}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.catchUpLocked(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// current returns the installed range: the tree of every leaf hashed.
func (l *merkleLog) current() *compact.Range {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rng
}

// size is the number of leaves in the tree.
func (l *merkleLog) size() uint64 { return l.current().End() }

// refresh brings the tree up to the ledger, which another process writes.
func (l *merkleLog) refresh(ctx context.Context) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return l.catchUpLocked(ctx)
}

// catchUpLocked brings the tree up to the ledger: to the tree size stored
// there (appends of another writer) and then over the leaves stored
// without their nodes. Callers hold appendMu.
func (l *merkleLog) catchUpLocked(ctx context.Context) error {
	tree, err := l.ledger.TreeSize(ctx)
	if err != nil {
		return fmt.Errorf("registry: merkle tree size: %w", err)
	}
	size, err := l.ledger.Size(ctx)
	if err != nil {
		return fmt.Errorf("registry: log size: %w", err)
	}
	end := l.size()
	switch {
	case tree > size:
		return fmt.Errorf("registry: the ledger's merkle tree has %d leaves, its log only %d", tree, size)
	case tree < end:
		return fmt.Errorf("registry: the ledger's merkle tree has %d leaves, fewer than the %d already hashed here", tree, end)
	case tree > end:
		r, err := l.loadRange(ctx, tree)
		if err != nil {
			return err
		}
		l.install(r, nil)
	}
	if tree < size {
		return l.repairLocked(ctx, tree, size)
	}
	return nil
}

// repairLocked hashes leaves [from, to), which the ledger holds without
// their tree nodes, and stores the nodes, maxBatchLeaves at a time.
// Callers hold appendMu.
func (l *merkleLog) repairLocked(ctx context.Context, from, to uint64) error {
	l.log.Warn().Uint64("from", from).Uint64("to", to).Msg("hashing log leaves stored without their merkle tree nodes")
	for start := from; start < to; start += maxBatchLeaves {
		end := min(start+maxBatchLeaves, to)
		leaves, err := l.ledger.Leaves(ctx, start, end)
		if err != nil {
			return fmt.Errorf("registry: read log leaves [%d, %d): %w", start, end, err)
		}
		next, nodes, err := l.extended(leaves)
		if err != nil {
			return err
		}
		if err := l.ledger.PutTreeNodes(ctx, end, nodes); err != nil {
			return fmt.Errorf("registry: store merkle nodes of leaves [%d, %d): %w", start, end, err)
		}
		l.install(next, nodes)
	}
	return nil
}

// extended returns the tree extended by leaves, and the nodes the leaves
// complete, without installing it. Callers hold appendMu.
func (l *merkleLog) extended(leaves [][]byte) (*compact.Range, []store.TreeNode, error) {
	cur := l.current()
	r, err := l.rf.NewRange(0, cur.End(), slices.Clone(cur.Hashes()))
	if err != nil {
		return nil, nil, fmt.Errorf("registry: merkle range: %w", err)
	}
	nodes := make([]store.TreeNode, 0, 2*len(leaves))
	visit := func(id compact.NodeID, hash []byte) {
		nodes = append(nodes, store.TreeNode{TreeNodeID: storeNodeID(id), Hash: hash})
	}
	for _, leaf := range leaves {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(leaf), visit); err != nil {
			return nil, nil, fmt.Errorf("registry: merkle append: %w", err)
		}
	}
	return r, nodes, nil
}

// install makes r the tree and caches the nodes new in it. Callers hold
// appendMu.
func (l *merkleLog) install(r *compact.Range, nodes []store.TreeNode) {
	l.mu.Lock()
	l.rng = r
	l.mu.Unlock()
	for _, n := range nodes {
		l.cache.add(n.TreeNodeID, n.Hash)
	}
}

// append stores leaf in the ledger with the tree nodes it completes, and
// returns its index, the root of the tree it ends and its inclusion proof
// in that tree. When another writer of the ledger appended first, the tree
// takes its leaves and the append is tried again.
func (l *merkleLog) append(ctx context.Context, leaf []byte) (uint64, []byte, [][]byte, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	for attempt := 1; ; attempt++ {
		cur := l.current()
		idx := cur.End()
		next, nodes, err := l.extended([][]byte{leaf})
		if err != nil {
			return 0, nil, nil, err
		}
		err = l.appendLeaves(ctx, idx, [][]byte{leaf}, nodes)
		if errors.Is(err, store.ErrConflict) && attempt < maxAppendAttempts {
			if err := l.catchUpLocked(ctx); err != nil {
				return 0, nil, nil, err
			}
			continue
		}
		if err != nil {
			return 0, nil, nil, fmt.Errorf("registry: append log leaf %d: %w", idx, err)
		}
		l.install(next, nodes)
		root, err := next.GetRootHash(nil)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("registry: merkle root: %w", err)
		}
		// The last leaf's path is the compact range before it, lowest first.
		path := slices.Clone(cur.Hashes())
		slices.Reverse(path)
		return idx, root, path, nil
	}
}

// within returns the tree, or an error when size is beyond it.
func (l *merkleLog) within(size uint64) (*compact.Range, error) {
	r := l.current()
	if size > r.End() {
		return nil, fmt.Errorf("registry: tree size %d is beyond the log size %d", size, r.End())
	}
	return r, nil
}

// rootAt returns the root hash of the tree of the first size leaves.
func (l *merkleLog) rootAt(ctx context.Context, size uint64) ([]byte, error) {
	r, err := l.within(size)
	switch {
	case err != nil:
		return nil, err
	case size == 0:
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	case size < r.End():
		if r, err = l.loadRange(ctx, size); err != nil {
			return nil, err
		}
	}
	return r.GetRootHash(nil)
}

// loadRange reads the compact range of the first size leaves.
func (l *merkleLog) loadRange(ctx context.Context, size uint64) (*compact.Range, error) {
	hashes, err := l.nodes(ctx, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	r, err := l.rf.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("registry: merkle range of size %d: %w", size, err)
	}
	return r, nil
}

// inclusion returns the inclusion proof of leaf index in the tree of size.
func (l *merkleLog) inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	if _, err := l.within(size); err != nil {
		return nil, err
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("registry: inclusion proof: %w", err)
	}
	return l.rehash(ctx, n)
}

// consistency returns the consistency proof between tree sizes size1 <= size2.
func (l *merkleLog) consistency(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if _, err := l.within(size2); err != nil {
		return nil, err
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("registry: consistency proof: %w", err)
	}
	return l.rehash(ctx, n)
}

// rehash fetches the proof's node hashes and folds the ephemeral node.
func (l *merkleLog) rehash(ctx context.Context, n proof.Nodes) ([][]byte, error) {
	hashes, err := l.nodes(ctx, n.IDs)
	if err != nil {
		return nil, err
	}
	return n.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// nodes returns the hashes of ids from the cache, and the rest from the
// ledger in one read. The hashes are shared with the cache: callers must
// not change their bytes.
func (l *merkleLog) nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var missing []store.TreeNodeID
	var at []int
	for i, id := range ids {
		sid := storeNodeID(id)
		if h, ok := l.cache.get(sid); ok {
			out[i] = h
			continue
		}
		missing = append(missing, sid)
		at = append(at, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	hashes, err := l.ledger.TreeNodes(ctx, missing)
	if err != nil {
		return nil, fmt.Errorf("registry: read merkle nodes: %w", err)
	}
	for j, h := range hashes {
		out[at[j]] = h
		l.cache.add(missing[j], h)
	}
	return out, nil
}

func storeNodeID(id compact.NodeID) store.TreeNodeID {
	return store.TreeNodeID{Level: uint8(id.Level), Index: id.Index}
}

// nodeCache keeps at most max node hashes, forgetting the oldest first.
type nodeCache struct {
	mu    sync.Mutex
	max   int
	byID  map[store.TreeNodeID][]byte
	order []store.TreeNodeID // a ring: next is the oldest once full
	next  int
}

func newNodeCache(max int) *nodeCache {
	return &nodeCache{max: max, byID: make(map[store.TreeNodeID][]byte, max), order: make([]store.TreeNodeID, max)}
}

func (c *nodeCache) get(id store.TreeNodeID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.byID[id]
	return h, ok
}

func (c *nodeCache) add(id store.TreeNodeID, hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; ok {
		return
	}
	if len(c.byID) == c.max {
		delete(c.byID, c.order[c.next])
	}
	c.byID[id] = hash
	c.order[c.next] = id
	c.next = (c.next + 1) % c.max
}

// len is the number of cached nodes.
func (c *nodeCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}
