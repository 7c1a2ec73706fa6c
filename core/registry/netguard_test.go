package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestGuardAddr(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"0.0.0.0", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"::1", true},
		{"::", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::127.0.0.1", true},
		{"64:ff9b::7f00:1", true}, // NAT64 of 127.0.0.1
		{"2002:a00:1::1", true},   // 6to4 of 10.0.0.1
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2001:4860::8888", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := guardAddr(netip.MustParseAddr(tc.addr))
			if (err != nil) != tc.refused {
				t.Fatalf("guardAddr(%s) = %v, want refused=%v", tc.addr, err, tc.refused)
			}
			if err != nil {
				if anp.CodeOf(err) != anp.CodeRefused || !strings.Contains(err.Error(), netip.MustParseAddr(tc.addr).String()) {
					t.Fatalf("error %q must be refused and name the address", err)
				}
			}
		})
	}
}

func TestGuardHost(t *testing.T) {
	lookups := 0
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups++
		switch host {
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:2800:220:1::1")}, nil
		case "rebind.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")}, nil
		case "mapped.example":
			return []netip.Addr{netip.MustParseAddr("::ffff:192.168.0.10")}, nil
		}
		return nil, errors.New("no such host")
	}
	tests := []struct {
		host    string
		refused string // substring of the error, "" when allowed
		lookup  bool
	}{
		{"public.example", "", true},
		{"8.8.8.8", "", false},
		{"2001:4860::8888", "", false},
		{"rebind.example", "10.1.2.3", true},
		{"mapped.example", "192.168.0.10", true},
		{"missing.example", "does not resolve", true},
		{"localhost", "loopback", false},
		{"api.localhost", "loopback", false},
		{"2130706433", "neither", false},
		{"0x7f.1", "neither", false},
		{"127.1", "neither", false},
		{"", "no host", false},
		{"127.0.0.1", "127.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			before := lookups
			err := guardHost(context.Background(), lookup, tc.host)
			if tc.refused == "" && err != nil {
				t.Fatalf("guardHost(%q) = %v, want allowed", tc.host, err)
			}
			if tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || anp.CodeOf(err) != anp.CodeRefused) {
				t.Fatalf("guardHost(%q) = %v, want refused mentioning %q", tc.host, err, tc.refused)
			}
			if did := lookups > before; did != tc.lookup {
				t.Fatalf("guardHost(%q) looked up the name: %v, want %v", tc.host, did, tc.lookup)
			}
		})
	}
}

func TestSellerClientRefusesToDialGuardedAddresses(t *testing.T) {
	hit := false
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	_, err := newSellerClient(false).Do(req)
	if err == nil || !strings.Contains(err.Error(), "refusing to dial") || hit {
		t.Fatalf("guarded client reached a loopback server: err=%v hit=%v", err, hit)
	}
	// The dev flag lets it through.
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	resp, err := newSellerClient(true).Do(req)
	if err != nil {
		t.Fatalf("unguarded client: %v", err)
	}
	resp.Body.Close()
	if !hit {
		t.Fatal("unguarded client did not reach the server")
	}
}

func TestSellerClientDoesNotFollowRedirects(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer target.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer ts.Close()
	resp, err := newSellerClient(true).Post(ts.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Fatalf("status %d followed=%v, want the redirect itself", resp.StatusCode, followed)
	}
}

// publisher binds domain to a new seller key and returns a function that
// publishes an endpoint record for it, with the next seq each time.
func (e *testEnv) publisher(t *testing.T, domain string) func(endpoint string) error {
	t.Helper()
	seller := anptest.NewKey(t)
	c := e.client(seller)
	if _, err := c.Bind(context.Background(), domain, e.grant(domain)); err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	return func(endpoint string) error {
		seq++
		rec, err := anp.SignRecord(anp.EndpointRecord{Domain: domain, Endpoint: endpoint, Categories: []string{"kitchen"},
			Modes: []anp.Mode{anp.ModeC}, Seq: seq, TS: e.clock.Now().UnixMilli()}, anp.Signer(seller))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PublishRecord(context.Background(), rec)
		return err
	}
}

func TestPublishRecordRefusesPrivateEndpoints(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowPrivateEndpoints = false })
	publish := e.publisher(t, "shop.anp")
	for _, ep := range []string{"http://127.0.0.1:8080", "https://[::1]/anp", "http://169.254.169.254/latest", "http://[::ffff:10.0.0.1]/", "http://localhost:9000", "http://0.0.0.0/"} {
		err := publish(ep)
		if anp.CodeOf(err) != anp.CodeRefused {
			t.Errorf("publish %s: %v, want refused", ep, err)
		}
	}
	if err := publish("https://8.8.8.8/anp"); err != nil {
		t.Fatalf("publish a public literal address: %v", err)
	}
}

func FuzzGuardHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "8.8.8.8", "fe80::1%eth0", "2001:4860::8888", "localhost",
		"shop.example", "0x7f.1", "2130706433", "64:ff9b::a00:1", "2002:c0a8:1::", "", "[::1]", "1.2.3.4.5"} {
		f.Add(s)
	}
	lookup := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := guardHost(context.Background(), lookup, host)
		if err != nil && anp.CodeOf(err) != anp.CodeRefused {
			t.Fatalf("guardHost(%q) error without the refused code: %v", host, err)
		}
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return
		}
		// A literal is judged by the address alone, and mapping an IPv4
		// address into IPv6 never changes the verdict.
		if (err == nil) != (guardAddr(a) == nil) {
			t.Fatalf("guardHost and guardAddr disagree on %q", host)
		}
		if a.Is4() {
			mapped := netip.AddrFrom16(a.As16())
			if (guardAddr(mapped) == nil) != (err == nil) {
				t.Fatalf("%s and its mapped form %s get different verdicts", a, mapped)
			}
		}
		if err == nil && (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() || a.Unmap().IsLoopback() || a.Unmap().IsPrivate()) {
			t.Fatalf("guard allowed %s", a)
		}
	})
}

// TestPublishRecordRefusesOtherPorts: outside development mode an endpoint
// must use port 80, 443, 8443 or one the operator listed.
func TestPublishRecordRefusesOtherPorts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowPrivateEndpoints = false; c.EndpointPorts = []uint16{9443} })
	public := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
	}
	e.srv.lookup = newEndpointGuard(public, e.cfg.EndpointPorts, zerolog.Nop())
	publish := e.publisher(t, "shop.anp")
	tests := []struct {
		endpoint string
		allowed  bool
	}{
		{"https://shop.example.com/anp", true},
		{"http://shop.example.com/anp", true},
		{"https://shop.example.com:8443/anp", true},
		{"https://shop.example.com:443/anp", true},
		{"https://shop.example.com:9443/anp", true}, // configured
		{"https://shop.example.com:8080/anp", false},
		{"http://shop.example.com:22/", false},
		{"https://shop.example.com:6379/", false},
		{"https://203.0.113.10:11211/", false},
	}
	for _, tc := range tests {
		err := publish(tc.endpoint)
		switch {
		case tc.allowed && err != nil:
			t.Errorf("publish %s: %v, want accepted", tc.endpoint, err)
		case !tc.allowed && (anp.CodeOf(err) != anp.CodeRefused || !strings.Contains(err.Error(), "is not one this registry relays to (80, 443, 8443, 9443)")):
			t.Errorf("publish %s: %v, want refused naming the allowed ports", tc.endpoint, err)
		}
	}
}

// FuzzGuardEndpoint: an endpoint is accepted only on an allowed port, and
// every refusal carries a protocol code.
func FuzzGuardEndpoint(f *testing.F) {
	for _, s := range []string{"https://shop.example/anp", "http://shop.example:80", "https://shop.example:8443", "https://shop.example:8080",
		"https://shop.example:0", "https://shop.example:65536", "https://shop.example:+443", "https://shop.example:0443", "ftp://shop.example",
		"https://[2001:db8::1]:443/", "https://shop.example:", "http://%zz", "//shop.example:443"} {
		f.Add(s)
	}
	g := newEndpointGuard(func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}, []uint16{9443}, zerolog.Nop())
	f.Fuzz(func(t *testing.T, endpoint string) {
		err := guardEndpoint(context.Background(), g, endpoint)
		if err != nil {
			if c := anp.CodeOf(err); c != anp.CodeRefused && c != anp.CodeBadRequest {
				t.Fatalf("guardEndpoint(%q) error without a code: %v", endpoint, err)
			}
			return
		}
		u, perr := url.Parse(endpoint)
		if perr != nil {
			t.Fatalf("guardEndpoint accepted %q, which is not a URL", endpoint)
		}
		if p := urlPort(u); p != 80 && p != 443 && p != 8443 && p != 9443 {
			t.Fatalf("guardEndpoint accepted %q on port %d", endpoint, p)
		}
	})
}
