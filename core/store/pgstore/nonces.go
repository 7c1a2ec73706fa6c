package pgstore

import (
	"context"
	"fmt"
	"time"
)

// pruneEvery is how many recordings (per DB) pass between deletions of
// expired keys.
const pruneEvery = 1024

// nonces is the store.Nonces of a DB.
type nonces struct{ db *DB }

// RecordOnce inserts the key, or takes over a row whose expiry has passed,
// in one upsert. Concurrent callers with the same key serialize on the
// primary key, and a caller that finds a live row affects no row: it is a
// replay. Expiry is judged by this process's clock, like the expiry itself.
func (n nonces) RecordOnce(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	// Prune before recording, so that a failed prune fails the call
	// without having recorded the key.
	if n.db.nonceWrites.Add(1)%pruneEvery == 0 {
		if _, err := n.db.pool.Exec(ctx, `DELETE FROM nonces WHERE expires <= $1`, now); err != nil {
			return false, fmt.Errorf("pgstore: prune expired nonces: %w", err)
		}
	}
	tag, err := n.db.pool.Exec(ctx, `INSERT INTO nonces (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires WHERE nonces.expires <= $3`,
		[]byte(key), expires, now)
	if err != nil {
		return false, fmt.Errorf("pgstore: record nonce: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
