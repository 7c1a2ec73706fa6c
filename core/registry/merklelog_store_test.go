package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// countingLedger counts the leaves and tree nodes read from a real ledger.
type countingLedger struct {
	store.Ledger
	leavesRead atomic.Int64
	nodesRead  atomic.Int64
}

func (c *countingLedger) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	out, err := c.Ledger.Leaves(ctx, from, to)
	c.leavesRead.Add(int64(len(out)))
	return out, err
}

func (c *countingLedger) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	c.nodesRead.Add(int64(len(ids)))
	return c.Ledger.TreeNodes(ctx, ids)
}

// treeLedgers are the real ledgers the tree is checked on.
var treeLedgers = []struct {
	name string
	open func(t *testing.T) store.Ledger
}{
	{"memstore", func(*testing.T) store.Ledger { return memstore.NewLedger() }},
	{"sqlite", func(t *testing.T) store.Ledger {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db.Ledger()
	}},
}

func openTree(t *testing.T, ledger store.Ledger) *merkleLog {
	t.Helper()
	l, err := openMerkleLog(context.Background(), ledger, zerolog.Nop())
	if err != nil {
		t.Fatalf("open the merkle log: %v", err)
	}
	return l
}

func testLeaf(i int) []byte { return fmt.Appendf(nil, "leaf %d", i) }

// appendTestLeaves appends leaves [from, to) through the tree.
func appendTestLeaves(t *testing.T, l *merkleLog, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if idx, _, _, err := l.append(context.Background(), testLeaf(i)); err != nil || idx != uint64(i) {
			t.Fatalf("append %d: index %d, %v", i, idx, err)
		}
	}
}

// checkTree checks the tree's size, its root against the reference, and
// an inclusion proof of every step leaves and a consistency proof from
// every step size.
func checkTree(t *testing.T, l *merkleLog, n, step int) {
	t.Helper()
	ctx := context.Background()
	var leaves [][]byte
	for i := range n {
		leaves = append(leaves, testLeaf(i))
	}
	if got := l.size(); got != uint64(n) {
		t.Fatalf("tree size %d, want %d", got, n)
	}
	root, err := l.rootAt(ctx, uint64(n))
	if err != nil || !bytes.Equal(root, referenceRoot(leaves)) {
		t.Fatalf("root of %d leaves differs from the reference (%v)", n, err)
	}
	h := head(uint64(n), root)
	for i := 0; i < n; i += step {
		p, err := l.inclusion(ctx, uint64(i), uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := anp.VerifyInclusion(leaves[i], uint64(i), h, hexAll(p)); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", i, n, err)
		}
		old, err := l.rootAt(ctx, uint64(i+1))
		if err != nil || !bytes.Equal(old, referenceRoot(leaves[:i+1])) {
			t.Fatalf("root of size %d differs from the reference (%v)", i+1, err)
		}
		c, err := l.consistency(ctx, uint64(i+1), uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := anp.VerifyConsistency(head(uint64(i+1), old), h, hexAll(c)); err != nil {
			t.Fatalf("consistency %d -> %d: %v", i+1, n, err)
		}
	}
}

// TestMerkleLogReopenReadsOnlyTheCompactRange: opening a tree of 1,000
// leaves reads no leaf and only the compact range's hashes (one per
// one-bit of the size), and every proof still verifies.
func TestMerkleLogReopenReadsOnlyTheCompactRange(t *testing.T) {
	for _, tc := range treeLedgers {
		t.Run(tc.name, func(t *testing.T) {
			ledger := tc.open(t)
			const n = 1000
			appendTestLeaves(t, openTree(t, ledger), 0, n)
			counting := &countingLedger{Ledger: ledger}
			l := openTree(t, counting)
			if got := counting.leavesRead.Load(); got != 0 {
				t.Fatalf("reopening read %d leaves, want 0", got)
			}
			if got, want := counting.nodesRead.Load(), int64(bits.OnesCount64(n)); got != want {
				t.Fatalf("reopening read %d tree nodes, want the %d of the compact range", got, want)
			}
			checkTree(t, l, n, 37)
			appendTestLeaves(t, l, n, n+5)
			checkTree(t, l, n+5, 101)
		})
	}
}

// TestMerkleLogRepairsOnlyTheMissingTail: leaves stored without their
// tree nodes (the process died between the two writes, or the ledger is
// from before the tree was stored) are hashed at the next open, and only
// those: the leaves read are exactly the tail.
func TestMerkleLogRepairsOnlyTheMissingTail(t *testing.T) {
	for _, tc := range treeLedgers {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ledger := tc.open(t)
			const hashed, tail = 300, 7
			appendTestLeaves(t, openTree(t, ledger), 0, hashed)
			for i := hashed; i < hashed+tail; i++ { // the leaves whose nodes were never written
				if _, err := ledger.Append(ctx, testLeaf(i)); err != nil {
					t.Fatal(err)
				}
			}
			if tree, _ := ledger.TreeSize(ctx); tree != hashed {
				t.Fatalf("tree size before the repair %d, want %d", tree, hashed)
			}
			counting := &countingLedger{Ledger: ledger}
			l := openTree(t, counting)
			if got := counting.leavesRead.Load(); got != tail {
				t.Fatalf("the repair read %d leaves, want the %d of the tail", got, tail)
			}
			if tree, _ := ledger.TreeSize(ctx); tree != hashed+tail {
				t.Fatalf("tree size after the repair %d, want %d", tree, hashed+tail)
			}
			checkTree(t, l, hashed+tail, 13)
			// A second open has nothing left to repair.
			again := &countingLedger{Ledger: ledger}
			openTree(t, again)
			if got := again.leavesRead.Load(); got != 0 {
				t.Fatalf("the open after the repair read %d leaves", got)
			}
		})
	}
}

