package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

const guardToken = "tok-123456"

// startTransport serves srv over "http" (Streamable HTTP) or "sse" on a
// loopback port with o's guard settings and returns the bound address.
func startTransport(t *testing.T, srv *mcpserver.Server, transport string, o mcpserver.HTTPOptions) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	served := make(chan error, 1)
	o.Addr, o.Logger, o.Ready = "127.0.0.1:0", zerolog.Nop(), func(a string) { ready <- a }
	serve := mcpserver.ServeHTTP
	if transport == "sse" {
		serve = mcpserver.ServeSSE
	}
	go func() { served <- serve(ctx, srv, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("%s transport: %v", transport, err)
		}
	})
	select {
	case a := <-ready:
		return a
	case err := <-served:
		t.Fatalf("%s transport did not start: %v", transport, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s transport did not start", transport)
	}
	return ""
}

// rawRequest is one HTTP request sent by hand, so that Host, Origin and
// Authorization are exactly what a browser or attacker would send.
type rawRequest struct {
	method, path, host, auth string
	origins                  []string
	session                  string
	body                     string
}

// send returns the status and body of the answer (-1 when there is none).
func (r rawRequest) send(t *testing.T, addr string) (int, string) {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	body := r.body
	if body == "" && method == http.MethodPost {
		body = `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	}
	req, err := http.NewRequest(method, "http://"+addr+r.path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if r.host != "" {
		req.Host = r.host
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	for _, o := range r.origins {
		req.Header.Add("Origin", o)
	}
	if r.session != "" {
		req.Header.Set("Mcp-Session-Id", r.session)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "" // an SSE stream stays open: the status is the answer
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// refusalCode decodes a guard refusal: a JSON-RPC error without an id.
func refusalCode(t *testing.T, body string) int {
	t.Helper()
	var m struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.JSONRPC != "2.0" || string(m.ID) != "null" || m.Error.Message == "" {
		t.Fatalf("refusal body is not a JSON-RPC error without id: %q (%v)", body, err)
	}
	return m.Error.Code
}

// admitted: the request passed the guard (the MCP handler answered,
// whatever it thought of the request).
func admitted(status int) bool {
	return status > 0 && status != http.StatusForbidden && status != http.StatusUnauthorized && status != http.StatusRequestEntityTooLarge
}

// TestHTTPGuard checks Host (DNS rebinding, case-insensitive), Origin and
// the bearer token (scheme case-insensitive) over real loopback HTTP, for
// both transports: refused requests get 403/401 with a JSON-RPC error, the
// legitimate ones reach the MCP handler.
func TestHTTPGuard(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	for _, transport := range []string{"http", "sse"} {
		t.Run(transport, func(t *testing.T) {
			addr := startTransport(t, srv, transport, mcpserver.HTTPOptions{AuthToken: guardToken,
				AllowedOrigins: []string{"https://app.example.com", "HTTP://Tools.Example.org:8080"}})
			_, port, _ := net.SplitHostPort(addr)
			path := "/mcp"
			if transport == "sse" {
				path = "/message?sessionId=unknown" // the guard answers before the session is looked up
			}
			good := "Bearer " + guardToken
			for _, tc := range []struct {
				name    string
				req     rawRequest
				want    int // 0: admitted
				rpcCode bool
			}{
				{"valid token", rawRequest{auth: good}, 0, false},
				{"lower-case scheme", rawRequest{auth: "bearer " + guardToken}, 0, false},
				{"upper-case scheme", rawRequest{auth: "BEARER " + guardToken}, 0, false},
				{"no token", rawRequest{}, http.StatusUnauthorized, true},
				{"wrong token", rawRequest{auth: "Bearer wrong"}, http.StatusUnauthorized, true},
				{"token prefix", rawRequest{auth: "Bearer " + guardToken[:len(guardToken)-1]}, http.StatusUnauthorized, true},
				{"token with a suffix", rawRequest{auth: good + "7"}, http.StatusUnauthorized, true},
				{"other scheme", rawRequest{auth: "Basic " + guardToken}, http.StatusUnauthorized, true},
				{"scheme glued to token", rawRequest{auth: "Bearer" + guardToken}, http.StatusUnauthorized, true},
				{"Host LOCALHOST", rawRequest{auth: good, host: "LOCALHOST:" + port}, 0, false},
				{"Host Localhost without port", rawRequest{auth: good, host: "Localhost"}, 0, false},
				{"Host [::1]", rawRequest{auth: good, host: "[::1]:" + port}, 0, false},
				{"Host rebinding", rawRequest{auth: good, host: "evil.example.com:" + port}, http.StatusForbidden, true},
				{"Host rebinding before the token", rawRequest{host: "evil.example.com"}, http.StatusForbidden, true},
				{"Origin absent", rawRequest{auth: good}, 0, false},
				{"Origin own", rawRequest{auth: good, origins: []string{"http://127.0.0.1:" + port}}, 0, false},
				{"Origin localhost other port", rawRequest{auth: good, origins: []string{"http://localhost:6274"}}, 0, false},
				{"Origin LOCALHOST https", rawRequest{auth: good, origins: []string{"https://LOCALHOST"}}, 0, false},
				{"Origin [::1]", rawRequest{auth: good, origins: []string{"http://[::1]:3000"}}, 0, false},
				{"Origin allowed", rawRequest{auth: good, origins: []string{"https://app.example.com"}}, 0, false},
				{"Origin allowed, default port spelt out", rawRequest{auth: good, origins: []string{"https://app.example.com:443"}}, 0, false},
				{"Origin allowed, case folded", rawRequest{auth: good, origins: []string{"http://tools.example.org:8080"}}, 0, false},
				{"Origin foreign", rawRequest{auth: good, origins: []string{"http://evil.example"}}, http.StatusForbidden, true},
				{"Origin foreign without token", rawRequest{origins: []string{"http://evil.example"}}, http.StatusForbidden, true},
				{"Origin allowed host, other scheme", rawRequest{auth: good, origins: []string{"http://app.example.com"}}, http.StatusForbidden, true},
				{"Origin allowed host, other port", rawRequest{auth: good, origins: []string{"https://app.example.com:8443"}}, http.StatusForbidden, true},
				{"Origin null", rawRequest{auth: good, origins: []string{"null"}}, http.StatusForbidden, true},
				{"Origin with a path", rawRequest{auth: good, origins: []string{"http://localhost:6274/x"}}, http.StatusForbidden, true},
				{"Origin not http", rawRequest{auth: good, origins: []string{"file://localhost"}}, http.StatusForbidden, true},
				{"two Origin headers", rawRequest{auth: good, origins: []string{"http://localhost:1", "http://evil.example"}}, http.StatusForbidden, true},
				{"Origin of a look-alike host", rawRequest{auth: good, origins: []string{"http://127.0.0.1.evil.example:" + port}}, http.StatusForbidden, true},
			} {
				tc.req.path = path
				status, body := tc.req.send(t, addr)
				switch {
				case tc.want == 0 && !admitted(status):
					t.Errorf("%s: status %d (%s), want the request admitted", tc.name, status, body)
				case tc.want != 0 && status != tc.want:
					t.Errorf("%s: status %d (%s), want %d", tc.name, status, body, tc.want)
				case tc.rpcCode:
					if code := refusalCode(t, body); code != -32600 {
						t.Errorf("%s: JSON-RPC code %d, want -32600", tc.name, code)
					}
				}
			}
			// /healthz needs no token but is behind the Host check.
			if status, _ := (rawRequest{method: http.MethodGet, path: "/healthz"}).send(t, addr); transport == "http" && status != http.StatusOK {
				t.Errorf("healthz without token: %d", status)
			}
			if status, _ := (rawRequest{method: http.MethodGet, path: "/healthz", host: "evil.example.com"}).send(t, addr); status != http.StatusForbidden {
				t.Errorf("healthz with a rebinding Host: %d, want 403", status)
			}
		})
	}
}

// TestHTTPForeignOriginExecutesNothing: a page on a foreign origin that
// posts a tool call to the local server (with the user's initialised
// session) gets 403 and no session is created; the same call from the
// legitimate client runs.
func TestHTTPForeignOriginExecutesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	addr := startTransport(t, srv, "http", mcpserver.HTTPOptions{})
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	session := initSession(t, addr, init)
	propose := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"propose_deal","arguments":{"seller":"kitchen-outlet.anp","item":"Blender","max_budget":100}}}`
	sessions := func() int {
		list, err := h.core.ListSessions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, origin := range []string{"http://evil.example", "null", "https://attacker.test:8848"} {
		status, body := rawRequest{path: "/mcp", session: session, origins: []string{origin}, body: propose}.send(t, addr)
		if status != http.StatusForbidden {
			t.Fatalf("tools/call from Origin %s: status %d (%s), want 403", origin, status, body)
		}
		refusalCode(t, body)
	}
	if n := sessions(); n != 0 {
		t.Fatalf("a refused cross-origin call created %d sessions", n)
	}
	if status, body := (rawRequest{path: "/mcp", session: session, body: propose}).send(t, addr); status != http.StatusOK {
		t.Fatalf("tools/call without Origin: status %d (%s)", status, body)
	}
	if n := sessions(); n != 1 {
		t.Fatalf("the legitimate call created %d sessions, want 1", n)
	}
}

// initSession initialises an MCP session over Streamable HTTP and returns
// its id.
func initSession(t *testing.T, addr, init string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(init))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize: status %d", resp.StatusCode)
	}
	return resp.Header.Get("Mcp-Session-Id")
}

