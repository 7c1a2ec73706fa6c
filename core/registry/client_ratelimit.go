package registry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter bounds the wait a Retry-After header can ask for.
const maxRetryAfter = time.Hour

// RateLimitError is a rate_limited (429) answer of the registry, with the
// wait its Retry-After header asked for. Err is the registry's error (an
// *anp.Error with the code rate_limited, whose message says which limit
// and when to try again), so anp.CodeOf and errors.Is see through it.
type RateLimitError struct {
	RetryAfter time.Duration // 0: the answer had no usable Retry-After
	Err        error
}

func (e *RateLimitError) Error() string { return e.Err.Error() }
func (e *RateLimitError) Unwrap() error { return e.Err }

// rateLimited wraps err, the error of a 429 answer, with the delay of its
// Retry-After header (delay-seconds; an HTTP date or anything else gives 0).
func rateLimited(err error, h http.Header) error {
	rl := &RateLimitError{Err: err}
	if secs, perr := strconv.ParseUint(strings.TrimSpace(h.Get("Retry-After")), 10, 32); perr == nil {
		rl.RetryAfter = min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	return rl
}
