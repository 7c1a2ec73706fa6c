package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema versions in order: migrations[i] takes the
// schema from version i to i+1. Append only; never edit a released entry.
var migrations = []string{
	// 1: sessions, nonces, ledger buckets and the log.
	`CREATE TABLE sessions (
		id         TEXT PRIMARY KEY,
		version    INTEGER NOT NULL CHECK (version > 0),
		data       BLOB NOT NULL,
		updated_at INTEGER NOT NULL -- unix microseconds
	) WITHOUT ROWID;
	CREATE TABLE nonces (
		key     TEXT PRIMARY KEY,
		expires INTEGER NOT NULL -- unix microseconds
	) WITHOUT ROWID;
	CREATE INDEX nonces_expires ON nonces (expires);
	CREATE TABLE kv (
		bucket TEXT NOT NULL,
		key    TEXT NOT NULL,
		value  BLOB NOT NULL,
		PRIMARY KEY (bucket, key)
	) WITHOUT ROWID;
	CREATE TABLE leaves (
		idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
		leaf BLOB NOT NULL
	);`,
	// 2: the Merkle tree over the log: every perfect-subtree node hash, and
	// the number of leaves whose nodes are all stored. A node is keyed by
	// its last leaf, then its level (not by level, then index), so the nodes
	// an append completes are neighbours and share one page.
	`CREATE TABLE tree_nodes (
		last  INTEGER NOT NULL CHECK (last >= 0),
		level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
		hash  BLOB NOT NULL,
		PRIMARY KEY (last, level)
	) WITHOUT ROWID;
	CREATE TABLE tree_size (
		one  INTEGER PRIMARY KEY CHECK (one = 1),
		size INTEGER NOT NULL CHECK (size >= 0)
	);
	INSERT INTO tree_size (one, size) VALUES (1, 0);`,
}

// migrate brings the schema up to len(migrations), applying each pending
// migration in its own transaction together with its schema_migrations row.
// It is idempotent and refuses a database from a newer program.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL -- unix milliseconds
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program supports (%d); upgrade clinch-mcp", current, len(migrations))
	}
	for i := current; i < len(migrations); i++ {
		version := i + 1
		if err := applyMigration(ctx, db, version, migrations[i]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", version, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, stmt string) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrating process at a time
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have applied it while this one waited for the lock.
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
