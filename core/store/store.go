// Package store defines the persistence interfaces of Clinch and their
// in-memory and SQLite implementations (Postgres and Redis follow the same
// interfaces). Values are opaque bytes: the owning package decides the
// encoding, and sealing of anything secret happens before it reaches here.
package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
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

// TreeNodeID names a node of the Merkle tree over the log's leaves: the
// root of the perfect subtree over leaves [Index<<Level, (Index+1)<<Level).
// Level 0 nodes are leaf hashes.
type TreeNodeID struct {
	Level uint8 // 0..63
	Index uint64
}

// TreeNode is a tree node and its hash.
type TreeNode struct {
	TreeNodeID
	Hash []byte
}

// MaxTreeLevel is the highest level of a tree node.
const MaxTreeLevel = 63

// CheckTreeNodes refuses nodes a Ledger cannot store: a level above
// MaxTreeLevel, an index beyond what the level allows (every leaf index
// fits an int64) or an empty hash.
func CheckTreeNodes(nodes []TreeNode) error {
	for _, n := range nodes {
		if err := CheckTreeNodeID(n.TreeNodeID); err != nil {
			return err
		}
		if len(n.Hash) == 0 {
			return fmt.Errorf("tree node %d/%d has an empty hash", n.Level, n.Index)
		}
	}
	return nil
}

// CheckAppendLeaves checks the arguments of Ledger.AppendLeaves (after
// ctx) and returns the log size after the append. An end beyond the
// largest int64 is ErrConflict: no log is that long.
func CheckAppendLeaves(ctx context.Context, first uint64, leaves int, nodes []TreeNode) (uint64, error) {
	if err := CheckPutTreeNodes(ctx, nodes); err != nil {
		return 0, err
	}
	end := first + uint64(leaves)
	if end < first || end > math.MaxInt64 {
		return 0, fmt.Errorf("append at %d: %w", first, ErrConflict)
	}
	return end, nil
}

// CheckPutTreeNodes checks the arguments of Ledger.PutTreeNodes: ctx and
// the nodes (CheckTreeNodes).
func CheckPutTreeNodes(ctx context.Context, nodes []TreeNode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return CheckTreeNodes(nodes)
}

// CheckTreeNodeID refuses an id with a level above MaxTreeLevel or an
// index whose leaves lie beyond the largest int64.
func CheckTreeNodeID(id TreeNodeID) error {
	if id.Level > MaxTreeLevel || id.Index > math.MaxInt64>>id.Level {
		return fmt.Errorf("tree node %d/%d is outside any log", id.Level, id.Index)
	}
	return nil
}

// Ledger is the registry's durable state: buckets of key/value pairs, an
// append-only log of transparency-log leaves, and the hashes of the Merkle
// tree over those leaves. The tree size is the number of leaves, from the
// first, whose tree nodes are all stored; it never exceeds the log size and
// lags it only after a leaf was appended without its nodes (Append, or a
// writer that stopped between the two), until PutTreeNodes catches up.
type Ledger interface {
	// Get returns the value or ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Put writes a value.
	Put(ctx context.Context, bucket, key string, value []byte) error
	// PutIfAbsent writes a value only if the key is new and reports whether it did.
	PutIfAbsent(ctx context.Context, bucket, key string, value []byte) (bool, error)
	// Delete removes a pair; deleting a missing key is not an error.
	Delete(ctx context.Context, bucket, key string) error
	// List returns all pairs of a bucket ordered by key.
	List(ctx context.Context, bucket string) ([]KV, error)
	// ListPrefix returns the pairs of a bucket whose key starts with
	// prefix, ordered by key; the store reads those, not the whole bucket.
	ListPrefix(ctx context.Context, bucket, prefix string) ([]KV, error)
	// Append adds a leaf to the append-only log, without tree nodes, and
	// returns its index.
	Append(ctx context.Context, leaf []byte) (uint64, error)
	// AppendLeaves adds leaves at indexes first, first+1, ... together
	// with the tree nodes they complete, and sets the tree size to
	// first+len(leaves), in one atomic write. Unless both the log size and
	// the tree size equal first it writes nothing and returns ErrConflict.
	AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []TreeNode) error
	// Leaves returns leaves [from, to).
	Leaves(ctx context.Context, from, to uint64) ([][]byte, error)
	// Size returns the number of leaves.
	Size(ctx context.Context) (uint64, error)
	// PutTreeNodes stores tree nodes of leaves already in the log and
	// raises the tree size to size, in one atomic write. A node already
	// stored keeps its hash; a size below the tree size leaves it; a size
	// beyond the log size is an error and writes nothing.
	PutTreeNodes(ctx context.Context, size uint64, nodes []TreeNode) error
	// TreeNodes returns the hashes of ids, in order, or ErrNotFound when
	// one of them is not stored.
	TreeNodes(ctx context.Context, ids []TreeNodeID) ([][]byte, error)
	// TreeSize returns the tree size.
	TreeSize(ctx context.Context) (uint64, error)
}

