package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Locks returns the store.Locks of the database (table locks).
func (db *DB) Locks() store.Locks { return locks{db} }

// RateLimiter returns the store.RateLimiter of the database (table
// rate_buckets).
func (db *DB) RateLimiter() store.RateLimiter { return limiter{db} }

// locks is the store.Locks of a DB.
type locks struct{ db *DB }

// TryLock inserts the lease, or takes over one that expired (or renews
// owner's own), in one upsert: concurrent callers serialise on the
// primary key and at most one of them affects the row.
func (l locks) TryLock(ctx context.Context, name, owner string, now, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	tag, err := l.db.pool.Exec(ctx, `INSERT INTO locks (name, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
		WHERE locks.expires <= $4 OR locks.owner = EXCLUDED.owner`, name, owner, expires, now)
	if err != nil {
		return false, fmt.Errorf("pgstore: take lease %q: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Unlock deletes the lease if owner holds it.
func (l locks) Unlock(ctx context.Context, name, owner string) error {
	if _, err := l.db.pool.Exec(ctx, `DELETE FROM locks WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("pgstore: release lease %q: %w", name, err)
	}
	return nil
}

// limiter is the store.RateLimiter of a DB.
type limiter struct{ db *DB }

// available is the tokens of bucket b at $3 before the take: what it held,
// plus the refill since its last take (none for a clock behind it), at
// most the burst ($2).
const available = `LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM ($3::timestamptz - b.at)))::float8 * $4::float8)`

// takeSQL takes one token in one upsert: a new bucket starts full less the
// token; an existing one is refilled and loses one token only when it has
// one (otherwise no row is affected: refused).
const takeSQL = `INSERT INTO rate_buckets AS b (key, tokens, at, full_at)
	VALUES ($1, $2::float8 - 1, $3, $3::timestamptz + make_interval(secs => 1 / $4::float8))
	ON CONFLICT (key) DO UPDATE SET
		tokens  = ` + available + ` - 1,
		at      = GREATEST(b.at, $3::timestamptz),
		full_at = GREATEST(b.at, $3::timestamptz) + make_interval(secs => ($2::float8 - (` + available + ` - 1)) / $4::float8)
	WHERE ` + available + ` >= 1`

// Take takes a token from key's bucket. Every pruneEvery takes it first
// deletes the buckets that are full again.
func (l limiter) Take(ctx context.Context, key string, now time.Time, rate float64, burst int) (bool, error) {
	if err := store.CheckTake(ctx, rate, burst); err != nil {
		return false, err
	}
	if l.db.bucketTakes.Add(1)%pruneEvery == 0 {
		if _, err := l.db.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE full_at <= $1`, now); err != nil {
			return false, fmt.Errorf("pgstore: prune full rate buckets: %w", err)
		}
	}
	tag, err := l.db.pool.Exec(ctx, takeSQL, key, float64(burst), now, rate)
	if err != nil {
		return false, fmt.Errorf("pgstore: take from rate bucket: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
