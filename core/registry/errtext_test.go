package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// fakeResolverAddr is the address a resolver error names; it must never
// reach a client.
const fakeResolverAddr = "10.53.0.1:53"

// failingResolver answers like a real resolver that knows no name.
func failingResolver(_ context.Context, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: fakeResolverAddr, IsNotFound: true}
}

// addrPattern matches an IPv4 or bracketed IPv6 address with a port: a
// socket address.
var addrPattern = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+|\[[0-9a-fA-F:.]+\]:\d+`)

// TestErrorBodiesNameNoAddressesOrKeys provokes the registry's error
// answers about sellers that fail, records that do not resolve and
// envelopes from the wrong party, over loopback HTTP, and checks every
// body: no socket address (the registry's, the seller's or the resolver's)
// and no key the registry expected.
func TestErrorBodiesNameNoAddressesOrKeys(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SellerTimeout = 200 * time.Millisecond })
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	tok := e.token(identity)
	var bodies []string
	relay := func(env *anp.Envelope) {
		r := e.do(http.MethodPost, "/v1/relay/pans.anp", env, bearerHeader(tok))
		if r.status < 400 {
			t.Fatalf("relay answered HTTP %d", r.status)
		}
		bodies = append(bodies, string(r.body))
	}

	// A seller that closes the connection without answering.
	seller.setRespond(func(w http.ResponseWriter, _ string, _ *anp.Envelope) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	relay(newBuyerSession(t, e.clock, "pans.anp").Seal(anp.TypePropose, proposeBody()))
	// A seller that does not answer in time (it answers once the test is
	// over; a second seller, so that closing the first waits for nothing).
	slow := e.addSeller("slow.anp")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	slow.setRespond(func(http.ResponseWriter, string, *anp.Envelope) { <-hold })
	r := e.do(http.MethodPost, "/v1/relay/slow.anp", newBuyerSession(t, e.clock, "slow.anp").Seal(anp.TypePropose, proposeBody()), bearerHeader(tok))
	bodies = append(bodies, string(r.body))
	// A seller whose reply is addressed to someone else.
	seller.setRespond(func(w http.ResponseWriter, _ string, env *anp.Envelope) {
		other := *env
		other.From = anptest.PubHex(anptest.NewKey(t))
		seller.answer(w, &other, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	})
	relay(newBuyerSession(t, e.clock, "pans.anp").Seal(anp.TypePropose, proposeBody()))
	// A seller that is gone: nothing listens on its port any more.
	seller.setRespond(nil)
	b, propose := pendingSession(t, e, seller, c)
	seller.ts.Close()
	relay(b.Seal(anp.TypeQuery, anp.NoteBody{Message: "hello?"}))

	// A callback signed by a stranger, and one by the seller to the wrong buyer key.
	stranger := newSellerStub(t, e.clock, "pans.anp")
	wrongTo := *propose
	wrongTo.From = anptest.PubHex(anptest.NewKey(t))
	for _, env := range []*anp.Envelope{stranger.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1}), seller.seal(&wrongTo, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})} {
		r := e.do(http.MethodPost, anp.RouteCallbacks, env, nil)
		if r.status < 400 {
			t.Fatalf("callback answered HTTP %d", r.status)
		}
		bodies = append(bodies, string(r.body))
	}

	// A record whose host does not resolve (the resolver names its address).
	e.srv.lookup = newEndpointGuard(failingResolver, nil, zerolog.Nop())
	e.srv.cfg.AllowPrivateEndpoints = false
	err := e.publisher(t, "shop.anp")("https://shop.example.com/anp")
	var ae *anp.Error
	if !errors.As(err, &ae) || ae.Code != anp.CodeRefused {
		t.Fatalf("record with an unresolvable host: %v", err)
	}
	body, _ := json.Marshal(anp.ErrorBody{Error: ae}) // the body as the client decoded it
	bodies = append(bodies, string(body))

	forbidden := []string{fakeResolverAddr, "10.53.0.1", strings.TrimPrefix(e.ts.URL, "http://"), strings.TrimPrefix(seller.ts.URL, "http://"),
		"expected", propose.From[:12], anptest.PubHex(seller.key)[:12]}
	wantKinds := []string{"connection closed early", "timed out", "not addressed to the session's buyer key", "connection refused",
		"session " + b.Session + " not found", "not addressed to the session's buyer key", "does not resolve"}
	for i, body := range bodies {
		t.Logf("error body %d: %s", i+1, strings.TrimSpace(body))
		if m := addrPattern.FindString(body); m != "" {
			t.Errorf("body %d names the socket address %s: %s", i+1, m, body)
		}
		for _, f := range forbidden {
			if strings.Contains(body, f) {
				t.Errorf("body %d contains %q: %s", i+1, f, body)
			}
		}
		if !strings.Contains(body, wantKinds[i]) {
			t.Errorf("body %d does not say %q: %s", i+1, wantKinds[i], body)
		}
	}
}

func TestFailureKinds(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timed out"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Server: fakeResolverAddr}}, "its host name does not resolve"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "connection refused"},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, "connection closed early"},
		{io.ErrUnexpectedEOF, "connection closed early"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.EHOSTUNREACH}, "host unreachable"},
		{errors.Join(errGuardedDial, errors.New("loopback")), "its address is not one the registry may connect to"},
		{errors.New("something else at 127.0.0.1:5"), "network error"},
	}
	for _, tc := range tests {
		if got := failureKind(tc.err); got != tc.want {
			t.Errorf("failureKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestRelayRefusesPortsOutsideTheList: a listing stored with a port the
// registry does not relay to (published before the port rule, say) is not
// contacted.
func TestRelayRefusesPortsOutsideTheList(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp") // on a random port, allowed in development mode
	// The relaying client of a registry out of development mode, still
	// allowed to dial loopback so that only the port rule is at work.
	e.srv.sellerHTTP = quietClient(newSellerClient(true), e.srv.lookup.ports, zerolog.Nop())
	c := e.client(anptest.NewKey(t))
	_, err := c.Relay(context.Background(), "pans.anp", newBuyerSession(t, e.clock, "pans.anp").Seal(anp.TypePropose, proposeBody()))
	if anp.CodeOf(err) != anp.CodeUnavailable || !strings.Contains(err.Error(), "its port is not one the registry relays to") {
		t.Fatalf("relay to %s: %v, want unavailable naming the port rule", seller.ts.URL, err)
	}
	if n := seller.requests(); n != 0 {
		t.Fatalf("the seller got %d requests", n)
	}
}
