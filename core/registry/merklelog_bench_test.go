package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// benchLeafSize is the size of a benchmark log leaf, about that of a
// notarised deal artifact.
const benchLeafSize = 1024

// benchLeaf returns leaf i of a benchmark log: benchLeafSize bytes that
// differ per leaf.
func benchLeaf(i uint64) []byte {
	leaf := make([]byte, benchLeafSize)
	for j := range leaf {
		leaf[j] = byte(i >> (8 * (j % 8)))
	}
	leaf[0] = '{'
	return leaf
}

// openBenchSQLite opens a SQLite ledger at path, closed when b ends.
func openBenchSQLite(b *testing.B, path string) store.Ledger {
	b.Helper()
	db, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db.Ledger()
}

// newBenchServer starts a registry on ledger without an HTTP server.
func newBenchServer(b *testing.B, root ed25519.PrivateKey, ledger store.Ledger) *Server {
	b.Helper()
	s, err := New(context.Background(), Config{Root: root, Ledger: ledger, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkLogAppend measures one append to the transparency log as the
// notary makes it: the leaf (1 KiB) and its tree nodes into the ledger,
// then the new root and the leaf's inclusion proof.
func BenchmarkLogAppend(b *testing.B) {
	for _, tc := range []struct {
		name   string
		ledger func(b *testing.B) store.Ledger
	}{
		{"memstore", func(*testing.B) store.Ledger { return memstore.NewLedger() }},
		{"sqlite", func(b *testing.B) store.Ledger { return openBenchSQLite(b, filepath.Join(b.TempDir(), "ledger.db")) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := newBenchServer(b, anptest.NewKey(b), tc.ledger(b))
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(benchLeafSize)
			var i uint64
			for b.Loop() {
				idx, size, _, _, err := s.logLeaf(ctx, benchLeaf(i))
				if err != nil || idx != i || size != i+1 {
					b.Fatalf("logLeaf %d: index %d size %d %v", i, idx, size, err)
				}
				i++
			}
		})
	}
}

// fillBenchLog appends leaves [have, n) of benchLeaf to ledger with their
// tree nodes, in large AppendLeaves batches: a registry that logged n
// deals, written in a fraction of the time n notarisations take.
func fillBenchLog(b *testing.B, ledger store.Ledger, n uint64) {
	b.Helper()
	ctx := context.Background()
	l, err := openMerkleLog(ctx, ledger, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	start := time.Now()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	for first := l.size(); first < n; first = l.size() {
		leaves := make([][]byte, min(batch, n-first))
		for i := range leaves {
			leaves[i] = benchLeaf(first + uint64(i))
		}
		next, nodes, err := l.extended(leaves)
		if err != nil {
			b.Fatal(err)
		}
		if err := ledger.AppendLeaves(ctx, first, leaves, nodes); err != nil {
			b.Fatalf("fill the log at %d: %v", first, err)
		}
		l.install(next, nil)
	}
	b.Logf("filled a log of %d leaves of %d bytes in %v", n, benchLeafSize, time.Since(start).Round(time.Millisecond))
}

// restartBackends open the ledgers the restart benchmark runs on: the
// embedded default (SQLite, in b.TempDir()) and Postgres (a fresh schema on
// the test server; skipped with a message when it is unreachable).
var restartBackends = []struct {
	name string
	// prepare makes an empty store and returns how to open it
	prepare func(b *testing.B) func(ctx context.Context) (store.Ledger, func(), error)
}{
	{"sqlite", func(b *testing.B) func(ctx context.Context) (store.Ledger, func(), error) {
		path := filepath.Join(b.TempDir(), "ledger.db")
		return func(ctx context.Context) (store.Ledger, func(), error) {
			db, err := sqlitestore.Open(ctx, path)
			if err != nil {
				return nil, nil, err
			}
			return db.Ledger(), func() { _ = db.Close() }, nil
		}
	}},
	{"postgres", func(b *testing.B) func(ctx context.Context) (store.Ledger, func(), error) {
		dsn, _ := pgtest.NewSchema(b)
		return func(ctx context.Context) (store.Ledger, func(), error) {
			db, err := pgstore.Open(ctx, dsn)
			if err != nil {
				return nil, nil, err
			}
			return db.Ledger(), db.Close, nil
		}
	}},
}

// BenchmarkRegistryRestart measures a registry restart on a log of 1,000
// and of 1,000,000 entries (1 KiB leaves): opening the store, New (key
// chain, Merkle tree, directory), the first signed tree head and the
// inclusion proof of a random old entry, each through the HTTP handler.
// heap-B is the Go heap in use (after a collection) with the registry
// running; it does not grow with the log. Filling a 1,000,000-entry log
// takes 30 to 60 s and about 1.2 GB of disk per backend, so run it alone:
//
//	go test -run '^$' -bench BenchmarkRegistryRestart -benchtime 5x -timeout 60m ./core/registry/
func BenchmarkRegistryRestart(b *testing.B) {
	for _, backend := range restartBackends {
		for _, n := range []uint64{1_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/entries=%d", backend.name, n), func(b *testing.B) {
				benchRestart(b, backend.prepare(b), n)
			})
		}
	}
}

func benchRestart(b *testing.B, open func(ctx context.Context) (store.Ledger, func(), error), n uint64) {
	ctx := context.Background()
	root := anptest.NewKey(b)
	ledger, closeStore, err := open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fillBenchLog(b, ledger, n)
	first, err := New(ctx, Config{Root: root, Ledger: ledger, Logger: zerolog.Nop()}) // creates the key chain
	if err != nil {
		b.Fatal(err)
	}
	_ = first.Close()
	closeStore()
	rng := rand.New(rand.NewPCG(n, 1))
	var heap uint64
	for b.Loop() {
		ledger, closeStore, err := open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(ctx, Config{Root: root, Ledger: ledger, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		var head anp.SignedTreeHead
		benchGet(b, s, anp.RouteLogHead, &head)
		index := rng.Uint64N(n)
		var proof anp.ProofResponse
		benchGet(b, s, fmt.Sprintf("%s?index=%d&size=%d", anp.RouteInclusion, index, head.Size), &proof)
		b.StopTimer()
		if head.Size != n {
			b.Fatalf("head of size %d, want %d", head.Size, n)
		}
		if err := anp.VerifyInclusion(benchLeaf(index), index, &head, proof.Proof); err != nil {
			b.Fatalf("inclusion of entry %d: %v", index, err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapInuse
		_ = s.Close()
		closeStore()
		b.StartTimer()
	}
	b.ReportMetric(float64(heap), "heap-B")
}

// benchGet asks the registry's handler for path and decodes the answer.
func benchGet(b *testing.B, s *Server, path string, into any) {
	b.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: HTTP %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
}
