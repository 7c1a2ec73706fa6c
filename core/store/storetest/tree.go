package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// treeCases are the Ledger's tree-node and Delete checks; TestLedger runs them.
var treeCases = []struct {
	name string
	run  func(t *testing.T, l store.Ledger)
}{
	{"AppendLeavesWithNodes", ledgerAppendLeaves},
	{"AppendLeavesConflictWritesNothing", ledgerAppendLeavesConflict},
	{"TreeLagsAfterPlainAppend", ledgerTreeLags},
	{"PutTreeNodesBeyondLogWritesNothing", ledgerPutTreeNodesBeyond},
	{"TreeNodesMissingOrInvalid", ledgerTreeNodesMissing},
	{"TreeNodeKeepsFirstHash", ledgerTreeNodeKeepsHash},
	{"TreeNodesLargeBatch", ledgerTreeNodesLarge},
	{"ConcurrentAppendLeavesDense", ledgerConcurrentAppendLeaves},
	{"TreeCanceledContext", ledgerTreeCanceled},
}

// nodeHash is a distinct 32-byte hash for a node id and a tag.
func nodeHash(id store.TreeNodeID, tag string) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%s", id.Level, id.Index, tag))
	return h[:]
}

// leafNodes returns the level-0 nodes of leaves [first, first+n) and one
// level-1 node per completed pair, tagged tag: the shape of a real append.
func leafNodes(first, n uint64, tag string) []store.TreeNode {
	var out []store.TreeNode
	for i := first; i < first+n; i++ {
		id := store.TreeNodeID{Level: 0, Index: i}
		out = append(out, store.TreeNode{TreeNodeID: id, Hash: nodeHash(id, tag)})
		if i%2 == 1 {
			p := store.TreeNodeID{Level: 1, Index: i / 2}
			out = append(out, store.TreeNode{TreeNodeID: p, Hash: nodeHash(p, tag)})
		}
	}
	return out
}

func idsOf(nodes []store.TreeNode) []store.TreeNodeID {
	out := make([]store.TreeNodeID, len(nodes))
	for i, n := range nodes {
		out[i] = n.TreeNodeID
	}
	return out
}

// assertNodes checks that the ledger holds exactly the hashes of nodes.
func assertNodes(t *testing.T, l store.Ledger, nodes []store.TreeNode) {
	t.Helper()
	got, err := l.TreeNodes(bg, idsOf(nodes))
	if err != nil {
		t.Fatalf("TreeNodes: %v", err)
	}
	if len(got) != len(nodes) {
		t.Fatalf("TreeNodes returned %d hashes for %d ids", len(got), len(nodes))
	}
	for i, n := range nodes {
		if !bytes.Equal(got[i], n.Hash) {
			t.Fatalf("TreeNodes[%d] (%d/%d) = %x, want %x", i, n.Level, n.Index, got[i], n.Hash)
		}
	}
}

// assertSizes checks the log size and the tree size.
func assertSizes(t *testing.T, l store.Ledger, size, tree uint64) {
	t.Helper()
	if n := mustSize(t, l); n != size {
		t.Fatalf("log size %d, want %d", n, size)
	}
	n, err := l.TreeSize(bg)
	if err != nil || n != tree {
		t.Fatalf("TreeSize = %d, %v; want %d", n, err, tree)
	}
}

func assertNodeMissing(t *testing.T, l store.Ledger, id store.TreeNodeID) {
	t.Helper()
	if h, err := l.TreeNodes(bg, []store.TreeNodeID{id}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TreeNodes(%d/%d) = %x, %v; want ErrNotFound", id.Level, id.Index, h, err)
	}
}

func ledgerAppendLeaves(t *testing.T, l store.Ledger) {
	assertSizes(t, l, 0, 0)
	first := leafNodes(0, 1, "a")
	if err := l.AppendLeaves(bg, 0, [][]byte{[]byte("L0")}, first); err != nil {
		t.Fatalf("AppendLeaves(0): %v", err)
	}
	assertSizes(t, l, 1, 1)
	batch := leafNodes(1, 3, "a")
	if err := l.AppendLeaves(bg, 1, [][]byte{[]byte("L1"), nil, []byte("L3")}, batch); err != nil {
		t.Fatalf("AppendLeaves(1, three leaves): %v", err)
	}
	assertSizes(t, l, 4, 4)
	assertNodes(t, l, append(first, batch...))
	leaves, err := l.Leaves(bg, 0, 4)
	if err != nil || len(leaves) != 4 || string(leaves[3]) != "L3" || leaves[2] == nil || len(leaves[2]) != 0 {
		t.Fatalf("Leaves = %q, %v", leaves, err)
	}
	if err := l.AppendLeaves(bg, 4, nil, nil); err != nil {
		t.Fatalf("appending nothing: %v", err)
	}
	assertSizes(t, l, 4, 4)
	// Plain Append and AppendLeaves share the indexes.
	if idx, err := l.Append(bg, []byte("L4")); err != nil || idx != 4 {
		t.Fatalf("Append after AppendLeaves = %d, %v; want 4", idx, err)
	}
	assertSizes(t, l, 5, 4)
}

