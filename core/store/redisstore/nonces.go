package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// nonces is the store.Nonces of a DB.
type nonces struct{ db *DB }

// RecordOnce runs SET key 1 NX PXAT expires: it succeeds only when no live
// key exists, and Redis drops the key at its expiry, so an expired key can
// be recorded again and nothing needs pruning. An expiry already in the
// past still reports a live key as a replay, and records nothing lasting.
func (n nonces) RecordOnce(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// Round up to the millisecond so a key never expires early; PXAT must
	// be positive.
	at := max((expires.UnixMicro()+999)/1000, 1)
	err := n.db.client.Do(ctx, "SET", n.db.nonceKey(key), "1", "NX", "PXAT", at).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redisstore: record nonce: %w", err)
	}
	return true, nil
}
