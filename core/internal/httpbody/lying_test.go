package httpbody

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// readServer answers every request with the status of ReadRequest's
// outcome (its code's status) and, on success, the bytes it read.
func readServer(t *testing.T, limit int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := ReadRequest(w, r, limit)
		if err != nil {
			w.WriteHeader(anp.CodeOf(err).HTTPStatus())
			_, _ = io.WriteString(w, err.Error())
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// sendRaw writes a request with the given Content-Length and body bytes,
// closes its sending side, and returns the first answer.
func sendRaw(t *testing.T, addr, contentLength, body string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging, not an assertion
	head := "POST /x HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: " + contentLength + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+body); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(got)
}

// A Content-Length that lies, in either direction, never makes the reader
// take more than was announced, nor pass off a short body as whole, nor
// accept a body above the limit.
func TestReadRequestLyingContentLength(t *testing.T) {
	addr := readServer(t, 32)
	tests := []struct {
		name, contentLength, body string
		status                    int
		want                      string // the body read, or a part of the error
	}{
		{"honest", "7", `{"a":1}`, http.StatusOK, `{"a":1}`},
		{"announces less than it sends", "5", `{"a":1}`, http.StatusOK, `{"a":`},
		{"announces more than it sends", "20", `{"a":1}`, http.StatusBadRequest, "reading request body"},
		{"announces a huge body, sends a small one", "1099511627776", `{"a":1}`, http.StatusBadRequest, "reading request body"},
		{"announces a huge body, sends one above the limit", "1099511627776", strings.Repeat("x", 100), http.StatusRequestEntityTooLarge, "larger than 32 bytes"},
		{"announces a body above the limit", "100", strings.Repeat("x", 100), http.StatusRequestEntityTooLarge, "larger than 32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := sendRaw(t, addr, tc.contentLength, tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("HTTP %d %q, want %d with %q", status, body, tc.status, tc.want)
			}
			if status == http.StatusOK && body != tc.want {
				t.Errorf("read %q, want exactly %q", body, tc.want)
			}
		})
	}
}