func ledgerAppendLeavesConflict(t *testing.T, l store.Ledger) {
	if err := l.AppendLeaves(bg, 0, [][]byte{[]byte("L0"), []byte("L1")}, leafNodes(0, 2, "a")); err != nil {
		t.Fatal(err)
	}
	for _, first := range []uint64{0, 1, 3, ^uint64(0)} {
		stray := leafNodes(first&0xffff, 1, "stray")
		err := l.AppendLeaves(bg, first, [][]byte{[]byte("stray")}, stray)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("AppendLeaves(%d) to a log of size 2 = %v, want ErrConflict", first, err)
		}
	}
	assertSizes(t, l, 2, 2)
	assertNodeMissing(t, l, store.TreeNodeID{Level: 0, Index: 3})
	assertNodes(t, l, leafNodes(0, 2, "a")) // the stray nodes of 0 and 1 did not replace these
	if leaves, err := l.Leaves(bg, 0, 2); err != nil || string(leaves[1]) != "L1" {
		t.Fatalf("Leaves = %q, %v", leaves, err)
	}
}

func ledgerTreeLags(t *testing.T, l store.Ledger) {
	for i := range 3 {
		if _, err := l.Append(bg, fmt.Appendf(nil, "L%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	assertSizes(t, l, 3, 0)
	// The tree must catch up before AppendLeaves may continue it.
	if err := l.AppendLeaves(bg, 3, [][]byte{[]byte("L3")}, leafNodes(3, 1, "a")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AppendLeaves past a lagging tree = %v, want ErrConflict", err)
	}
	assertSizes(t, l, 3, 0)
	if err := l.PutTreeNodes(bg, 2, leafNodes(0, 2, "a")); err != nil {
		t.Fatalf("PutTreeNodes(2): %v", err)
	}
	assertSizes(t, l, 3, 2)
	if err := l.PutTreeNodes(bg, 3, leafNodes(2, 1, "a")); err != nil {
		t.Fatalf("PutTreeNodes(3): %v", err)
	}
	assertSizes(t, l, 3, 3)
	// A second writer repairing the same range does not lower the size.
	if err := l.PutTreeNodes(bg, 1, leafNodes(0, 1, "a")); err != nil {
		t.Fatalf("PutTreeNodes(1) after 3: %v", err)
	}
	assertSizes(t, l, 3, 3)
	if err := l.AppendLeaves(bg, 3, [][]byte{[]byte("L3")}, leafNodes(3, 1, "a")); err != nil {
		t.Fatalf("AppendLeaves after the repair: %v", err)
	}
	assertSizes(t, l, 4, 4)
	assertNodes(t, l, leafNodes(0, 4, "a"))
}

func ledgerPutTreeNodesBeyond(t *testing.T, l store.Ledger) {
	if _, err := l.Append(bg, []byte("L0")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTreeNodes(bg, 2, leafNodes(0, 2, "a")); err == nil {
		t.Fatal("PutTreeNodes beyond the log size succeeded")
	}
	assertSizes(t, l, 1, 0)
	assertNodeMissing(t, l, store.TreeNodeID{Level: 0, Index: 0})
	bad := []store.TreeNode{{TreeNodeID: store.TreeNodeID{Level: 64}, Hash: []byte{1}}}
	if err := l.PutTreeNodes(bg, 1, bad); err == nil {
		t.Fatal("PutTreeNodes of a level-64 node succeeded")
	}
	empty := []store.TreeNode{{TreeNodeID: store.TreeNodeID{}, Hash: nil}}
	if err := l.PutTreeNodes(bg, 1, empty); err == nil {
		t.Fatal("PutTreeNodes of an empty hash succeeded")
	}
	if err := l.AppendLeaves(bg, 1, [][]byte{[]byte("L1")}, bad); err == nil {
		t.Fatal("AppendLeaves of a level-64 node succeeded")
	}
	assertSizes(t, l, 1, 0)
}

func ledgerTreeNodesMissing(t *testing.T, l store.Ledger) {
	if got, err := l.TreeNodes(bg, nil); err != nil || len(got) != 0 {
		t.Fatalf("TreeNodes(none) = %x, %v", got, err)
	}
	nodes := leafNodes(0, 4, "a")
	if err := l.AppendLeaves(bg, 0, make([][]byte, 4), nodes); err != nil {
		t.Fatal(err)
	}
	// Any order, repeated ids.
	ids := []store.TreeNodeID{{Level: 1, Index: 1}, {Level: 0, Index: 0}, {Level: 1, Index: 1}}
	got, err := l.TreeNodes(bg, ids)
	if err != nil || len(got) != 3 || !bytes.Equal(got[0], nodeHash(ids[0], "a")) || !bytes.Equal(got[1], nodeHash(ids[1], "a")) || !bytes.Equal(got[2], got[0]) {
		t.Fatalf("TreeNodes(%v) = %x, %v", ids, got, err)
	}
	for _, id := range []store.TreeNodeID{{Level: 2, Index: 0}, {Level: 0, Index: 4}, {Level: 64, Index: 0}, {Level: 0, Index: ^uint64(0)}, {Level: 63, Index: 1}} {
		assertNodeMissing(t, l, id)
	}
	if _, err := l.TreeNodes(bg, []store.TreeNodeID{{Level: 0, Index: 0}, {Level: 5, Index: 0}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TreeNodes with one missing id = %v, want ErrNotFound", err)
	}
}

func ledgerTreeNodeKeepsHash(t *testing.T, l store.Ledger) {
	if err := l.AppendLeaves(bg, 0, [][]byte{[]byte("L0")}, leafNodes(0, 1, "first")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTreeNodes(bg, 1, leafNodes(0, 1, "second")); err != nil {
		t.Fatal(err)
	}
	assertNodes(t, l, leafNodes(0, 1, "first"))
	// Values are copies.
	nodes := leafNodes(1, 1, "a")
	want := append([]byte(nil), nodes[0].Hash...)
	if _, err := l.Append(bg, []byte("L1")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTreeNodes(bg, 2, nodes); err != nil {
		t.Fatal(err)
	}
	copy(nodes[0].Hash, "XXXX")
	got, err := l.TreeNodes(bg, idsOf(nodes[:1]))
	if err != nil || !bytes.Equal(got[0], want) {
		t.Fatalf("node changed through an aliased slice: %x %v", got, err)
	}
	copy(got[0], "YYYY")
	assertNodes(t, l, []store.TreeNode{{TreeNodeID: nodes[0].TreeNodeID, Hash: want}})
}

// ledgerTreeNodesLarge stores a batch bigger than one SQL statement's
// parameters usually allow and reads it back at once.
func ledgerTreeNodesLarge(t *testing.T, l store.Ledger) {
	const n = 3000
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = fmt.Appendf(nil, "leaf-%d", i)
	}
	nodes := leafNodes(0, n, "a")
	if err := l.AppendLeaves(bg, 0, leaves, nodes); err != nil {
		t.Fatalf("AppendLeaves of %d leaves: %v", n, err)
	}
	assertSizes(t, l, n, n)
	assertNodes(t, l, nodes)
	got, err := l.Leaves(bg, n-2, n)
	if err != nil || string(got[1]) != fmt.Sprintf("leaf-%d", n-1) {
		t.Fatalf("Leaves = %q, %v", got, err)
	}
}

// ledgerConcurrentAppendLeaves has 8 writers race to append at the size
// they read: each index is won by exactly one, and the log stays dense.
func ledgerConcurrentAppendLeaves(t *testing.T, l store.Ledger) {
	const writers, each = 8, 6
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		got   = map[uint64]string{}
		errs  = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < each; {
				size, err := l.TreeSize(bg)
				if err != nil {
					errs <- err
					return
				}
				leaf := fmt.Sprintf("writer-%d-leaf-%d", w, i)
				err = l.AppendLeaves(bg, size, [][]byte{[]byte(leaf)}, leafNodes(size, 1, leaf))
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := got[size]; dup {
					errs <- fmt.Errorf("index %d won by %q and %q", size, prev, leaf)
				}
				got[size] = leaf
				mu.Unlock()
				i++
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = writers * each
	assertSizes(t, l, total, total)
	leaves, err := l.Leaves(bg, 0, total)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(total) {
		if string(leaves[i]) != got[i] {
			t.Fatalf("leaf %d = %q, its winner appended %q", i, leaves[i], got[i])
		}
		assertNodes(t, l, leafNodes(i, 1, got[i])[:1])
	}
}

func ledgerTreeCanceled(t *testing.T, l store.Ledger) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := l.AppendLeaves(ctx, 0, [][]byte{[]byte("x")}, leafNodes(0, 1, "a")); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendLeaves with a canceled context = %v, want context.Canceled", err)
	}
	if err := l.PutTreeNodes(ctx, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("PutTreeNodes with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := l.TreeNodes(ctx, []store.TreeNodeID{{}}); !errors.Is(err, context.Canceled) {
		t.Errorf("TreeNodes with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := l.TreeSize(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("TreeSize with a canceled context = %v, want context.Canceled", err)
	}
	if err := l.Delete(ctx, "b", "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a canceled context = %v, want context.Canceled", err)
	}
	assertSizes(t, l, 0, 0)
}