// ErrLeaseLost is returned when the log writer lease named by a holder and
// a fencing token is no longer that holder's: another process took it over
// (the lease had expired) or it was released.
var ErrLeaseLost = errors.New("store: the log writer lease is not held with this token")

// LogLease is the lease that makes one process the writer of a shared
// ledger's log. Token is the fencing token: it grows with every change of
// holder, and only appends carrying the current token are written.
type LogLease struct {
	Holder  string    // the holding process's random id; "" when released
	Addr    string    // the URL the holder takes forwarded appends at
	Token   uint64    // fencing token; 0 before the first acquisition
	Expires time.Time // by the store's clock
	Live    bool      // held and not expired when it was read
}

// LogLeaser elects the single writer of a ledger that several processes
// share (PostgreSQL). Expiry is judged by the store's clock, so the
// processes' clocks do not matter. A Ledger that does not implement it is
// written by one process.
type LogLeaser interface {
	// AcquireLogLease takes the lease for holder, advertising addr, for
	// ttl, when it is free, expired or already holder's (then it is
	// renewed with the same token). It returns the lease as it stands
	// afterwards and whether holder has it.
	AcquireLogLease(ctx context.Context, holder, addr string, ttl time.Duration) (LogLease, bool, error)
	// RenewLogLease extends holder's lease with token to ttl from now, or
	// returns ErrLeaseLost.
	RenewLogLease(ctx context.Context, holder string, token uint64, ttl time.Duration) error
	// ReleaseLogLease frees holder's lease with token, so that another
	// process takes it over at once; a lease already lost is not an error.
	ReleaseLogLease(ctx context.Context, holder string, token uint64) error
	// CurrentLogLease returns the lease as it stands.
	CurrentLogLease(ctx context.Context) (LogLease, error)
	// AppendLeavesFenced is AppendLeaves when token is the current fencing
	// token; otherwise it writes nothing and returns ErrLeaseLost. A
	// takeover waits for an append in progress, so leaves appended under
	// the old token are in the log before the new holder reads it.
	AppendLeavesFenced(ctx context.Context, token, first uint64, leaves [][]byte, nodes []TreeNode) error
}

// Locks are named leases shared by every process on one store: the
// registry's replicas serialise work on one session or one domain with
// them. A lease ends when its owner releases it or when it expires, so a
// process that dies holding one blocks the name only until then.
type Locks interface {
	// TryLock takes the lease on name for owner until expires when the
	// name is free, its lease expired at now, or owner holds it (a
	// renewal), and reports whether it did.
	TryLock(ctx context.Context, name, owner string, now, expires time.Time) (bool, error)
	// Unlock ends owner's lease on name; a lease owner does not hold (one
	// that expired and was taken over) is left alone.
	Unlock(ctx context.Context, name, owner string) error
}

// RateLimiter keeps token buckets shared by every process on one store,
// so that N processes enforce one limit rather than N.
type RateLimiter interface {
	// Take takes one token, at now, from the bucket key, which holds at
	// most burst tokens and gains rate tokens per second, and reports
	// whether there was one. A rate <= 0 or a burst < 1 is an error.
	Take(ctx context.Context, key string, now time.Time, rate float64, burst int) (bool, error)
}

// CheckTake checks the arguments of RateLimiter.Take (after ctx and key).
func CheckTake(ctx context.Context, rate float64, burst int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !(rate > 0) || math.IsInf(rate, 1) || burst < 1 {
		return fmt.Errorf("store: a token bucket needs a finite rate > 0 and a burst >= 1, not rate %v burst %d", rate, burst)
	}
	return nil
}

// KeepPrefix returns the pairs of kvs whose key starts with prefix, in
// their order: what ListPrefix returns when a store answers it by listing
// the bucket (a prefix its query language cannot hold).
func KeepPrefix(kvs []KV, prefix string) []KV {
	out := kvs[:0]
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, prefix) {
			out = append(out, kv)
		}
	}
	return out
}