// countingReader yields n zero bytes and counts how many were read.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	clear(p)
	c.left -= int64(len(p))
	c.read.Add(int64(len(p)))
	return len(p), nil
}

// postHuge sends a body of size bytes over a raw connection (declared with
// Content-Length, or chunked) while reading the answer, then closes the
// connection and returns the status, the answer's body and how many body
// bytes the server let the client hand over.
func postHuge(t *testing.T, addr, path string, size int64, chunked bool) (int, string, int64) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	framing := fmt.Sprintf("Content-Length: %d", size)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n%s\r\n\r\n", path, framing)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	body := &countingReader{left: size}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if chunked {
			cw := httputil.NewChunkedWriter(conn)
			if _, err := io.Copy(cw, body); err == nil {
				_ = cw.Close()
			}
			return
		}
		_, _ = io.Copy(conn, body)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a %d-byte body: %v", size, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	conn.Close() // stops the writer
	<-wrote
	return resp.StatusCode, string(b), body.read.Load()
}

// TestHTTPBodyCap: a 256 MiB request body is refused with 413 and a
// JSON-RPC error on both transports' POST endpoints, declared or chunked,
// and the server never takes it in: the bytes the client could hand over
// (counted at the source) stay a small fraction of the body — the cap plus
// what the kernel's socket buffers hold. A legitimate request just under a
// lowered cap, and a normal one after the floods, are served.
func TestHTTPBodyCap(t *testing.T) {
	const huge = 256 << 20
	const bound = 48 << 20 // cap + socket buffers, far below 256 MiB
	h := newHarness(t, harnessOpts{})
	srv := mcpserver.New(&tools.Deps{Core: h.core, Logger: zerolog.Nop()}, zerolog.Nop())
	for _, tc := range []struct {
		transport, path string
		maxBody         int64
	}{
		{"http", "/mcp", 0},       // the default cap, 4 MiB
		{"http", "/mcp", 1 << 20}, // a configured cap
		{"sse", "/message", 0},    // before any session lookup
		{"sse", "/message", 1 << 20},
	} {
		t.Run(fmt.Sprintf("%s cap %d", tc.transport, tc.maxBody), func(t *testing.T) {
			addr := startTransport(t, srv, tc.transport, mcpserver.HTTPOptions{MaxBodyBytes: tc.maxBody})
			limit := tc.maxBody
			if limit == 0 {
				limit = mcpserver.DefaultMaxBodyBytes
			}
			for _, chunked := range []bool{false, true} {
				status, body, read := postHuge(t, addr, tc.path+"?sessionId=x", huge, chunked)
				t.Logf("chunked=%t: status %d, %d of %d body bytes left the client", chunked, status, read, huge)
				if status != http.StatusRequestEntityTooLarge {
					t.Fatalf("chunked=%t: status %d (%s), want 413", chunked, status, body)
				}
				if code := refusalCode(t, body); code != -32600 || !strings.Contains(body, fmt.Sprint(limit)) {
					t.Errorf("chunked=%t: refusal %s does not name the cap %d", chunked, body, limit)
				}
				if read >= bound {
					t.Errorf("chunked=%t: the server let %d bytes in, want < %d (it must not buffer the body)", chunked, read, bound)
				}
			}
			if tc.transport != "http" || tc.maxBody == 0 {
				return // the body at the cap is shown once, with the configured cap
			}
			// A ping padded to exactly the cap is a legitimate request.
			session := initSession(t, addr, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
			ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
			padded := ping[:len(ping)-1] + strings.Repeat(" ", int(limit)-len(ping)) + "}"
			if status, body := (rawRequest{path: "/mcp", session: session, body: padded}).send(t, addr); status != http.StatusOK {
				t.Errorf("a %d-byte request at the cap: status %d (%s)", len(padded), status, body)
			}
			if status, body := (rawRequest{path: "/mcp", session: session, body: padded + " "}).send(t, addr); status != http.StatusRequestEntityTooLarge {
				t.Errorf("one byte over the cap: status %d (%s), want 413", status, body)
			}
			if status, body := (rawRequest{path: "/mcp", session: session}).send(t, addr); status != http.StatusOK {
				t.Errorf("a ping after the floods: status %d (%s)", status, body)
			}
		})
	}
}

func TestParseOrigins(t *testing.T) {
	got, err := mcpserver.ParseOrigins([]string{"https://App.Example.com", "http://localhost:6274", " http://[::1]:3000/ "})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com:443", "http://localhost:6274", "http://[::1]:3000"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ParseOrigins = %v, want %v", got, want)
	}
	for _, bad := range []string{"null", "*", "app.example.com", "ftp://x.example", "https://x.example/path", "https://user@x.example", "https://x.example?q", "https://", "http://:80"} {
		if _, err := mcpserver.ParseOrigins([]string{bad}); err == nil {
			t.Errorf("ParseOrigins(%q) accepted it", bad)
		}
	}
}
