package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore/pgtest"
)

var ctx = context.Background()

func schemaVersions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func assertCurrentSchema(t *testing.T, db *DB) {
	t.Helper()
	got := schemaVersions(t, db)
	if len(got) != len(migrations) {
		t.Fatalf("schema_migrations has versions %v, want 1..%d", got, len(migrations))
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("schema_migrations has versions %v, want 1..%d", got, len(migrations))
		}
	}
	var counters int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM log_size`).Scan(&counters); err != nil {
		t.Fatal(err)
	}
	if counters != 1 {
		t.Fatalf("log_size has %d rows, want 1", counters)
	}
}

// TestConcurrentOpenMigratesOnce starts several processes' worth of Open
// on one empty schema at once: the advisory lock must let exactly one
// apply each migration and the others find it done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	const openers = 6
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		dbs   = make([]*DB, openers)
		errs  = make([]error, openers)
	)
	for i := range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			dbs[i], errs[i] = Open(ctx, dsn)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(dbs[i].Close)
	}
	assertCurrentSchema(t, dbs[0])
	if idx, err := dbs[1].Ledger().Append(ctx, []byte("first")); err != nil || idx != 0 {
		t.Fatalf("first append after concurrent migration = %d, %v; want 0", idx, err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMicro(1_700_000_000_123_456) // microseconds survive exactly
	v, err := db.Sessions().Save(ctx, store.SessionRecord{ID: "s1", Data: []byte("sealed"), UpdatedAt: at})
	if err != nil {
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
	db.Close()

	db = openDSN(t, dsn)
	assertCurrentSchema(t, db)
	rec, err := db.Sessions().Load(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != v || string(rec.Data) != "sealed" || !rec.UpdatedAt.Equal(at) {
		t.Fatalf("after reopen: %+v, want v%d %q at %v", rec, v, "sealed", at)
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
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	db := openDSN(t, dsn)
	newer := len(migrations) + 1
	if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, newer); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is newer", newer)) {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// TestTwoPoolsOnOneDatabase runs writers through two separately opened
// DBs, as two pods would: optimistic saves must stay exclusive and log
// indexes dense across both.
func TestTwoPoolsOnOneDatabase(t *testing.T) {
	dsn, _ := pgtest.NewSchema(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	if _, err := a.Sessions().Save(ctx, store.SessionRecord{ID: "hot", Data: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		idx  = map[uint64]string{}
		wins int
		errs = make(chan error, workers*(each+1))
	)
	for w := range workers {
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
		t.Fatalf("%d saves over version 1 succeeded across two pools, want 1", wins)
	}
	const total = workers * each
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

// TestFailedAppendLeavesNoGap makes an append fail after the counter was
// bumped (by a leaf index the table already holds) and checks that the
// counter rolled back with it.
func TestFailedAppendLeavesNoGap(t *testing.T) {
	db := openFresh(t)
	if _, err := db.pool.Exec(ctx, `INSERT INTO leaves (idx, leaf) VALUES (0, 'squatter')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ledger().Append(ctx, []byte("blocked")); err == nil {
		t.Fatal("append onto an occupied index succeeded")
	}
	if n, err := db.Ledger().Size(ctx); err != nil || n != 0 {
		t.Fatalf("size after a failed append = %d, %v; want 0", n, err)
	}
}

func TestNoncesPruneExpired(t *testing.T) {
	db := openFresh(t)
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
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM nonces`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d nonce rows after the sweep, want only the live one", rows)
	}
}

// TestNonceKeysAreBinary records keys that TEXT could not hold: nonce
// keys come from the network.
func TestNonceKeysAreBinary(t *testing.T) {
	n := openFresh(t).Nonces()
	exp := time.Now().Add(time.Hour)
	keys := []string{"env/a/\x00", "env/a/\x00\x00", "env/a/\xff\xfe", "env/a/"}
	for _, k := range keys {
		if ok, err := n.RecordOnce(ctx, k, exp); !ok || err != nil {
			t.Fatalf("RecordOnce(%q) = %v, %v; want true", k, ok, err)
		}
	}
	for _, k := range keys {
		if ok, err := n.RecordOnce(ctx, k, exp); ok || err != nil {
			t.Fatalf("replayed RecordOnce(%q) = %v, %v; want false", k, ok, err)
		}
	}
}

// TestUnstorableText checks the contract for IDs, buckets and keys that a
// TEXT column cannot hold: writes fail with a validation error (not a
// conflict), reads find nothing and deletes are no-ops.
func TestUnstorableText(t *testing.T) {
	db := openFresh(t)
	s, l := db.Sessions(), db.Ledger()
	for _, bad := range []string{"nul\x00id", "bad-utf8-\xff"} {
		_, err := s.Save(ctx, store.SessionRecord{ID: bad, Data: []byte("x")})
		if err == nil || errors.Is(err, store.ErrConflict) || !errors.Is(err, errInvalidText) {
			t.Errorf("Save(%q) = %v, want a validation error", bad, err)
		}
		if _, err := s.Load(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", bad, err)
		}
		if err := s.Delete(ctx, bad); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", bad, err)
		}
		if err := l.Put(ctx, bad, "k", []byte("v")); !errors.Is(err, errInvalidText) {
			t.Errorf("Put(bucket %q) = %v, want a validation error", bad, err)
		}
		if _, err := l.PutIfAbsent(ctx, "b", bad, []byte("v")); !errors.Is(err, errInvalidText) {
			t.Errorf("PutIfAbsent(key %q) = %v, want a validation error", bad, err)
		}
		if _, err := l.Get(ctx, "b", bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(key %q) = %v, want ErrNotFound", bad, err)
		}
		if kvs, err := l.List(ctx, bad); err != nil || len(kvs) != 0 {
			t.Errorf("List(%q) = %v, %v; want empty", bad, kvs, err)
		}
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cret-Pw"
	for _, dsn := range []string{
		"postgres://clinch:" + secret + "@127.0.0.1:1/test?connect_timeout=2&sslmode=disable",
		"postgres://clinch:" + secret + "@127.0.0.1:1/test?sslmode=bogus",
		"postgres://clinch:" + secret + "@[::1/test",
		"host=127.0.0.1 port=1 user=clinch password=" + secret + " dbname=test connect_timeout=2 sslmode=disable",
		"host=127.0.0.1 port=1 password=" + secret + " pool_max_conns=lots",
	} {
		db, err := Open(ctx, dsn)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%s) succeeded", pgtest.Redact(dsn))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("Open error shows the password: %v", err)
		}
	}
}

func TestOpenMissingSchemaFails(t *testing.T) {
	pgtest.Connect(t)
	dsn := pgtest.WithParam(pgtest.DSN(), "search_path", "clinch_test_missing_"+pgtest.RandomHex(t, 4))
	if db, err := Open(ctx, dsn); err == nil {
		db.Close()
		t.Fatal("Open succeeded with a search_path naming no schema")
	}
}
