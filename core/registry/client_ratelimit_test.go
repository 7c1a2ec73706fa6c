package registry

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// A 429 answer keeps its anp error (code and message) and carries the
// delay-seconds of its Retry-After; any other form, or none, is 0.
func TestRateLimitedReadsRetryAfter(t *testing.T) {
	limit := anp.Errorf(anp.CodeRateLimited, "too many challenge and token requests from your address; try again in 30s")
	for header, want := range map[string]time.Duration{
		"30":                            30 * time.Second,
		" 2 ":                           2 * time.Second,
		"":                              0,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0,
		"-1":                            0,
		"1.5":                           0,
		"86400":                         maxRetryAfter,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Retry-After", header)
		}
		err := rateLimited(limit, h)
		var rl *RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != want {
			t.Errorf("Retry-After %q: %#v, want %s", header, err, want)
		}
		if anp.CodeOf(err) != anp.CodeRateLimited || err.Error() != limit.Error() {
			t.Errorf("Retry-After %q: %v loses the registry's error", header, err)
		}
	}
}
