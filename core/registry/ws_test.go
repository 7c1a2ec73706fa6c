package registry

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// wsDialFrom opens a raw WebSocket from the local address source. It
// returns the HTTP status of a refused upgrade (0 when it was upgraded).
func (e *testEnv) wsDialFrom(t *testing.T, source string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}).DialContext, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+anp.RouteWS, nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial from %s: %v", source, err)
		}
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { conn.Close() })
	return conn, 0
}

// wsAuthenticate sends an AUTH frame for id with tok on conn and returns
// the registry's answer.
func (e *testEnv) wsAuthenticate(t *testing.T, conn *websocket.Conn, id ed25519.PrivateKey, tok string) anp.WSFrame {
	t.Helper()
	auth := &anp.WSAuth{PubKey: anptest.PubHex(id), TS: e.clock.Now().UnixMilli(), Nonce: anp.NewNonce()}
	if err := anp.SignWSAuth(auth, anp.Signer(id)); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteJSON(anp.WSFrame{Type: anp.FrameAuth, Token: tok, Auth: auth}); err != nil {
		t.Fatal(err)
	}
	return readFrame(t, conn)
}

// closeReason reads until conn is closed and returns the close frame.
func closeReason(t *testing.T, conn *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce
		}
	}
}

func (e *testEnv) healthy(t *testing.T) {
	t.Helper()
	if r := e.do(http.MethodGet, anp.RouteHealth, nil, nil); r.status != http.StatusOK {
		t.Fatalf("/healthz: HTTP %d", r.status)
	}
}

// TestWebSocketsPerIdentityAreCapped: one token opens sockets until the
// cap, every further one is refused with a clear ERROR and close reason,
// while another buyer connects and /healthz answers; a closed socket frees
// its place.
func TestWebSocketsPerIdentityAreCapped(t *testing.T) {
	const capPerIdentity, attempts = 4, 200
	e := newEnv(t, func(c *Config) { c.MaxWSPerIdentity = capPerIdentity; c.WSUpgradeRate = -1 })
	hog := anptest.NewKey(t)
	tok := e.token(hog)
	heapBefore := heapInUse()
	var open []*websocket.Conn
	refused := 0
	for range attempts {
		conn, status := e.wsDialFrom(t, attackerSource)
		if status != 0 {
			t.Fatalf("upgrade refused with HTTP %d", status)
		}
		f := e.wsAuthenticate(t, conn, hog, tok)
		if f.Type == anp.FrameAuthOK {
			open = append(open, conn)
			continue
		}
		if f.Type != anp.FrameError || !strings.HasPrefix(f.Message, "refused: this identity already has 4 WebSockets open") {
			t.Fatalf("socket past the cap: %+v, want a refused ERROR naming the limit", f)
		}
		if ce := closeReason(t, conn); ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "WebSockets open") {
			t.Fatalf("close %d %q, want 1008 with the reason", ce.Code, ce.Text)
		}
		refused++
	}
	if len(open) != capPerIdentity || refused != attempts-capPerIdentity {
		t.Fatalf("%d sockets open and %d refused, want %d and %d", len(open), refused, capPerIdentity, attempts-capPerIdentity)
	}
	heapAfter := heapInUse()
	e.healthy(t)
	other := anptest.NewKey(t)
	conn, _ := e.wsDialFrom(t, "127.0.0.1")
	if f := e.wsAuthenticate(t, conn, other, e.token(other)); f.Type != anp.FrameAuthOK {
		t.Fatalf("another buyer: %+v, want AUTH_OK", f)
	}
	open[0].Close()
	eventually(t, "the closed socket to be released", func() bool {
		e.srv.hub.mu.Lock()
		defer e.srv.hub.mu.Unlock()
		return len(e.srv.hub.conns[anptest.PubHex(hog)]) == capPerIdentity-1
	})
	conn, _ = e.wsDialFrom(t, attackerSource)
	if f := e.wsAuthenticate(t, conn, hog, tok); f.Type != anp.FrameAuthOK {
		t.Fatalf("after one socket closed: %+v, want AUTH_OK", f)
	}
	t.Logf("one token: %d WebSocket attempts, %d authenticated (the cap), %d refused with a close reason; heap %.1f MB before, %.1f MB after (registry and client in one process); another buyer connected; /healthz 200",
		attempts, capPerIdentity, refused, mb(heapBefore), mb(heapAfter))
}