// TestMerkleLogFromALedgerOfLeavesOnly: a ledger written before the tree
// was stored (leaves, no nodes) gets its whole tree at the first open.
func TestMerkleLogFromALedgerOfLeavesOnly(t *testing.T) {
	ctx := context.Background()
	ledger := memstore.NewLedger()
	const n = 2*maxBatchLeaves + 3 // more than one repair batch
	for i := range n {
		if _, err := ledger.Append(ctx, testLeaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	l := openTree(t, ledger)
	checkTree(t, l, n, 211)
	if tree, _ := ledger.TreeSize(ctx); tree != n {
		t.Fatalf("tree size %d, want %d", tree, n)
	}
}

// TestMerkleLogTwoWritersShareALedger: two trees appending to one ledger
// (two registry processes on one database) take each other's leaves
// instead of forking the log; each sees the other's leaves from its next
// append on.
func TestMerkleLogTwoWritersShareALedger(t *testing.T) {
	ledger := treeLedgers[1].open(t)
	a, b := openTree(t, ledger), openTree(t, ledger)
	ctx := context.Background()
	for i := range 40 {
		w := a
		if i%3 == 1 {
			w = b
		}
		idx, root, path, err := w.append(ctx, testLeaf(i))
		if err != nil || idx != uint64(i) {
			t.Fatalf("append %d: index %d, %v", i, idx, err)
		}
		if err := anp.VerifyInclusion(testLeaf(i), idx, head(idx+1, root), hexAll(path)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	checkTree(t, a, 40, 3) // a appended last
	appendTestLeaves(t, b, 40, 41)
	checkTree(t, b, 41, 5)
}

// TestMerkleLogMemoryIsBounded: after 5,000 appends the tree holds its
// compact range and at most nodeCacheSize cached nodes.
func TestMerkleLogMemoryIsBounded(t *testing.T) {
	l := newTestMerkleLog(t)
	appendTestLeaves(t, l, 0, 5000)
	if got := l.cache.len(); got > nodeCacheSize {
		t.Fatalf("%d cached nodes, more than %d", got, nodeCacheSize)
	}
	if got, want := len(l.current().Hashes()), bits.OnesCount64(5000); got != want {
		t.Fatalf("compact range of %d hashes, want %d", got, want)
	}
	checkTree(t, l, 5000, 499) // the evicted nodes come from the ledger
}

// TestMerkleLogRefusesABrokenLedger: a tree size beyond the log, or a
// compact-range node that is missing, fails the open with an error that
// says so.
func TestMerkleLogRefusesABrokenLedger(t *testing.T) {
	ctx := context.Background()
	beyond := memstore.NewLedger()
	if err := beyond.AppendLeaves(ctx, 0, [][]byte{testLeaf(0)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := openMerkleLog(ctx, &shrunkLog{Ledger: beyond}, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "merkle tree has 1 leaves, its log only 0") {
		t.Fatalf("tree beyond the log: %v", err)
	}
	if _, err := openMerkleLog(ctx, beyond, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "read merkle nodes") {
		t.Fatalf("missing range node: %v", err)
	}
}

// shrunkLog reports an empty log over a ledger that has leaves.
type shrunkLog struct{ store.Ledger }

func (shrunkLog) Size(context.Context) (uint64, error) { return 0, nil }

// TestRegistryRestartRepairsTheTail: a registry stopped after leaves were
// stored without their tree nodes serves, after its restart, a head over
// every leaf that is consistent with the head from before.
func TestRegistryRestartRepairsTheTail(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 20 {
		if _, _, _, _, err := e.srv.logLeaf(ctx, testLeaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := e.client(anptest.NewKey(t)).LogHead(ctx)
	if err != nil || before.Size != 20 {
		t.Fatalf("head before: %+v %v", before, err)
	}
	for i := 20; i < 23; i++ {
		if _, err := e.ledger.Append(ctx, testLeaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	c := e.client(anptest.NewKey(t))
	after, err := c.LogHead(ctx)
	if err != nil || after.Size != 23 {
		t.Fatalf("head after the restart: %+v %v, want size 23", after, err)
	}
	p, err := c.Consistency(ctx, 20, 23)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyConsistency(before, after, p); err != nil {
		t.Fatalf("the repaired tree is not an extension of the old one: %v", err)
	}
	incl, err := c.Inclusion(ctx, 21, 23)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.VerifyInclusion(testLeaf(21), 21, after, incl); err != nil {
		t.Fatalf("a repaired leaf: %v", err)
	}
}

// TestNotarizeRetryReadsOnlyTheLeavesSinceItsAttempt: a retried
// notarisation looks for its leaf among the leaves appended since its
// first attempt, not the whole log, and the notarising record is deleted
// once the artifact is stored.
func TestNotarizeRetryReadsOnlyTheLeavesSinceItsAttempt(t *testing.T) {
	var counting *countingLedger
	e := newEnv(t, func(c *Config) {
		counting = &countingLedger{Ledger: &flakyLedger{Ledger: c.Ledger.(*memstore.Ledger), bucket: bucketArtifacts}}
		c.Ledger = counting
	})
	ctx := context.Background()
	const earlier = 40
	for i := range earlier {
		if _, _, _, _, err := e.srv.logLeaf(ctx, testLeaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	seller := e.addSeller("pans.anp")
	c := NewClient(e.ts.URL, anptest.NewKey(t), ClientOptions{Now: e.clock.Now, RootKey: e.srv.RootKey()})
	b := negotiate(t, e, c, "pans.anp")
	a := anptest.SignDeal(t, b.terms(anptest.PubHex(seller.key), 4), b.Key, nil)
	b.commit(t, c, a)
	want := e.srv.tree.size() // the earlier leaves and the seller's binding
	if _, err := c.Notarize(ctx, a); err == nil {
		t.Fatal("the first attempt should fail on the storage error")
	}
	counting.leavesRead.Store(0)
	out, err := c.Notarize(ctx, a)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if out.Receipt.LeafIndex != want {
		t.Fatalf("retry: leaf index %d, want %d", out.Receipt.LeafIndex, want)
	}
	if got := counting.leavesRead.Load(); got != 1 {
		t.Fatalf("the retry read %d leaves, want only the one appended since its first attempt", got)
	}
	for _, key := range []string{a.Terms.SessionID, notarisingFromPfx + a.Terms.SessionID} {
		if _, err := e.ledger.Get(ctx, bucketNotarising, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("notarising record %s after the deal was stored: %v", key, err)
		}
	}
}

// FuzzMerkleLogStore builds a log in three steps — leaves appended through
// the tree, leaves stored without their nodes, a reopen that repairs them —
// and checks the root, an inclusion proof and a consistency proof read
// from the stored nodes against RFC 9162 written out (referenceRoot).
func FuzzMerkleLogStore(f *testing.F) {
	f.Add(uint8(7), uint8(3), uint8(2), uint8(5))
	f.Add(uint8(1), uint8(0), uint8(0), uint8(0))
	f.Add(uint8(0), uint8(9), uint8(4), uint8(8))
	f.Add(uint8(64), uint8(63), uint8(13), uint8(40))
	f.Fuzz(func(t *testing.T, appended, plain, index, first uint8) {
		ctx := context.Background()
		a, p := int(appended%65), int(plain%65)
		n := a + p
		if n == 0 {
			return
		}
		ledger := memstore.NewLedger()
		l := openTree(t, ledger)
		appendTestLeaves(t, l, 0, a)
		for i := a; i < n; i++ {
			if _, err := ledger.Append(ctx, testLeaf(i)); err != nil {
				t.Fatal(err)
			}
		}
		l = openTree(t, ledger)
		var leaves [][]byte
		for i := range n {
			leaves = append(leaves, testLeaf(i))
		}
		root, err := l.rootAt(ctx, uint64(n))
		if err != nil || !bytes.Equal(root, referenceRoot(leaves)) {
			t.Fatalf("root of %d leaves (%d repaired) differs from the reference: %v", n, p, err)
		}
		i, m := uint64(int(index)%n), uint64(int(first)%n+1)
		incl, err := l.inclusion(ctx, i, uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := anp.VerifyInclusion(leaves[i], i, head(uint64(n), root), hexAll(incl)); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", i, n, err)
		}
		cons, err := l.consistency(ctx, m, uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := anp.VerifyConsistency(head(m, referenceRoot(leaves[:m])), head(uint64(n), root), hexAll(cons)); err != nil {
			t.Fatalf("consistency %d -> %d: %v", m, n, err)
		}
	})
}
