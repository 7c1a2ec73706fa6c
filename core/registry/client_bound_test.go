package registry

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"testing"
	"time"
)

func newBoundTestClient(t *testing.T, hc *http.Client) *Client {
	t.Helper()
	_, id, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient("http://registry.invalid", id, ClientOptions{HTTP: hc})
}

// TestBoundedDefaultClient: on the default HTTP client every request's
// context ends within requestTimeout, a caller's sooner deadline being
// kept as it is.
func TestBoundedDefaultClient(t *testing.T) {
	c := newBoundTestClient(t, nil)
	if c.hc.Timeout != 0 {
		t.Fatalf("default HTTP client timeout %v, want the bound on the context only", c.hc.Timeout)
	}
	cases := map[string]func() (context.Context, context.CancelFunc){
		"no deadline": func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
		"later deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Hour)
		},
	}
	for name, parent := range cases {
		ctx, cancelParent := parent()
		bounded, cancel := c.bounded(ctx)
		end, ok := bounded.Deadline()
		if !ok || time.Until(end) > requestTimeout {
			t.Errorf("%s: deadline %v (set %v), want within %v", name, end, ok, requestTimeout)
		}
		cancel()
		if bounded.Err() == nil {
			t.Errorf("%s: the bounded context is not ended by its cancel", name)
		}
		cancelParent()
	}
	sooner, cancelSooner := context.WithTimeout(context.Background(), time.Second)
	defer cancelSooner()
	if got, cancel := c.bounded(sooner); got != sooner {
		t.Error("a caller's sooner deadline was wrapped, want its context as it is")
	} else {
		cancel()
	}
}

// TestBoundedOwnHTTPClient: a caller's own HTTP client keeps its own
// bounds; the client adds none.
func TestBoundedOwnHTTPClient(t *testing.T) {
	c := newBoundTestClient(t, &http.Client{Timeout: time.Minute})
	ctx := context.Background()
	got, cancel := c.bounded(ctx)
	defer cancel()
	if got != ctx {
		t.Error("context wrapped for a caller's own HTTP client")
	}
}
