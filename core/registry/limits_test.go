package registry

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestKeyedLimiterBurstRefillAndBound(t *testing.T) {
	clock := anptest.NewClock(time.Now())
	k := newKeyedLimiter("requests", rate.Limit(2), 3, 4, clock.Now)
	for i := range 3 {
		if err := k.allow("a"); err != nil {
			t.Fatalf("request %d within the burst: %v", i+1, err)
		}
	}
	err := k.allow("a")
	if anp.CodeOf(err) != anp.CodeRateLimited || err.Message != "too many requests: at most 2 per second (burst 3); try again in 1s" {
		t.Fatalf("request past the burst: %v, want rate_limited naming the limit", err)
	}
	if err := k.allow("b"); err != nil {
		t.Fatalf("another key is limited too: %v", err)
	}
	clock.Advance(500 * time.Millisecond)
	if err := k.allow("a"); err != nil {
		t.Fatalf("a token should be back after 1/rate: %v", err)
	}

	// The table never holds more than its size: the least recently seen
	// key makes room, and no key is ever refused for lack of room.
	for i := range 100 {
		if err := k.allow("flood-" + strconv.Itoa(i)); err != nil {
			t.Fatalf("new key %d refused: %v", i, err)
		}
		if n := k.tracked(); n > 4 {
			t.Fatalf("table holds %d keys, bound 4", n)
		}
	}
	// Keys whose bucket refilled are forgotten.
	clock.Advance(k.idle)
	_ = k.allow("last")
	if n := k.tracked(); n != 1 {
		t.Fatalf("table holds %d keys after every bucket refilled, want 1", n)
	}
	off := newKeyedLimiter("x", rate.Inf, 1, 1, clock.Now)
	for i := range 3 {
		if err := off.allow("a"); err != nil {
			t.Fatalf("a limiter with no limit refused request %d: %v", i+1, err)
		}
	}
	if off.tracked() != 0 {
		t.Fatal("a limiter with no limit remembered a key")
	}
}

func TestLimitRate(t *testing.T) {
	tests := []struct {
		configured, def float64
		want            rate.Limit
	}{
		{0, 20, 20},
		{5, 20, 5},
		{-1, 20, rate.Inf},
		{0.5, 20, 0.5},
	}
	for _, tc := range tests {
		if got := limitRate(tc.configured, tc.def); got != tc.want {
			t.Errorf("limitRate(%g, %g) = %v, want %v", tc.configured, tc.def, got, tc.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct peer", "198.51.100.4:5555", nil, nil, "198.51.100.4"},
		{"forwarded header ignored without trusted proxies", "198.51.100.4:5555", []string{"203.0.113.9"}, nil, "198.51.100.4"},
		{"forwarded header ignored from an untrusted peer", "198.51.100.4:5555", []string{"203.0.113.9"}, proxies, "198.51.100.4"},
		{"trusted proxy names the client", "10.1.2.3:5555", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"rightmost untrusted entry wins over a spoofed left part", "10.1.2.3:5555", []string{"1.1.1.1, 203.0.113.9"}, proxies, "203.0.113.9"},
		{"trusted hops are skipped", "10.1.2.3:5555", []string{"203.0.113.9, 192.0.2.7", "10.9.9.9"}, proxies, "203.0.113.9"},
		{"a malformed entry stops the walk", "10.1.2.3:5555", []string{"203.0.113.9, garbage"}, proxies, "10.1.2.3"},
		{"only trusted entries", "10.1.2.3:5555", []string{"10.4.4.4"}, proxies, "10.4.4.4"},
		{"mapped IPv4 peer", "[::ffff:198.51.100.4]:5555", nil, nil, "198.51.100.4"},
		{"IPv6 peer", "[2001:db8:1:2:3:4:5:6]:5555", nil, nil, "2001:db8:1:2:3:4:5:6"},
		{"unparsable peer", "pipe", nil, nil, "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tc.trusted).String(); got != tc.want {
				t.Fatalf("clientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"198.51.100.4", "198.51.100.4"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	}
	for _, tc := range tests {
		if got := sourceKey(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("sourceKey(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
	if got := sourceKey(netip.Addr{}); got != "unknown" {
		t.Errorf("sourceKey(invalid) = %s", got)
	}
}

func TestParseFlagsLists(t *testing.T) {
	if _, err := ParseTrustedProxies("10.0.0.0/8,nonsense"); err == nil {
		t.Error("ParseTrustedProxies accepted nonsense")
	}
	if ps, err := ParseTrustedProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("ParseTrustedProxies(\"\") = %v, %v", ps, err)
	}
	if ports, err := ParsePorts("8080, 9443"); err != nil || len(ports) != 2 || ports[0] != 8080 || ports[1] != 9443 {
		t.Errorf("ParsePorts = %v, %v", ports, err)
	}
	for _, bad := range []string{"0", "65536", "http", "-1"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}
