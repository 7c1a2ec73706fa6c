package registry

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
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

// TestDefaultClientTakesNoRedirect: the default client, which sends
// straight through its transport, returns a 3xx answer as it is and never
// asks where it points.
func TestDefaultClientTakesNoRedirect(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	_, id, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(srv.URL, id, ClientOptions{})
	_, err = c.LogHead(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Fatalf("LogHead on a redirect: %v, want the 302 as an error", err)
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
}

// TestDefaultClientFailsAsHTTPClient: a request that cannot connect fails
// with the same text on the default client as through an http.Client.
func TestDefaultClientFailsAsHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	_, id, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, direct := NewClient(base, id, ClientOptions{}).LogHead(context.Background())
	_, viaClient := NewClient(base, id, ClientOptions{HTTP: &http.Client{CheckRedirect: noRedirect}}).LogHead(context.Background())
	if direct == nil || viaClient == nil || direct.Error() != viaClient.Error() {
		t.Fatalf("failure on the default client:\n %v\nthrough an http.Client:\n %v", direct, viaClient)
	}
}

// TestAuthorizationFollowsTheToken: the Authorization value kept for one
// token is never sent for another.
func TestAuthorizationFollowsTheToken(t *testing.T) {
	c := newBoundTestClient(t, nil)
	for _, tok := range []string{"first", "first", "second", "first"} {
		if got, want := c.authorization(tok), "Bearer "+tok; got != want {
			t.Fatalf("authorization(%q) = %q, want %q", tok, got, want)
		}
	}
	if got := c.authorization(""); got != "" {
		t.Fatalf("authorization without a token = %q, want none", got)
	}
}

// TestPairQueryIsTheEncodedValues: pairQuery writes what url.Values.Encode
// writes for the two numbers.
func TestPairQueryIsTheEncodedValues(t *testing.T) {
	for _, c := range []struct {
		a, b string
		x, y uint64
	}{{"first", "second", 0, 1}, {"index", "size", 99, 100}, {"first", "second", 1<<64 - 1, 1<<63 + 7}} {
		want := url.Values{c.a: {strconv.FormatUint(c.x, 10)}, c.b: {strconv.FormatUint(c.y, 10)}}.Encode()
		if got := pairQuery(c.a, c.x, c.b, c.y); got != want {
			t.Errorf("pairQuery = %q, want %q", got, want)
		}
	}
}
