package anp_test

import (
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// testTree is an RFC 9162 Merkle tree built with compact ranges. It keeps
// every perfect-subtree node hash, which is all that inclusion and
// consistency proofs for any size up to the current one are made of.
type testTree struct {
	rng   *compact.Range
	nodes map[compact.NodeID][]byte
	roots [][]byte // roots[n] is the root hash of the first n leaves
}

var rangeFactory = compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

func newTestTree() *testTree {
	return &testTree{
		rng:   rangeFactory.NewEmptyRange(0),
		nodes: map[compact.NodeID][]byte{},
		roots: [][]byte{rfc6962.DefaultHasher.EmptyRoot()},
	}
}

func (t *testTree) size() uint64 { return t.rng.End() }

// append adds a leaf and returns its index.
func (t *testTree) append(data []byte) uint64 {
	idx := t.rng.End()
	visit := func(id compact.NodeID, hash []byte) { t.nodes[id] = hash }
	if err := t.rng.Append(rfc6962.DefaultHasher.HashLeaf(data), visit); err != nil {
		panic(err) // appending to an in-memory range cannot fail
	}
	root, err := t.rng.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	t.roots = append(t.roots, root)
	return idx
}

func (t *testTree) rootAt(size uint64) []byte { return t.roots[size] }

// inclusion returns the inclusion proof of leaf index in the tree of size.
func (t *testTree) inclusion(tb testing.TB, index, size uint64) [][]byte {
	tb.Helper()
	n, err := proof.Inclusion(index, size)
	if err != nil {
		tb.Fatalf("inclusion nodes: %v", err)
	}
	return t.rehash(tb, n)
}

// consistency returns the consistency proof from size1 to size2.
func (t *testTree) consistency(tb testing.TB, size1, size2 uint64) [][]byte {
	tb.Helper()
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		tb.Fatalf("consistency nodes: %v", err)
	}
	return t.rehash(tb, n)
}

func (t *testTree) rehash(tb testing.TB, n proof.Nodes) [][]byte {
	tb.Helper()
	hashes := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		h, ok := t.nodes[id]
		if !ok {
			tb.Fatalf("tree has no node %+v", id)
		}
		hashes[i] = h
	}
	out, err := n.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		tb.Fatalf("rehash: %v", err)
	}
	return out
}
