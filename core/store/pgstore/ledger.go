package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ledger is the store.Ledger of a DB: buckets in table kv, the log in
// table leaves keyed by its dense index, and its size in the one row of
// log_size.
type ledger struct{ db *DB }

// checkBucketKey rejects names that a TEXT column cannot hold.
func checkBucketKey(bucket, key string) error {
	if !storableText(bucket) {
		return fmt.Errorf("bucket %q %w", bucket, errInvalidText)
	}
	if !storableText(key) {
		return fmt.Errorf("key %q %w", key, errInvalidText)
	}
	return nil
}

// Get returns the value or store.ErrNotFound.
func (l ledger) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if checkBucketKey(bucket, key) != nil {
		return nil, fmt.Errorf("pgstore: %q/%q: %w", bucket, key, store.ErrNotFound)
	}
	var v []byte
	err := l.db.pool.QueryRow(ctx, `SELECT value FROM kv WHERE bucket = $1 AND key = $2`, bucket, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get %s/%s: %w", bucket, key, err)
	}
	return nonNil(v), nil
}

// Put writes a value.
func (l ledger) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkBucketKey(bucket, key); err != nil {
		return fmt.Errorf("pgstore: put: %w", err)
	}
	_, err := l.db.pool.Exec(ctx, `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`, bucket, key, nonNil(value))
	if err != nil {
		return fmt.Errorf("pgstore: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// PutIfAbsent writes a value only if the key is new and reports whether it did.
func (l ledger) PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkBucketKey(bucket, key); err != nil {
		return false, fmt.Errorf("pgstore: put if absent: %w", err)
	}
	tag, err := l.db.pool.Exec(ctx, `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO NOTHING`, bucket, key, nonNil(value))
	if err != nil {
		return false, fmt.Errorf("pgstore: put %s/%s if absent: %w", bucket, key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// List returns all pairs of a bucket ordered by key in byte order.
func (l ledger) List(ctx context.Context, bucket string) ([]store.KV, error) {
	return l.query(ctx, bucket, `SELECT key, value FROM kv WHERE bucket = $1 ORDER BY key`, bucket)
}

// ListPrefix returns the pairs of a bucket whose key starts with prefix,
// ordered by key. The key column is COLLATE "C", so the primary key index
// serves a LIKE prefix pattern. A prefix no TEXT value can hold (invalid
// UTF-8, a NUL byte) is answered by listing the bucket.
func (l ledger) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	if !storableText(prefix) {
		kvs, err := l.List(ctx, bucket)
		return store.KeepPrefix(kvs, prefix), err
	}
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
	return l.query(ctx, bucket, `SELECT key, value FROM kv WHERE bucket = $1 AND key LIKE $2 ORDER BY key`, bucket, like)
}

// query runs a SELECT of key and value pairs of bucket.
func (l ledger) query(ctx context.Context, bucket, sqlText string, args ...any) ([]store.KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []store.KV{}
	if !storableText(bucket) {
		return out, nil
	}
	rows, err := l.db.pool.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list %s: %w", bucket, err)
	}
	var kv store.KV
	_, err = pgx.ForEachRow(rows, []any{&kv.Key, &kv.Value}, func() error {
		out = append(out, store.KV{Key: kv.Key, Value: nonNil(kv.Value)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list %s: %w", bucket, err)
	}
	return out, nil
}

// Delete removes a pair; a missing key (or one no TEXT column can hold)
// is not an error.
func (l ledger) Delete(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if checkBucketKey(bucket, key) != nil {
		return nil
	}
	if _, err := l.db.pool.Exec(ctx, `DELETE FROM kv WHERE bucket = $1 AND key = $2`, bucket, key); err != nil {
		return fmt.Errorf("pgstore: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Append bumps the log size and inserts the leaf at the old size in one
// transaction. The UPDATE holds log_size's row lock until commit, so
// appenders in every process take turns and get dense, distinct indexes;
// a rolled-back append leaves no gap because the counter rolls back too.
func (l ledger) Append(ctx context.Context, leaf []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var idx int64
	err := l.db.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE log_size SET size = size + 1 RETURNING size - 1`).Scan(&idx); err != nil {
			return fmt.Errorf("bump log size: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO leaves (idx, leaf) VALUES ($1, $2)`, idx, nonNil(leaf))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: append leaf: %w", err)
	}
	return uint64(idx), nil
}

// Leaves returns leaves [from, to), which must lie within the log. The log
// is append-only, so leaves below a size read earlier never change and the
// size check and the read need no shared transaction.
func (l ledger) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if from > to || to > size {
		return nil, fmt.Errorf("pgstore: leaves [%d, %d) are outside the log of size %d", from, to, size)
	}
	out := make([][]byte, 0, to-from)
	if from == to {
		return out, nil
	}
	rows, err := l.db.pool.Query(ctx, `SELECT idx, leaf FROM leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("pgstore: read leaves: %w", err)
	}
	var (
		idx  int64
		leaf []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&idx, &leaf}, func() error {
		if want := int64(from) + int64(len(out)); idx != want {
			return fmt.Errorf("the log is missing leaf %d", want)
		}
		out = append(out, nonNil(leaf))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: read leaves: %w", err)
	}
	if uint64(len(out)) != to-from {
		return nil, fmt.Errorf("pgstore: the log returned %d of leaves [%d, %d)", len(out), from, to)
	}
	return out, nil
}

// Size returns the number of leaves.
func (l ledger) Size(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	if err := l.db.pool.QueryRow(ctx, `SELECT size FROM log_size`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: log size: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("pgstore: log size %d is negative", n)
	}
	return uint64(n), nil
}
