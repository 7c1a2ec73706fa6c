package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// pruneEvery is how many recordings pass between deletions of expired keys.
const pruneEvery = 1024

// nonces is the store.Nonces of a DB. Expiry is kept in unix microseconds.
type nonces struct{ db *DB }

// RecordOnce inserts the key, or takes over a row whose expiry has passed,
// in one upsert; no row affected means the key is live.
func (n nonces) RecordOnce(ctx context.Context, key string, expires time.Time) (bool, error) {
	now := time.Now().UnixMicro()
	prune := n.db.nonceWrites.Add(1)%pruneEvery == 0
	var recorded bool
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO nonces (key, expires) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE nonces.expires <= ?`,
			key, expires.UnixMicro(), now)
		if err != nil {
			return err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return err
		}
		recorded = c == 1
		if prune {
			if _, err := tx.ExecContext(ctx, `DELETE FROM nonces WHERE expires <= ?`, now); err != nil {
				return fmt.Errorf("prune: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlitestore: record nonce: %w", err)
	}
	return recorded, nil
}
