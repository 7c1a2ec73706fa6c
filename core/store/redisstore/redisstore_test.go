package redisstore

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore/redistest"
	"github.com/clinch-protocol/clinch-mcp/core/store/storetest"
)

// openFresh opens a store under a new key prefix whose keys are deleted
// when the test ends.
func openFresh(t testing.TB) *DB {
	t.Helper()
	return openPrefix(t, redistest.NewPrefix(t))
}

// openPrefix opens a store under prefix and closes it when the test ends.
func openPrefix(t testing.TB, prefix string) *DB {
	t.Helper()
	db, err := OpenWithPrefix(context.Background(), redistest.URL(), prefix)
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
	storetest.TestSessions(t, func(t *testing.T) store.Sessions { return openFresh(t).Sessions() })
}

func TestNonces(t *testing.T) {
	storetest.TestNonces(t, func(t *testing.T) store.Nonces { return openFresh(t).Nonces() })
}

func TestLedger(t *testing.T) {
	storetest.TestLedger(t, func(t *testing.T) store.Ledger { return openFresh(t).Ledger() })
}

func BenchmarkSessionSaveLoad(b *testing.B) {
	storetest.BenchSessionSaveLoad(b, openFresh(b).Sessions())
}
