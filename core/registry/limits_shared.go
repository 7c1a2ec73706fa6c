package registry

import (
	"context"
	"strconv"

	"golang.org/x/time/rate"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Shared rate limits. With a store.RateLimiter (Config.Shared.Limiter)
// the rate limits take their tokens from buckets every replica shares, so
// N replicas enforce one limit, not N. Should the store fail, the limit
// falls back on this process's bucket for that request (logged), rather
// than refusing every client or none.

// sharedLimiter links a keyedLimiter to the shared buckets.
type sharedLimiter struct {
	buckets store.RateLimiter
	name    string // bucket key prefix: which limit
	onError func(error)
}

// take takes one token of key's bucket: the shared one when there is one,
// else this process's (allow).
func (k *keyedLimiter) take(ctx context.Context, key string) *anp.Error {
	if k.shared == nil || k.limit == rate.Inf {
		return k.allow(key)
	}
	ok, err := k.shared.buckets.Take(ctx, k.shared.name+"/"+key, k.now(), float64(k.limit), k.burst)
	if err != nil {
		k.shared.onError(err)
		return k.allow(key)
	}
	if ok {
		return nil
	}
	return k.refused()
}

// refused is the rate_limited error of k.
func (k *keyedLimiter) refused() *anp.Error {
	return anp.Errorf(anp.CodeRateLimited, "too many %s: at most %s per second (burst %d); try again in %s",
		k.what, strconv.FormatFloat(float64(k.limit), 'f', -1, 64), k.burst, k.retryAfter())
}

// shareLimits links the rate limiters to the shared buckets of cfg.
func (s *Server) shareLimits() {
	if s.shared == nil || s.shared.Limiter == nil {
		return
	}
	onError := func(err error) {
		s.log.Warn().Err(err).Msg("shared rate limit unavailable: this process's limit applies")
	}
	for name, k := range map[string]*keyedLimiter{"auth": s.limits.auth, "ws": s.limits.wsUpgrade, "sessions": s.limits.sessions, "reports": s.limits.reports} {
		k.shared = &sharedLimiter{buckets: s.shared.Limiter, name: name, onError: onError}
	}
}
