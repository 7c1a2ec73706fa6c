package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// saveScript checks the stored version and writes the record and its index
// entry in one atomic step. It returns the new version, or 0 on a conflict.
//
//	KEYS[1] session hash, KEYS[2] session index
//	ARGV[1] expected version (0: must not exist), ARGV[2] data,
//	ARGV[3] updated (unix µs), ARGV[4] session ID
var saveScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'version')
local want = tonumber(ARGV[1])
if want == 0 then
	if cur then return 0 end
elseif not cur or tonumber(cur) ~= want then
	return 0
end
local v = want + 1
redis.call('HSET', KEYS[1], 'version', v, 'data', ARGV[2], 'updated', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
return v
`)

// listScript reads every indexed session in one atomic step and returns
// id, version, data, updated for each, in index (byte) order.
//
//	KEYS[1] session index; ARGV[1] session hash key prefix
var listScript = redis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local h = redis.call('HMGET', ARGV[1] .. id, 'version', 'data', 'updated')
	if h[1] then
		out[#out + 1] = id
		out[#out + 1] = h[1]
		out[#out + 1] = h[2]
		out[#out + 1] = h[3]
	end
end
return out
`)

// sessions is the store.Sessions of a DB.
type sessions struct{ db *DB }

// Load returns the record or store.ErrNotFound.
func (s sessions) Load(ctx context.Context, id string) (store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.SessionRecord{}, err
	}
	vals, err := s.db.client.HMGet(ctx, s.db.sessionKey(id), "version", "data", "updated").Result()
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("redisstore: load session %s: %w", id, err)
	}
	if vals[0] == nil {
		return store.SessionRecord{}, fmt.Errorf("redisstore: session %s: %w", id, store.ErrNotFound)
	}
	rec, err := parseRecord(id, vals[0], vals[1], vals[2])
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("redisstore: load session %s: %w", id, err)
	}
	return rec, nil
}

// Save writes rec through saveScript. A zero UpdatedAt is set to the
// current time; times are kept to the microsecond.
func (s sessions) Save(ctx context.Context, rec store.SessionRecord) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if rec.ID == "" {
		return 0, fmt.Errorf("redisstore: save session: empty id")
	}
	if rec.Version < 0 {
		return 0, fmt.Errorf("redisstore: save session %s: negative version %d", rec.ID, rec.Version)
	}
	at := rec.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	v, err := saveScript.Run(ctx, s.db.client,
		[]string{s.db.sessionKey(rec.ID), s.db.sessionIndexKey()},
		rec.Version, rec.Data, at.UnixMicro(), rec.ID).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: save session %s at version %d: %w", rec.ID, rec.Version, err)
	}
	if v == 0 {
		return 0, fmt.Errorf("redisstore: save session %s at version %d: %w", rec.ID, rec.Version, store.ErrConflict)
	}
	if v != rec.Version+1 {
		return 0, fmt.Errorf("redisstore: save session %s at version %d: the script returned version %d", rec.ID, rec.Version, v)
	}
	return v, nil
}

// List returns all records ordered by ID in byte order.
func (s sessions) List(ctx context.Context) ([]store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vals, err := listScript.Run(ctx, s.db.client, []string{s.db.sessionIndexKey()}, s.db.sessionKey("")).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list sessions: %w", err)
	}
	if len(vals)%4 != 0 {
		return nil, fmt.Errorf("redisstore: list sessions: the script returned %d values, not a multiple of 4", len(vals))
	}
	out := make([]store.SessionRecord, 0, len(vals)/4)
	for i := 0; i < len(vals); i += 4 {
		id, ok := vals[i].(string)
		if !ok {
			return nil, fmt.Errorf("redisstore: list sessions: id of type %T", vals[i])
		}
		rec, err := parseRecord(id, vals[i+1], vals[i+2], vals[i+3])
		if err != nil {
			return nil, fmt.Errorf("redisstore: list sessions: %s: %w", id, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// Delete removes the hash and its index entry in one MULTI/EXEC
// transaction; a missing record is not an error.
func (s sessions) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.db.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.db.sessionKey(id))
		p.ZRem(ctx, s.db.sessionIndexKey(), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: delete session %s: %w", id, err)
	}
	return nil
}

// errCorrupt is wrapped by the error for a session hash with a missing or
// malformed field.
var errCorrupt = errors.New("corrupt session record")

// parseRecord builds a record from the hash fields version, data and
// updated as Redis returns them.
func parseRecord(id string, version, data, updated any) (store.SessionRecord, error) {
	vs, ok1 := version.(string)
	ds, ok2 := data.(string)
	us, ok3 := updated.(string)
	if !ok1 || !ok2 || !ok3 {
		return store.SessionRecord{}, fmt.Errorf("%w: fields of types %T, %T, %T", errCorrupt, version, data, updated)
	}
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil || v < 1 {
		return store.SessionRecord{}, fmt.Errorf("%w: version %q", errCorrupt, vs)
	}
	micros, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("%w: updated %q", errCorrupt, us)
	}
	return store.SessionRecord{ID: id, Version: v, Data: []byte(ds), UpdatedAt: time.UnixMicro(micros)}, nil
}
