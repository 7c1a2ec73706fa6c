package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ledger is the store.Ledger of a DB: a hash per bucket and a list for the
// log.
type ledger struct{ db *DB }

// Get returns the value or store.ErrNotFound.
func (l ledger) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := l.db.client.HGet(ctx, l.db.bucketKey(bucket), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: get %s/%s: %w", bucket, key, err)
	}
	return v, nil
}

// Put writes a value.
func (l ledger) Put(ctx context.Context, bucket, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.db.client.HSet(ctx, l.db.bucketKey(bucket), key, value).Err(); err != nil {
		return fmt.Errorf("redisstore: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// PutIfAbsent writes a value with HSETNX and reports whether it did.
func (l ledger) PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ok, err := l.db.client.HSetNX(ctx, l.db.bucketKey(bucket), key, value).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: put %s/%s if absent: %w", bucket, key, err)
	}
	return ok, nil
}

// List returns all pairs of a bucket ordered by key in byte order.
func (l ledger) List(ctx context.Context, bucket string) ([]store.KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := l.db.client.HGetAll(ctx, l.db.bucketKey(bucket)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %s: %w", bucket, err)
	}
	out := make([]store.KV, 0, len(m))
	for k, v := range m {
		out = append(out, store.KV{Key: k, Value: []byte(v)})
	}
	slices.SortFunc(out, func(a, b store.KV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// ListPrefix returns the pairs of a bucket whose key starts with prefix,
// ordered by key in byte order: HSCAN with a MATCH pattern (its wildcards,
// brackets and backslashes escaped), so only those pairs cross the wire.
func (l ledger) ListPrefix(ctx context.Context, bucket, prefix string) ([]store.KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	match := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix) + "*"
	var out []store.KV
	it := l.db.client.HScan(ctx, l.db.bucketKey(bucket), 0, match, 256).Iterator()
	for it.Next(ctx) {
		k := it.Val()
		if !it.Next(ctx) {
			break
		}
		if strings.HasPrefix(k, prefix) { // a field HSCAN returned twice counts once below
			out = append(out, store.KV{Key: k, Value: []byte(it.Val())})
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: list %s by prefix: %w", bucket, err)
	}
	slices.SortFunc(out, func(a, b store.KV) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(out, func(a, b store.KV) bool { return a.Key == b.Key }), nil
}

// Delete removes a pair with HDEL; a missing key is not an error.
func (l ledger) Delete(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.db.client.HDel(ctx, l.db.bucketKey(bucket), key).Err(); err != nil {
		return fmt.Errorf("redisstore: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Append pushes the leaf onto the log list. RPUSH is atomic and replies
// with the new length, so the leaf's index is that length minus one.
func (l ledger) Append(ctx context.Context, leaf []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.db.client.RPush(ctx, l.db.logKey(), leaf).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: append leaf: %w", err)
	}
	if n < 1 {
		return 0, fmt.Errorf("redisstore: append leaf: RPUSH returned length %d", n)
	}
	return uint64(n - 1), nil
}

// Leaves returns leaves [from, to), which must lie within the log. The log
// is append-only, so a range below a size read earlier never changes.
func (l ledger) Leaves(ctx context.Context, from, to uint64) ([][]byte, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if from > to || to > size {
		return nil, fmt.Errorf("redisstore: leaves [%d, %d) are outside the log of size %d", from, to, size)
	}
	out := make([][]byte, 0, to-from)
	if from == to {
		return out, nil
	}
	vals, err := l.db.client.LRange(ctx, l.db.logKey(), int64(from), int64(to)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: read leaves: %w", err)
	}
	if uint64(len(vals)) != to-from {
		return nil, fmt.Errorf("redisstore: the log returned %d of leaves [%d, %d)", len(vals), from, to)
	}
	for _, v := range vals {
		out = append(out, []byte(v))
	}
	return out, nil
}

// Size returns the number of leaves.
func (l ledger) Size(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.db.client.LLen(ctx, l.db.logKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: log size: %w", err)
	}
	return uint64(n), nil
}
