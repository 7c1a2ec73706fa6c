package registry

import (
	"crypto/sha256"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// maxOwnLeaves bounds ownLeaves: the leaves appended since the book last
// caught up with the log (it does on every listing and reputation read).
const maxOwnLeaves = 256

// ownLeaves remembers the reputation facts of the leaves this registry
// appended, by leaf index and the SHA-256 of the leaf's bytes, so that the
// book reads them without decoding the leaf again; a leaf with other bytes
// at that index misses. It holds at most max leaves and starts over when
// full; it is safe for concurrent use.
type ownLeaves struct {
	mu  sync.Mutex
	m   map[uint64]ownLeaf
	max int
}

// ownLeaf is the digest of a leaf's bytes and the facts they give.
type ownLeaf struct {
	sum   [sha256.Size]byte
	facts []reputation.Fact
}

func newOwnLeaves(max int) *ownLeaves { return &ownLeaves{max: max} }

// add remembers that leaf, appended at index, gives facts.
func (o *ownLeaves) add(index uint64, leaf []byte, facts []reputation.Fact) {
	e := ownLeaf{sum: sha256.Sum256(leaf), facts: facts}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= o.max {
		o.m = make(map[uint64]ownLeaf)
	}
	o.m[index] = e
}

// take returns the facts remembered for leaf at index, and forgets them.
func (o *ownLeaves) take(index uint64, leaf []byte) ([]reputation.Fact, bool) {
	o.mu.Lock()
	e, ok := o.m[index]
	delete(o.m, index)
	o.mu.Unlock()
	if !ok || e.sum != sha256.Sum256(leaf) {
		return nil, false
	}
	return e.facts, true
}
