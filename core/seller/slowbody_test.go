package seller

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestSlowBodyHitsReadTimeout: a client that sends headers and then trickles
// nothing more cannot hold a seller connection open past the read timeout.
func TestSlowBodyHitsReadTimeout(t *testing.T) {
	n, _ := newTestNode(t, nil)
	hs := n.NewHTTPServer("")
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
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // guard against hanging, not an assertion
	head := "POST " + anp.SellerHandshake + " HTTP/1.1\r\nHost: seller\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
	if _, err := io.WriteString(conn, head+`{"v":1,`); err != nil {
		t.Fatal(err)
	}
	// Serve only now: the headers and the start of the body are waiting
	// when the read timeout starts, so only the body can run out of time.
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		// The server closed the connection: the slow client was cut off.
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("slow body answered HTTP %d, want a client error or a closed connection", resp.StatusCode)
	}
}

// TestSlowHeadersHitReadHeaderTimeout: headers that never finish are cut off.
func TestSlowHeadersHitReadHeaderTimeout(t *testing.T) {
	n, _ := newTestNode(t, nil)
	hs := n.NewHTTPServer("")
	hs.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "POST /handshake HTTP/1.1\r\nHost: seller\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server must end this itself (EOF or a 408) long before our guard.
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
}
