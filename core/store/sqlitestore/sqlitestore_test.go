package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
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

// TestTreeNodesQuerySearchesThePrimaryKey: the node query looks each id up
// in the primary key instead of scanning a table that holds two rows per
// log entry.
func TestTreeNodesQuerySearchesThePrimaryKey(t *testing.T) {
	db := openTemp(t)
	rows, err := db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+nodesQuery(3), 1, 2, 3, 4, 5, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "SEARCH t USING PRIMARY KEY (last=? AND level=?)") || strings.Contains(joined, "SCAN t") {
		t.Fatalf("query plan %q does not search tree_nodes by its primary key", joined)
	}
}
