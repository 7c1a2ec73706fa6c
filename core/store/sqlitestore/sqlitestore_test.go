package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/storetest"
)

// openTemp opens a fresh database file in a temporary directory.
func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "clinch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestSessions(t *testing.T) {
	storetest.TestSessions(t, func(t *testing.T) store.Sessions { return openTemp(t).Sessions() })
}

func TestNonces(t *testing.T) {
	storetest.TestNonces(t, func(t *testing.T) store.Nonces { return openTemp(t).Nonces() })
}

func TestLedger(t *testing.T) {
	storetest.TestLedger(t, func(t *testing.T) store.Ledger { return openTemp(t).Ledger() })
}

func BenchmarkSessionSaveLoad(b *testing.B) {
	storetest.BenchSessionSaveLoad(b, openTemp(b).Sessions())
}
