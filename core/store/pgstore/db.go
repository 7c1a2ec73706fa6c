package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/internal/urlcheck"
)

// DB is an open Postgres store. Its Sessions, Nonces and Ledger share one
// connection pool.
type DB struct {
	pool        *pgxpool.Pool
	nonceWrites atomic.Uint64 // RecordOnce calls, to pace pruning
	bucketTakes atomic.Uint64 // RateLimiter.Take calls, to pace pruning
}

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string; pool_max_conns and the other pgxpool parameters are
// honored), applies pending schema migrations and returns the store. Errors
// never contain the password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return nil, err
	}
	// Host, port and database name only: never the password.
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
	return &DB{pool: pool}, nil
}

// parseConfig parses dsn with errors that never contain its password.
// pgconn masks passwords in its parse errors, but only where it can find
// them: a URL whose user info does not parse as written (an unencoded '/',
// '?' or '#' in the password) would put part of the password in the host,
// port or database that errors quote, so such a URL is refused unquoted.
// pgconn's error is formatted, not wrapped, because it carries the raw DSN.
func parseConfig(dsn string) (*pgxpool.Config, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil || !urlcheck.UserinfoAsWritten(dsn, u) {
			return nil, errors.New("pgstore: invalid DSN (not quoted here, as it may hold a password): expected " +
				"postgres://[user:password@]host:port/database?param=value with any of @ : / ? # % in the user name, " +
				"the password and parameter values percent-encoded")
		}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		if !strings.Contains(dsn, "://") && strings.Contains(strings.ToLower(dsn), "password") {
			// pgconn's masking of keyword/value passwords misses some
			// spellings (such as "password= secret").
			return nil, errors.New("pgstore: invalid keyword/value DSN (not quoted here, as it holds a password)")
		}
		return nil, fmt.Errorf("pgstore: %v", err)
	}
	return cfg, nil
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
