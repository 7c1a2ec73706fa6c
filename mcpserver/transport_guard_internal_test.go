package mcpserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// FuzzGuardAdmit feeds the guard arbitrary Host, Origin and Authorization
// headers on a loopback bind with a token and allowed origins. Whatever it
// admits must be explainable: a loopback Host, the right token, and an
// absent, loopback, allowed or own Origin; and a normalised origin parses
// back to itself.
func FuzzGuardAdmit(f *testing.F) {
	for _, seed := range [][3]string{
		{"127.0.0.1:8848", "", "Bearer tok"},
		{"LOCALHOST:8848", "http://localhost:6274", "bearer tok"},
		{"[::1]:8848", "https://app.example.com", "BEARER tok"},
		{"evil.example", "http://evil.example", "Bearer tok"},
		{"localhost", "null", "Bearer  tok"},
		{"127.0.0.1:8848", "http://127.0.0.1:8848", "Basic tok"},
		{"localhost:1", "http://[::1", "Bearer"},
		{"127.0.0.1", "HTTPS://APP.EXAMPLE.COM:443/", "Bearer tok\x00"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	g, err := newGuard(HTTPOptions{Addr: "127.0.0.1:8848", AuthToken: "tok", AllowedOrigins: []string{"https://app.example.com"}, Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, origin, auth string) {
		r := &http.Request{Host: host, Header: http.Header{}, URL: &url.URL{Path: "/mcp"}}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		r.Header.Set("Authorization", auth)
		if g.admit(r) != nil {
			return
		}
		if !isLoopbackHost(hostOnly(host)) {
			t.Fatalf("admitted Host %q", host)
		}
		if scheme, tok, _ := strings.Cut(auth, " "); !strings.EqualFold(scheme, "bearer") || strings.TrimLeft(tok, " ") != "tok" {
			t.Fatalf("admitted Authorization %q", auth)
		}
		if origin == "" {
			return
		}
		u, key, err := parseOrigin(origin)
		if err != nil {
			t.Fatalf("admitted malformed Origin %q", origin)
		}
		if _, again, err := parseOrigin(key); err != nil || again != key {
			t.Fatalf("origin %q normalises to %q, which reads back as %q (%v)", origin, key, again, err)
		}
		own := hostPortKey(u.Scheme, host) == hostPortKey(u.Scheme, u.Host)
		if key != "https://app.example.com:443" && !isLoopbackHost(u.Hostname()) && !own {
			t.Fatalf("admitted foreign Origin %q", origin)
		}
	})
}
