package registry

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
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
