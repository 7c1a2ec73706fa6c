// Package storeurl opens a store backend from one string, as given on a
// command line or in a config file:
//
//	memory:                     in memory (memstore); lost on exit
//	/var/lib/clinch/state.db    a bare path: an SQLite file
//	sqlite:///var/lib/clinch.db an SQLite file at an absolute path
//	sqlite://state/clinch.db    an SQLite file relative to the working directory
//	postgres://… postgresql://… PostgreSQL (pgstore; the DSN goes to pgx as is)
//	redis://… rediss://…        Redis (redisstore; ?prefix= sets the key prefix)
//
// After "sqlite://" the rest of the string is the path, verbatim: a third
// slash makes it absolute, anything else is relative. It is not
// percent-decoded and takes no query, so '?', '#' and '%' are part of the
// file name. A string with no scheme is a path too; "scheme:" means a
// scheme only when the scheme has two or more characters, so Windows
// paths such as C:\clinch.db stay paths (write ./name to use a file whose
// name looks like a scheme).
//
// Error messages never contain a password from the URL.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/notify"
	"github.com/clinch-protocol/clinch-mcp/core/store/pgstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/redisstore"
	"github.com/clinch-protocol/clinch-mcp/core/store/sqlitestore"
)

// Backend kinds, as in Backend.Kind.
const (
	KindMemory   = "memory"
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
	KindRedis    = "redis"
)

// Backend is an open store: the three stores share one connection or
// file, and Notifier reaches every process sharing it (an in-process
// notify.Local for memory and SQLite).
type Backend struct {
	Sessions store.Sessions
	Nonces   store.Nonces
	Ledger   store.Ledger
	Notifier notify.Notifier
	// Locks and RateLimiter are shared by every process on the store:
	// set for Postgres only (nil otherwise).
	Locks       store.Locks
	RateLimiter store.RateLimiter
	Kind        string
	// Close releases the connection or file. Subscriptions of Notifier end
	// with their contexts, not with Close.
	Close func() error
}

// Options configures Open.
type Options struct {
	// Logger receives the notifier's connection losses (default none).
	Logger zerolog.Logger
	// Channel is the notifier's channel (default: notify's channel of
	// buyer sessions). Processes that must hear each other use the same.
	Channel string
}

// accepted names the accepted forms, for error messages.
const accepted = "memory:, sqlite:///absolute/path, sqlite://relative/path, a bare file path, " +
	"postgres://…, postgresql://…, redis://… or rediss://…"

// Open opens the backend named by rawURL with default Options.
func Open(ctx context.Context, rawURL string) (*Backend, error) {
	return OpenWithOptions(ctx, rawURL, Options{})
}

// OpenWithOptions opens the backend named by rawURL.
func OpenWithOptions(ctx context.Context, rawURL string, opts Options) (*Backend, error) {
	kind, location, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindMemory:
		return &Backend{
			Sessions: memstore.NewSessions(), Nonces: memstore.NewNonces(), Ledger: memstore.NewLedger(),
			Notifier: notify.NewLocal(), Kind: kind, Close: func() error { return nil },
		}, nil
	case KindSQLite:
		db, err := sqlitestore.Open(ctx, location)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %w", err)
		}
		return &Backend{
			Sessions: db.Sessions(), Nonces: db.Nonces(), Ledger: db.Ledger(),
			Notifier: notify.NewLocal(), Kind: kind, Close: db.Close,
		}, nil
	case KindPostgres:
		db, err := pgstore.Open(ctx, location)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %w", err)
		}
		n, err := notify.NewPostgres(db.Pool(), notify.Options{Channel: opts.Channel, Logger: opts.Logger})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("storeurl: %w", err)
		}
		return &Backend{
			Sessions: db.Sessions(), Nonces: db.Nonces(), Ledger: db.Ledger(),
			Locks: db.Locks(), RateLimiter: db.RateLimiter(),
			Notifier: n, Kind: kind, Close: func() error { db.Close(); return nil },
		}, nil
	case KindRedis:
		db, err := redisstore.Open(ctx, location)
		if err != nil {
			return nil, fmt.Errorf("storeurl: %w", err)
		}
		channel := "sessions"
		if opts.Channel != "" {
			channel = opts.Channel
		}
		n, err := notify.NewRedis(db.Client(), notify.Options{Channel: db.Prefix() + channel, Logger: opts.Logger})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("storeurl: %w", err)
		}
		return &Backend{
			Sessions: db.Sessions(), Nonces: db.Nonces(), Ledger: db.Ledger(),
			Notifier: n, Kind: kind, Close: db.Close,
		}, nil
	}
	return nil, fmt.Errorf("storeurl: unhandled kind %q", kind) // parse returns only the kinds above
}

// schemePrefix matches a URL scheme of two or more characters and its colon.
var schemePrefix = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// parse returns the backend kind of rawURL and what to open: the path for
// SQLite, the URL for Postgres and Redis.
func parse(rawURL string) (kind, location string, err error) {
	if strings.TrimSpace(rawURL) == "" {
		return "", "", errors.New("storeurl: empty store URL; use " + accepted)
	}
	m := schemePrefix.FindStringSubmatch(rawURL)
	if m == nil {
		return KindSQLite, rawURL, nil
	}
	rest := rawURL[len(m[0]):]
	switch scheme := strings.ToLower(m[1]); scheme {
	case "memory":
		if rest != "" {
			return "", "", errors.New(`storeurl: the memory store takes no location; use "memory:"`)
		}
		return KindMemory, "", nil
	case "sqlite":
		path, ok := strings.CutPrefix(rest, "//")
		if !ok || path == "" || path == "/" {
			return "", "", errors.New("storeurl: an SQLite URL is sqlite:///absolute/path or sqlite://relative/path")
		}
		return KindSQLite, path, nil
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return "", "", fmt.Errorf("storeurl: a %s URL starts with %s://", scheme, scheme)
		}
		return KindPostgres, scheme + ":" + rest, nil // pgx and go-redis want the scheme in lower case
	case "redis", "rediss":
		if !strings.HasPrefix(rest, "//") {
			return "", "", fmt.Errorf("storeurl: a %s URL starts with %s://", scheme, scheme)
		}
		return KindRedis, scheme + ":" + rest, nil
	default:
		// Only the scheme is quoted: the rest may hold a password.
		return "", "", fmt.Errorf("storeurl: unsupported store URL scheme %q; use %s", m[1], accepted)
	}
}
