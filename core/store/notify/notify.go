// Package notify tells every process sharing a store that a session
// changed, so MCP pods can drop cached copies and wake waiting callers.
// Postgres uses LISTEN/NOTIFY, Redis PUBLISH/SUBSCRIBE, and Local serves a
// single process (memory or SQLite stores).
//
// Delivery is at most once: a subscriber whose connection drops misses
// what is published until it reconnects. Every subscription therefore
// starts, and restarts after each reconnection, with a call of
// fn(AllSessions), meaning "anything may have changed: reload what you
// hold". Notifications carry only the session ID; the store stays the
// source of truth.
package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Notifier publishes and receives "session changed" notifications.
type Notifier interface {
	// Publish tells every subscriber, in this process and others, that the
	// session changed.
	Publish(ctx context.Context, sessionID string) error
	// Subscribe calls fn with the ID of each changed session, and with
	// AllSessions whenever the subscription is established or
	// re-established, until ctx is done; it then returns ctx.Err(). Calls
	// of fn are sequential; a slow fn delays later notifications. Lost
	// connections are re-established with backoff.
	Subscribe(ctx context.Context, fn func(sessionID string)) error
}

// AllSessions is the ID passed to a subscriber when notifications may have
// been missed (the subscription just started or reconnected, or it fell
// behind): every session must be treated as changed. Publish refuses it.
const AllSessions = ""

// MaxIDLen is the longest session ID Publish accepts, well under the 8000
// bytes a Postgres NOTIFY payload allows.
const MaxIDLen = 1024

// Defaults of Options.
const (
	DefaultPostgresChannel = "clinch_sessions"
	DefaultRedisChannel    = "clinch:sessions"
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultHealthInterval  = 30 * time.Second
)

// Options configures the Postgres and Redis notifiers. Zero fields take
// their defaults.
type Options struct {
	// Channel is the LISTEN channel or Redis pub/sub channel: every process
	// sharing a store must use the same one (default DefaultPostgresChannel
	// or DefaultRedisChannel).
	Channel string
	// Logger receives connection losses and reconnections (default none).
	Logger zerolog.Logger
	// MinBackoff and MaxBackoff bound the jittered, doubling wait before a
	// reconnection attempt.
	MinBackoff, MaxBackoff time.Duration
	// HealthInterval is how long a subscription may stay quiet before the
	// connection is pinged; a ping without reply within another interval
	// counts as a lost connection.
	HealthInterval time.Duration
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults(channel string) (Options, error) {
	if o.Channel == "" {
		o.Channel = channel
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.MaxBackoff < o.MinBackoff {
		return o, fmt.Errorf("notify: MaxBackoff %v is below MinBackoff %v", o.MaxBackoff, o.MinBackoff)
	}
	return o, nil
}

// checkID validates a session ID for Publish.
func checkID(id string) error {
	switch {
	case id == AllSessions:
		return fmt.Errorf("notify: publish: empty session id")
	case len(id) > MaxIDLen:
		return fmt.Errorf("notify: publish: session id of %d bytes is longer than %d", len(id), MaxIDLen)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fmt.Errorf("notify: publish: session id %q is not UTF-8 text without NUL", id)
	}
	return nil
}

// backoff yields jittered, doubling delays between min and max.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the delay before the next attempt: a random duration in
// [d/2, d) where d doubles from min up to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

// reset starts the delays over from min, after a success.
func (b *backoff) reset() { b.cur = 0 }

// sleep waits for d or until ctx is done, and returns ctx.Err() if it is.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