// TestUnauthenticatedWebSocketsAreBounded: one source opening sockets that
// never authenticate gets its upgrade burst and then 429; sockets from
// several sources stop at the global cap of unauthenticated sockets
// (unavailable); /healthz answers throughout, and a buyer connects once the
// idle sockets are gone, or from another source while one source is limited.
func TestUnauthenticatedWebSocketsAreBounded(t *testing.T) {
	const burst, pendingCap = 5, 8
	e := newEnv(t, func(c *Config) { c.WSUpgradeBurst = burst; c.MaxPendingWS = pendingCap })
	buyer := anptest.NewKey(t)
	tok := e.token(buyer)

	var idle []*websocket.Conn
	statuses := map[int]int{}
	for range 20 {
		conn, status := e.wsDialFrom(t, attackerSource)
		statuses[status]++
		if conn != nil {
			idle = append(idle, conn)
		}
	}
	if statuses[0] != burst || statuses[http.StatusTooManyRequests] != 20-burst {
		t.Fatalf("one source: upgrades %v, want %d upgraded and %d × 429", statuses, burst, 20-burst)
	}
	e.healthy(t)
	conn, _ := e.wsDialFrom(t, "127.0.0.1")
	if f := e.wsAuthenticate(t, conn, buyer, tok); f.Type != anp.FrameAuthOK {
		t.Fatalf("a buyer from another address while one source is limited: %+v", f)
	}

	// More sources fill the global cap of sockets waiting for AUTH.
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		for range burst {
			if conn, status := e.wsDialFrom(t, src); conn != nil {
				idle = append(idle, conn)
			} else if status != http.StatusBadGateway {
				t.Fatalf("upgrade from %s past the global cap: HTTP %d, want 502 unavailable", src, status)
			}
		}
	}
	if len(idle) != pendingCap {
		t.Fatalf("%d unauthenticated sockets open, want the cap %d", len(idle), pendingCap)
	}
	if _, unauth := e.srv.hub.socketCounts(); unauth != pendingCap {
		t.Fatalf("hub counts %d unauthenticated sockets, want %d", unauth, pendingCap)
	}
	e.healthy(t)
	for _, c := range idle {
		c.Close()
	}
	eventually(t, "the idle sockets to be released", func() bool { _, unauth := e.srv.hub.socketCounts(); return unauth == 0 })
	conn, _ = e.wsDialFrom(t, "127.0.0.1")
	if f := e.wsAuthenticate(t, conn, buyer, tok); f.Type != anp.FrameAuthOK {
		t.Fatalf("a buyer after the idle sockets closed: %+v", f)
	}
}

// TestWebSocketClosedWhenTokenExpires: authorisation is checked again when
// the token runs out: the socket gets an unauthorized ERROR and a close
// reason, and a subscribed client reconnects with a new token.
func TestWebSocketClosedWhenTokenExpires(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = time.Minute })
	id := anptest.NewKey(t)
	conn, _ := e.wsDialFrom(t, "127.0.0.1")
	if f := e.wsAuthenticate(t, conn, id, e.token(id)); f.Type != anp.FrameAuthOK {
		t.Fatalf("AUTH: %+v", f)
	}
	sub := anptest.NewKey(t)
	c := e.client(sub)
	_, statuses, _ := subscribe(t, c, nil)
	eventually(t, "IDLE", func() bool { s := statuses.list(); return len(s) > 0 && s[len(s)-1] == StatusIdle })
	first, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Minute)
	f := readFrame(t, conn)
	if f.Type != anp.FrameError || !strings.HasPrefix(f.Message, "unauthorized: the token expired at ") {
		t.Fatalf("frame after the token expired: %+v, want an unauthorized ERROR", f)
	}
	if ce := closeReason(t, conn); ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "token expired") {
		t.Fatalf("close %d %q, want 1008 naming the expired token", ce.Code, ce.Text)
	}
	eventually(t, "the subscriber to reconnect", func() bool {
		s := statuses.list()
		return len(s) >= 3 && s[len(s)-2] == StatusReconnecting && s[len(s)-1] == StatusIdle
	})
	if again, _ := c.Token(context.Background()); again == first {
		t.Fatal("the subscriber reconnected with its expired token")
	}
}
