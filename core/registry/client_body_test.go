package registry

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// rawRegistry answers every request on a fresh connection with the given
// Content-Length and body bytes, then closes the connection.
func rawRegistry(t *testing.T, contentLength, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging, not an assertion
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s", contentLength, body)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// The client reads a registry answer by its Content-Length, but a length
// that lies, in either direction, neither passes off a short answer as
// whole nor lets an answer above the cap through.
func TestClientLyingContentLength(t *testing.T) {
	const proof = `{"proof":["aa"]}`
	tests := []struct {
		name, contentLength, body string
		code                      anp.Code // "" when the answer is read
	}{
		{"honest", fmt.Sprint(len(proof)), proof, ""},
		{"announces less than it sends", "9", proof, anp.CodeUnavailable},
		{"announces more than it sends", "100", proof, anp.CodeUnavailable},
		{"announces a huge answer, sends a small one", "1099511627776", proof, anp.CodeUnavailable},
		{"announces a huge answer, sends one above the cap", "1099511627776", strings.Repeat(" ", maxResponseBytes+10), anp.CodeTooLarge},
		{"announces an answer above the cap", fmt.Sprint(maxResponseBytes + 10), strings.Repeat(" ", maxResponseBytes+10), anp.CodeTooLarge},
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(rawRegistry(t, tc.contentLength, tc.body), key, ClientOptions{})
			p, err := c.Consistency(context.Background(), 1, 2)
			if got := anp.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if tc.code == "" && (len(p) != 1 || p[0] != "aa") {
				t.Errorf("proof %v, want [aa]", p)
			}
		})
	}
}

// The default HTTP client keeps enough idle connections to the registry
// for a parallel cascade.
func TestClientKeepsIdleConnections(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient("http://127.0.0.1:1", key, ClientOptions{})
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T, want *http.Transport", c.hc.Transport)
	}
	if tr.MaxIdleConnsPerHost < 16 || tr.IdleConnTimeout <= 0 || tr.IdleConnTimeout >= 60*time.Second || tr.Proxy == nil || tr.TLSHandshakeTimeout <= 0 {
		t.Errorf("idle %d per host for %v, proxy set %v, TLS handshake timeout %v", tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.Proxy != nil, tr.TLSHandshakeTimeout)
	}
	if tr == http.DefaultTransport {
		t.Error("the client changed http.DefaultTransport")
	}
}

// The request headers share one backing array: adding a value to one of
// them must leave the others as they were.
func TestSetRequestHeaders(t *testing.T) {
	h := http.Header{}
	setRequestHeaders(h, true, "Bearer tok")
	h.Add("Accept", "text/plain")
	h.Add("Content-Type", "x")
	want := http.Header{
		"Accept":        {"application/json", "text/plain"},
		"Content-Type":  {"application/json", "x"},
		"Authorization": {"Bearer tok"},
	}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("headers %v, want %v", h, want)
	}
	h = http.Header{}
	setRequestHeaders(h, false, "")
	if fmt.Sprint(h) != fmt.Sprint(http.Header{"Accept": {"application/json"}}) {
		t.Errorf("headers without body or token %v", h)
	}
}
