package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// DB is an open Postgres store. Its Sessions, Nonces and Ledger share one
// connection pool.
type DB struct {
	pool        *pgxpool.Pool
	target      string        // host and database, for error messages (never the password)
	nonceWrites atomic.Uint64 // RecordOnce calls, to pace pruning
}

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string; pool_max_conns and the other pgxpool parameters are
// honored), applies pending schema migrations and returns the store. Errors
// never contain the password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in its parse errors.
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	target := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open %s: %w", target, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s: %w", target, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %s: %w", target, err)
	}
	return &DB{pool: pool, target: target}, nil
}

// Pool returns the connection pool, for components that share the database
// (such as a LISTEN/NOTIFY notifier).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Sessions returns the session store.
func (db *DB) Sessions() store.Sessions { return sessions{db} }

// Nonces returns the nonce store.
func (db *DB) Nonces() store.Nonces { return nonces{db} }

// Ledger returns the ledger.
func (db *DB) Ledger() store.Ledger { return ledger{db} }

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() { db.pool.Close() }

// inTx runs fn in a read-committed transaction and commits it, or rolls
// back if fn fails.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, fn)
}

// errInvalidText is wrapped by the error for a session ID, bucket or key
// that a TEXT column cannot hold.
var errInvalidText = errors.New("must be valid UTF-8 without NUL bytes")

// storableText reports whether s fits a Postgres TEXT column.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// nonNil maps nil to an empty slice: the columns are NOT NULL (pgx sends a
// nil slice as NULL), and callers get an empty value back as empty.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
