// Package defaults fills unset configuration values. It holds what the
// core packages (registry, seller) share when they complete a Config.
package defaults

import "time"

// Positive returns v when it is above zero, else def: a count, size or
// duration that is zero or negative in a Config means "use the default".
func Positive[T ~int | ~int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// IdleConnsPerHost is how many idle connections an HTTP client of the core
// packages keeps to one host: the registry client to its registry, the
// registry to each seller. A buyer's parallel cascade sends several
// requests to the registry at once; above this many, connections (TLS
// handshakes in production) are opened again for every cascade.
const IdleConnsPerHost = 16

// IdleConnTimeout is how long such a client keeps an idle connection: below
// the 60 s after which a registry or seller node closes one, so that a kept
// connection is not closed under a request.
const IdleConnTimeout = 45 * time.Second
