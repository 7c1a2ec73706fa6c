package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

var ctx = context.Background()

func TestPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "clinch.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_456)
	v, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "s1", Data: []byte("sealed-session"), UpdatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if v, err = db.Sessions().Save(ctx, store.SessionRecord{ID: "s1", Version: v, Data: []byte("sealed-session-2"), UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.Nonces().RecordOnce(ctx, "nonce-1", time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("RecordOnce: %v %v", ok, err)
	}
	if err := db.Ledger().Put(ctx, "domains", "shop.anp", []byte("binding")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.Ledger().Append(ctx, fmt.Appendf(nil, "leaf-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	rec, err := db.Sessions().Load(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != v || string(rec.Data) != "sealed-session-2" || !rec.UpdatedAt.Equal(at) {
		t.Fatalf("after reopen: %+v", rec)
	}
	if _, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "s1", Version: v - 1, Data: []byte("stale")}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save after reopen: %v", err)
	}
	if ok, err := db.Nonces().RecordOnce(ctx, "nonce-1", time.Now().Add(time.Hour)); ok || err != nil {
		t.Fatalf("nonce recorded before the reopen is new again: %v %v", ok, err)
	}
	if got, err := db.Ledger().Get(ctx, "domains", "shop.anp"); err != nil || string(got) != "binding" {
		t.Fatalf("ledger value after reopen: %q %v", got, err)
	}
	if idx, err := db.Ledger().Append(ctx, []byte("leaf-3")); err != nil || idx != 3 {
		t.Fatalf("append after reopen got index %d, %v; want 3", idx, err)
	}
	leaves, err := db.Ledger().Leaves(ctx, 0, 4)
	if err != nil || len(leaves) != 4 || string(leaves[0]) != "leaf-0" || string(leaves[3]) != "leaf-3" {
		t.Fatalf("leaves after reopen: %q %v", leaves, err)
	}
}

func schemaVersions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clinch.db")
	for round := range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", round, err)
		}
		got := schemaVersions(t, db)
		if len(got) != len(migrations) {
			t.Fatalf("open %d: schema_migrations has versions %v, want 1..%d", round, got, len(migrations))
		}
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("open %d: versions %v", round, got)
			}
		}
		db.Close()
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clinch.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	newer := len(migrations) + 1
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, newer); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is newer", newer)) {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestConnectionSettings(t *testing.T) {
	db := openTemp(t)
	for name, pool := range map[string]*sql.DB{"write": db.write, "read": db.read} {
		// Check several connections of each pool, not just the first.
		conns := make([]*sql.Conn, 0, 3)
		for range cap(conns) {
			if name == "write" && len(conns) == 1 {
				break
			}
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			for pragma, want := range map[string]string{
				"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1",
			} {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s pool: PRAGMA %s = %s, want %s", name, pragma, got, want)
				}
			}
			c.Close()
		}
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Fatalf("write pool allows %d connections, want 1", got)
	}
	if _, err := db.read.ExecContext(ctx, `INSERT INTO kv (bucket, key, value) VALUES ('b', 'k', x'00')`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestFileModesAndPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new dir")
	path := filepath.Join(dir, "odd ?#%name.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ledger().Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if db.Path() != path {
		t.Fatalf("Path() = %q, want %q", db.Path(), path)
	}
	db.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Name() != "odd ?#%name.db" {
		t.Fatalf("files created: %v", entries)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", p, got, want)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x.db"} {
		if db, err := Open(ctx, p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, garbage); err == nil {
		db.Close()
		t.Fatal("opened a file that is not a database")
	}
}

// TestTwoHandlesOnOneFile runs writers through two separately opened DBs on
// the same file, as two processes would: BEGIN IMMEDIATE and the busy
// timeout must keep log indexes dense and optimistic saves exclusive.
func TestTwoHandlesOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Sessions().Save(ctx, store.SessionRecord{ID: "hot", Data: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		idx  = map[uint64]string{}
		wins int
		errs = make(chan error, 2*workers*each)
	)
	for w := range 2 * workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "hot", Version: 1, Data: fmt.Appendf(nil, "w%d", w)})
			mu.Lock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				errs <- err
			}
			mu.Unlock()
			for i := range each {
				leaf := fmt.Sprintf("w%d-%d", w, i)
				n, err := db.Ledger().Append(ctx, []byte(leaf))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := idx[n]; dup {
					errs <- fmt.Errorf("index %d given to %s and %s", n, prev, leaf)
				}
				idx[n] = leaf
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if wins != 1 {
		t.Fatalf("%d saves over version 1 succeeded across two handles, want 1", wins)
	}
	total := uint64(2 * workers * each)
	leaves, err := b.Ledger().Leaves(ctx, 0, total)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		if idx[uint64(i)] != string(leaf) {
			t.Fatalf("leaf %d = %q, Append returned it for %q", i, leaf, idx[uint64(i)])
		}
	}
	if n, err := a.Ledger().Size(ctx); err != nil || n != total {
		t.Fatalf("size %d, %v; want %d", n, err, total)
	}
}

func TestNoncesPruneExpired(t *testing.T) {
	db := openTemp(t)
	n := db.Nonces()
	past := time.Now().Add(-time.Minute)
	for i := range pruneEvery - 1 {
		if ok, err := n.RecordOnce(ctx, fmt.Sprintf("old-%d", i), past); !ok || err != nil {
			t.Fatalf("RecordOnce: %v %v", ok, err)
		}
	}
	if ok, err := n.RecordOnce(ctx, "live", time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("RecordOnce(live): %v %v", ok, err)
	}
	var rows int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM nonces`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d nonce rows after the sweep, want only the live one", rows)
	}
}
