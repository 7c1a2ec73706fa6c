package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ledger is the store.Ledger of a DB: buckets in table kv, the log in
// table leaves keyed by its dense index.
type ledger struct{ db *DB }

func (l ledger) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	var v []byte
	err := l.db.read.QueryRowContext(ctx, `SELECT value FROM kv WHERE bucket = ? AND key = ?`, bucket, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get %s/%s: %w", bucket, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (l ledger) Put(ctx context.Context, bucket, key string, value []byte) error {
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (bucket, key, value) VALUES (?, ?, ?)
			ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, bucket, key, nonNil(value))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (l ledger) PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error) {
	var put bool
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO kv (bucket, key, value) VALUES (?, ?, ?)
			ON CONFLICT (bucket, key) DO NOTHING`, bucket, key, nonNil(value))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		put = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlitestore: put %s/%s if absent: %w", bucket, key, err)
	}
	return put, nil
}

func (l ledger) List(ctx context.Context, bucket string) ([]store.KV, error) {
	return l.query(ctx, bucket, `SELECT key, value FROM kv WHERE bucket = ? ORDER BY key`, bucket)
}

// ListPrefix returns the pairs of a bucket whose key starts with prefix,
// ordered by key, with a GLOB pattern the (bucket, key) index serves. A
// prefix a pattern cannot hold (invalid UTF-8, a NUL byte) is answered by
// listing the bucket.
func (l ledger) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) {
		kvs, err := l.List(ctx, bucket)
		return store.KeepPrefix(kvs, prefix), err
	}
	return l.query(ctx, bucket, `SELECT key, value FROM kv WHERE bucket = ? AND key GLOB ? ORDER BY key`, bucket, globPrefix(prefix))
}

// globPrefix is the GLOB pattern of the keys that start with prefix: its
// wildcards and brackets are made literal ([*], [?], [[]).
func globPrefix(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		switch r {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('*')
	return b.String()
}

// query runs a SELECT of key and value pairs of bucket.
func (l ledger) query(ctx context.Context, bucket, sqlText string, args ...any) ([]store.KV, error) {
	rows, err := l.db.read.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list %s: %w", bucket, err)
	}
	defer rows.Close()
	out := []store.KV{}
	for rows.Next() {
		var kv store.KV
		if err := rows.Scan(&kv.Key, &kv.Value); err != nil {
			return nil, fmt.Errorf("sqlitestore: list %s: %w", bucket, err)
		}
		kv.Value = nonNil(kv.Value)
		out = append(out, kv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list %s: %w", bucket, err)
	}
	return out, nil
}

func (l ledger) Delete(ctx context.Context, bucket, key string) error {
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE bucket = ? AND key = ?`, bucket, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// sizeQuery is the number of leaves: indexes are dense from 0, so the
// largest index plus one (an O(log n) lookup on the primary key) equals the
// row count.
const sizeQuery = `SELECT COALESCE(MAX(idx) + 1, 0) FROM leaves`

// Append reads the size and inserts at that index inside one write
// transaction, so concurrent appenders (also in other processes) get dense,
// distinct indexes; the primary key would reject a duplicate regardless.
func (l ledger) Append(ctx context.Context, leaf []byte) (uint64, error) {
	var idx int64
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&idx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO leaves (idx, leaf) VALUES (?, ?)`, idx, nonNil(leaf))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: append leaf: %w", err)
	}
	return uint64(idx), nil
}

// Leaves returns leaves [from, to), which must lie within the log; the size
// check and the read share one read transaction.
func (l ledger) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	tx, err := l.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: read leaves: %w", err)
	}
	defer tx.Rollback()
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
		return nil, fmt.Errorf("sqlitestore: read leaves: %w", err)
	}
	if from > to || to > uint64(size) {
		return nil, fmt.Errorf("sqlitestore: leaves [%d, %d) are outside the log of size %d", from, to, size)
	}
	out := make([][]byte, 0, to-from)
	if from == to {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT idx, leaf FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: read leaves: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			return nil, fmt.Errorf("sqlitestore: read leaves: %w", err)
		}
		if want := int64(from) + int64(len(out)); idx != want {
			return nil, fmt.Errorf("sqlitestore: the log is missing leaf %d", want)
		}
		out = append(out, nonNil(leaf))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: read leaves: %w", err)
	}
	if uint64(len(out)) != to-from {
		return nil, fmt.Errorf("sqlitestore: the log returned %d of leaves [%d, %d)", len(out), from, to)
	}
	return out, nil
}

func (l ledger) Size(ctx context.Context) (uint64, error) {
	var n int64
	if err := l.db.read.QueryRowContext(ctx, sizeQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: log size: %w", err)
	}
	return uint64(n), nil
}

// nonNil maps nil to an empty slice: the columns are NOT NULL, and callers
// get an empty value back as empty, not nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
