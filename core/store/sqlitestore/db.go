package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// maxReaders bounds the read-only connection pool.
const maxReaders = 4

// connPragmas are applied to every connection when it opens.
var connPragmas = []string{
	"busy_timeout(5000)",
	"journal_mode(WAL)",
	"foreign_keys(ON)",
	"synchronous(NORMAL)",
}

// DB is an open SQLite store. Its Sessions, Nonces and Ledger share the file.
type DB struct {
	path        string
	write       *sql.DB       // exactly one connection: SQLite has one writer
	read        *sql.DB       // read-only connections
	tree        treeStmts     // prepared on write: the statements of a log append
	nonceWrites atomic.Uint64 // RecordOnce calls, to pace pruning
}

// Open opens or creates the database file at path (creating missing parent
// directories with mode 0700 and the file with mode 0600), applies pending
// schema migrations and returns the store. In-memory databases are refused:
// use memstore for those.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: %q is not a database file path (use memstore for an in-memory store)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, err
	}
	db := &DB{path: abs}
	if db.write, err = sql.Open("sqlite", dsn(abs, "_txlock=immediate")); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, db.write); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", abs, err)
	}
	if db.tree, err = prepareTreeStmts(ctx, db.write); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", abs, err)
	}
	if db.read, err = sql.Open("sqlite", dsn(abs, "_query_only=1")); err != nil {
		db.tree.close()
		db.write.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	db.read.SetMaxOpenConns(maxReaders)
	db.read.SetMaxIdleConns(maxReaders)
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s for reading: %w", abs, err)
	}
	return db, nil
}

// createFile creates the database file with mode 0600 if it does not exist,
// so that SQLite (which copies the main file's mode to the -wal and -shm
// files) never creates it world-readable.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlitestore: create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create %s: %w", path, err)
	}
	return f.Close()
}

// dsn builds a file: URI for path with the connection pragmas and extra
// driver parameters. The path is escaped, so '?', '#' and '%' in it are safe.
func dsn(path, extra string) string {
	q := make([]string, 0, len(connPragmas)+1)
	for _, p := range connPragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	q = append(q, extra)
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: strings.Join(q, "&")}
	if !strings.HasPrefix(u.Path, "/") { // Windows drive paths
		u.Path = "/" + u.Path
	}
	return u.String()
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Sessions returns the session store.
func (db *DB) Sessions() store.Sessions { return sessions{db} }

// Nonces returns the nonce store.
func (db *DB) Nonces() store.Nonces { return nonces{db} }

// Ledger returns the ledger.
func (db *DB) Ledger() store.Ledger { return ledger{db} }

// Close closes both connection pools.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.tree.close(), db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close %s: %w", db.path, err)
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it, or
// rolls back if fn fails.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
