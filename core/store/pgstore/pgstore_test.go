package pgstore

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
	"github.com/clinch-protocol/clinch-mcp/core/store/storetest"
)

// openFresh opens a store in a new, empty schema that is dropped when the
// test ends.
func openFresh(t testing.TB) *DB {
	t.Helper()
	dsn, _ := pgtest.NewSchema(t)
	return openDSN(t, dsn)
}

// openDSN opens a store on dsn and closes it when the test ends.
func openDSN(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
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
