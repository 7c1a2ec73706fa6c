// Package store defines the persistence interfaces of Clinch and their
// in-memory and SQLite implementations (Postgres and Redis follow the same
// interfaces). Values are opaque bytes: the owning package decides the
// encoding, and sealing of anything secret happens before it reaches here.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when an optimistic-concurrency version check fails.
var ErrConflict = errors.New("store: version conflict: the record was changed by another writer")

// SessionRecord is one buyer session as stored.
type SessionRecord struct {
	ID        string
	Version   int64 // 1 after the first save; bumped by every save
	Data      []byte
	UpdatedAt time.Time
}

// Sessions stores buyer sessions with optimistic concurrency.
type Sessions interface {
	// Load returns the record or ErrNotFound.
	Load(ctx context.Context, id string) (SessionRecord, error)
	// Save writes rec if the stored version equals rec.Version (0 = must not
	// exist yet) and returns the new version; otherwise ErrConflict.
	Save(ctx context.Context, rec SessionRecord) (int64, error)
	// List returns all records ordered by ID.
	List(ctx context.Context) ([]SessionRecord, error)
	// Delete removes a record; deleting a missing record is not an error.
	Delete(ctx context.Context, id string) error
}

// Nonces remembers values for replay protection.
type Nonces interface {
	// RecordOnce atomically records key until expires and reports whether
	// it was new. Expired keys may be recorded again.
	RecordOnce(ctx context.Context, key string, expires time.Time) (bool, error)
}

// KV is one key/value pair of a bucket.
type KV struct {
	Key   string
	Value []byte
}

// Ledger is the registry's durable state: buckets of key/value pairs and an
// append-only log of transparency-log leaves.
type Ledger interface {
	// Get returns the value or ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Put writes a value.
	Put(ctx context.Context, bucket, key string, value []byte) error
	// PutIfAbsent writes a value only if the key is new and reports whether it did.
	PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error)
	// List returns all pairs of a bucket ordered by key.
	List(ctx context.Context, bucket string) ([]KV, error)
	// Delete removes a pair; deleting a missing key is not an error.
	Delete(ctx context.Context, bucket, key string) error
	// Append adds a leaf to the append-only log and returns its index.
	Append(ctx context.Context, leaf []byte) (uint64, error)
	// Leaves returns leaves [from, to).
	Leaves(ctx context.Context, from, to uint64) ([][]byte, error)
	// Size returns the number of leaves.
	Size(ctx context.Context) (uint64, error)
}
