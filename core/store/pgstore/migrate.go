package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the pg_advisory_xact_lock key that serializes schema
// migrations of every process on the database ("clinchmg" in ASCII).
const migrationLock int64 = 0x636c696e63686d67

// migrations are the schema versions in order: migrations[i] takes the
// schema from version i to i+1. Append only; never edit a released entry.
var migrations = []string{
	// 1: sessions, nonces, ledger buckets, the log and its size counter.
	// Text keys use the "C" collation, so ORDER BY is byte order; nonce keys
	// come from the network and are BYTEA so that any bytes are storable.
	`CREATE TABLE sessions (
		id         TEXT COLLATE "C" PRIMARY KEY,
		version    BIGINT NOT NULL CHECK (version > 0),
		data       BYTEA NOT NULL,
		updated_at TIMESTAMPTZ NOT NULL
	);
	CREATE TABLE nonces (
		key     BYTEA PRIMARY KEY,
		expires TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX nonces_expires ON nonces (expires);
	CREATE TABLE kv (
		bucket TEXT COLLATE "C" NOT NULL,
		key    TEXT COLLATE "C" NOT NULL,
		value  BYTEA NOT NULL,
		PRIMARY KEY (bucket, key)
	);
	CREATE TABLE log_size (
		one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
		size BIGINT NOT NULL CHECK (size >= 0)
	);
	INSERT INTO log_size (one, size) VALUES (TRUE, 0);
	CREATE TABLE leaves (
		idx  BIGINT PRIMARY KEY CHECK (idx >= 0),
		leaf BYTEA NOT NULL
	);`,
	// 2: the Merkle tree over the log: every perfect-subtree node hash, and
	// (next to the log size, under the same row lock) the number of leaves
	// whose nodes are all stored. A node is keyed by its last leaf, then its
	// level, so the nodes an append completes are neighbours in the index.
	`ALTER TABLE log_size ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0 CHECK (tree_size >= 0);
	ALTER TABLE log_size ADD CONSTRAINT log_size_tree_within_log CHECK (tree_size <= size);
	CREATE TABLE tree_nodes (
		last  BIGINT NOT NULL CHECK (last >= 0),
		level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
		hash  BYTEA NOT NULL,
		PRIMARY KEY (last, level)
	);`,
	// 3: the lease that makes one process the writer of the log: its
	// holder, the URL it takes forwarded appends at, the fencing token
	// (raised on every change of holder) and its expiry by this server's
	// clock. A released lease has no holder and expired long ago.
	`CREATE TABLE log_lease (
		one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
		holder  TEXT NOT NULL,
		addr    TEXT NOT NULL,
		token   BIGINT NOT NULL CHECK (token >= 0),
		expires TIMESTAMPTZ NOT NULL
	);
	INSERT INTO log_lease (one, holder, addr, token, expires) VALUES (TRUE, '', '', 0, 'epoch');`,
	// 4: what registry replicas share besides the ledger: named leases
	// (store.Locks) and rate-limit token buckets (store.RateLimiter).
	// full_at is when a bucket is full again: from then on it carries no
	// information and may be deleted.
	`CREATE TABLE locks (
		name    TEXT COLLATE "C" PRIMARY KEY,
		owner   TEXT NOT NULL,
		expires TIMESTAMPTZ NOT NULL
	);
	CREATE TABLE rate_buckets (
		key     TEXT COLLATE "C" PRIMARY KEY,
		tokens  DOUBLE PRECISION NOT NULL,
		at      TIMESTAMPTZ NOT NULL,
		full_at TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX rate_buckets_full_at ON rate_buckets (full_at);`,
}

// migrate brings the schema up to len(migrations). Each pending migration
// runs in its own transaction together with its schema_migrations row,
// after taking the migration advisory lock and re-reading the version, so
// concurrent callers apply each migration exactly once. It refuses a
// database from a newer program.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	current, err := schemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program supports (%d); upgrade clinch-mcp", current, len(migrations))
	}
	for i := current; i < len(migrations); i++ {
		version := i + 1
		if err := applyMigration(ctx, pool, version, migrations[i]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", version, err)
		}
	}
	return nil
}

// schemaVersion creates schema_migrations if needed (under the lock, since
// concurrent CREATE TABLE IF NOT EXISTS can fail in Postgres) and returns
// the highest applied version.
func schemaVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var current int
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		return tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, version int, stmt string) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		// Another process may have applied it while this one waited.
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
		return err
	})
}
