package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/internal/urlcheck"
)

// DefaultPrefix starts every key of a store opened with Open.
const DefaultPrefix = "clinch:"

// DB is an open Redis store. Its Sessions, Nonces and Ledger share one
// client.
type DB struct {
	client *redis.Client
	prefix string
	target string // address and database, for error messages (never the password)
}

// Open connects to the Redis server named by a redis:// or rediss:// URL
// (redis://[user:password@]host:port/db, with go-redis query options such
// as dial_timeout) and returns a store whose keys start with the URL's
// prefix query parameter (redis://host:6379/0?prefix=shop:) or, without
// one, DefaultPrefix. Errors never contain the password.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	opts, prefix, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return open(ctx, opts, prefix)
}

// OpenWithPrefix is Open with every key starting with prefix, which takes
// precedence over a prefix query parameter.
func OpenWithPrefix(ctx context.Context, rawURL, prefix string) (*DB, error) {
	opts, _, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return open(ctx, opts, prefix)
}

func open(ctx context.Context, opts *redis.Options, prefix string) (*DB, error) {
	target := fmt.Sprintf("%s/%d", opts.Addr, opts.DB)
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redisstore: connect to %s: %w", target, err)
	}
	return &DB{client: client, prefix: prefix, target: target}, nil
}

// parseURL parses a redis:// or rediss:// URL into client options and a
// key prefix (the prefix query parameter, or DefaultPrefix), with errors
// that never contain the URL's password. Maintenance notifications (a
// Redis Enterprise feature) are turned off.
func parseURL(rawURL string) (*redis.Options, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !urlcheck.UserinfoAsWritten(rawURL, u) {
		// url.Error repeats the URL, and a password that did not parse as
		// one may sit in the host or path, which other errors quote.
		return nil, "", errors.New("redisstore: invalid URL (not quoted here, as it may hold a password): " +
			"expected redis[s]://[user:password@]host:port/db with any of @ : / ? # % in the user name, " +
			"the password and query values percent-encoded")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, "", fmt.Errorf("redisstore: %s: the scheme must be redis or rediss", u.Redacted())
	}
	prefix := DefaultPrefix
	if q := u.Query(); q.Has("prefix") {
		prefix = q.Get("prefix")
		q.Del("prefix")
		u.RawQuery = q.Encode()
	}
	// The user info parsed as written, so u.String() means what rawURL does.
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %v", u.Redacted(), err)
	}
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, prefix, nil
}

// Client returns the Redis client, for components that share the server
// (such as a PUBLISH/SUBSCRIBE notifier).
func (db *DB) Client() *redis.Client { return db.client }

// Prefix returns the prefix of every key of the store.
func (db *DB) Prefix() string { return db.prefix }

// Sessions returns the session store.
func (db *DB) Sessions() store.Sessions { return sessions{db} }

// Nonces returns the nonce store.
func (db *DB) Nonces() store.Nonces { return nonces{db} }

// Ledger returns the ledger.
func (db *DB) Ledger() store.Ledger { return ledger{db} }

// Close closes the client.
func (db *DB) Close() error {
	if err := db.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close %s: %w", db.target, err)
	}
	return nil
}

func (db *DB) sessionKey(id string) string { return db.prefix + "session:" + id }
func (db *DB) sessionIndexKey() string     { return db.prefix + "session-index" }
func (db *DB) nonceKey(key string) string  { return db.prefix + "nonce:" + key }
func (db *DB) bucketKey(bucket string) string {
	return db.prefix + "kv:" + bucket
}
func (db *DB) logKey() string       { return db.prefix + "log" }
func (db *DB) treeNodesKey() string { return db.prefix + "tree-nodes" }
func (db *DB) treeSizeKey() string  { return db.prefix + "tree-size" }
