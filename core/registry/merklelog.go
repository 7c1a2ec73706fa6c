package registry

import (
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// merkleLog is the in-memory Merkle tree of the transparency log (RFC 9162
// hashing). It keeps the hash of every perfect subtree, which is enough to
// build the root, inclusion and consistency proofs for any size up to the
// current one. The leaves themselves live in the Ledger.
type merkleLog struct {
	mu    sync.RWMutex
	rf    *compact.RangeFactory
	rng   *compact.Range
	nodes map[compact.NodeID][]byte
}

func newMerkleLog() *merkleLog {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &merkleLog{rf: rf, rng: rf.NewEmptyRange(0), nodes: make(map[compact.NodeID][]byte)}
}

// appendLeaf adds leaf data and returns its index.
func (l *merkleLog) appendLeaf(data []byte) (uint64, error) {
	h := rfc6962.DefaultHasher.HashLeaf(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := l.rng.End()
	if err := l.rng.Append(h, l.visit); err != nil {
		return 0, fmt.Errorf("registry: merkle append: %w", err)
	}
	return idx, nil
}

// visit stores a perfect-subtree node hash; callers hold l.mu.
func (l *merkleLog) visit(id compact.NodeID, hash []byte) {
	l.nodes[id] = append([]byte(nil), hash...)
}

// size is the number of leaves.
func (l *merkleLog) size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rng.End()
}

// rootAt returns the root hash of the tree of the first size leaves.
func (l *merkleLog) rootAt(size uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size > l.rng.End() {
		return nil, fmt.Errorf("registry: tree size %d is beyond the log size %d", size, l.rng.End())
	}
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := l.lookup(ids)
	if err != nil {
		return nil, err
	}
	r, err := l.rf.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("registry: merkle range of size %d: %w", size, err)
	}
	return r.GetRootHash(nil)
}

// inclusion returns the inclusion proof of leaf index in the tree of size.
func (l *merkleLog) inclusion(index, size uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size > l.rng.End() {
		return nil, fmt.Errorf("registry: tree size %d is beyond the log size %d", size, l.rng.End())
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("registry: inclusion proof: %w", err)
	}
	return l.rehash(n)
}

// consistency returns the consistency proof between tree sizes size1 <= size2.
func (l *merkleLog) consistency(size1, size2 uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size2 > l.rng.End() {
		return nil, fmt.Errorf("registry: tree size %d is beyond the log size %d", size2, l.rng.End())
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("registry: consistency proof: %w", err)
	}
	return l.rehash(n)
}

// rehash fetches the proof's node hashes and folds the ephemeral node.
func (l *merkleLog) rehash(n proof.Nodes) ([][]byte, error) {
	hashes, err := l.lookup(n.IDs)
	if err != nil {
		return nil, err
	}
	return n.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// lookup returns copies of the stored hashes of ids; callers hold l.mu.
func (l *merkleLog) lookup(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := l.nodes[id]
		if !ok {
			return nil, fmt.Errorf("registry: merkle node (level %d, index %d) is missing", id.Level, id.Index)
		}
		out[i] = append([]byte(nil), h...)
	}
	return out, nil
}
