package registry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestOversizeBodyIs413(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4 << 10 })
	big := fmt.Sprintf(`{"pubkey":"%s"}`, strings.Repeat("a", 8<<10))
	r := e.do(http.MethodPost, anp.RouteChallenge, big, nil)
	if r.status != http.StatusRequestEntityTooLarge || r.errCode() != anp.CodeTooLarge {
		t.Fatalf("HTTP %d %s, want 413 too_large", r.status, r.body)
	}
	// The default cap is 256 KiB.
	e2 := newEnv(t, nil)
	r = e2.do(http.MethodPost, anp.RouteRecords, strings.Repeat(" ", 300<<10), nil)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("300 KiB body with the default cap: HTTP %d, want 413", r.status)
	}
}

func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t, nil)
	pub := anptest.PubHex(anptest.NewKey(t))
	tests := []struct {
		name, body string
		status     int
	}{
		{"valid", fmt.Sprintf(`{"pubkey":%q}`, pub), http.StatusOK},
		{"unknown field", fmt.Sprintf(`{"pubkey":%q,"admin":true}`, pub), http.StatusBadRequest},
		{"trailing data", fmt.Sprintf(`{"pubkey":%q}{}`, pub), http.StatusBadRequest},
		{"not JSON", `pubkey=` + pub, http.StatusBadRequest},
		{"empty", ``, http.StatusBadRequest},
		{"bad key", `{"pubkey":"ABC"}`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, anp.RouteChallenge, tc.body, nil)
			if r.status != tc.status {
				t.Fatalf("HTTP %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status != http.StatusOK && r.errCode() != anp.CodeBadRequest {
				t.Fatalf("error body %s, want code bad_request", r.body)
			}
		})
	}
}

func TestUnknownRouteAnswersJSON(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(http.MethodGet, "/v1/nothing-here", nil, nil)
	if r.status != http.StatusNotFound || r.errCode() != anp.CodeNotFound {
		t.Fatalf("HTTP %d %s, want 404 not_found body", r.status, r.body)
	}
	r = e.do(http.MethodGet, anp.RouteHealth, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("health: HTTP %d", r.status)
	}
}

func TestStatusForEveryCode(t *testing.T) {
	want := map[anp.Code]int{
		anp.CodeBadRequest: 400, anp.CodeUnknownType: 400, anp.CodeBadSignature: 401, anp.CodeUnauthorized: 401,
		anp.CodeForbidden: 403, anp.CodeNotFound: 404, anp.CodeConflict: 409, anp.CodeReplay: 409,
		anp.CodeOutOfOrder: 409, anp.CodeBadState: 409, anp.CodeExpired: 410, anp.CodeTooLarge: 413,
		anp.CodeRefused: 422, anp.CodeRateLimited: 429, anp.CodeUnavailable: 502, anp.CodeInternal: 500,
	}
	for code, status := range want {
		if got := statusFor(code); got != status {
			t.Errorf("statusFor(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestNewHTTPServerTimeouts(t *testing.T) {
	e := newEnv(t, nil)
	hs := e.srv.NewHTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout != 5*time.Second || hs.ReadTimeout != 15*time.Second || hs.WriteTimeout != 30*time.Second ||
		hs.IdleTimeout != 60*time.Second || hs.MaxHeaderBytes != 16<<10 {
		t.Fatalf("timeouts %v/%v/%v/%v max header %d", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
}

// A client that sends its body too slowly is cut off by the read timeout.
func TestSlowBodyHitsReadTimeout(t *testing.T) {
	e := newEnv(t, nil)
	hs := e.srv.NewHTTPServer("")
	hs.ReadTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging, not an assertion
	head := "POST " + anp.RouteChallenge + " HTTP/1.1\r\nHost: registry\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
	if _, err := io.WriteString(conn, head+`{"pubkey":"`); err != nil {
		t.Fatal(err)
	}
	// Serve only now: the headers and the start of the body are waiting
	// when the read timeout starts, so only the body can run out of time.
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	// Send nothing more: the server must give up on its own.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("server closed the connection without an answer: %v", err)
	}
	defer resp.Body.Close()
	var eb anp.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || eb.Error == nil || !strings.Contains(eb.Error.Message, "timeout") {
		t.Fatalf("HTTP %d %+v, want 400 naming the read timeout", resp.StatusCode, eb.Error)
	}
}

func TestWebSocketRouteWithoutUpgradeAnswersJSON(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(http.MethodGet, anp.RouteWS, nil, nil)
	if r.status != http.StatusBadRequest || r.errCode() != anp.CodeBadRequest {
		t.Fatalf("HTTP %d %s, want a 400 JSON error", r.status, r.body)
	}
}
