package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Subscription statuses reported to Subscribe's onStatus.
const (
	StatusConnecting   = "CONNECTING"
	StatusIdle         = "IDLE" // authenticated, waiting for callbacks
	StatusReconnecting = "RECONNECTING"
	StatusOffline      = "OFFLINE"
)

// Client-side WebSocket timings and sizes.
const (
	clientWSReadWait  = 90 * time.Second // the registry pings every 25 s
	clientWSWriteWait = 10 * time.Second
	clientWSAuthWait  = 20 * time.Second // for AUTH_OK; the registry waits 10 s for AUTH
	clientWSQueue     = 64               // frames read ahead of the handler
	clientRecentIDs   = 1024
)

// Subscribe keeps an authenticated WebSocket to the registry open until ctx
// is done and calls handle for every callback envelope, one at a time. A
// callback is ACKed when handle returns nil or a permanent error (any code
// but internal/unavailable; the error is logged); after a transient error it
// is not ACKed and the registry delivers it again. The connection is
// re-established with exponential backoff and jitter, authenticating again
// (new proof of work) when the token expired or was refused. onStatus (may
// be nil) receives CONNECTING, IDLE, RECONNECTING and finally OFFLINE.
// Subscribe returns ctx.Err() once ctx is done.
func (c *Client) Subscribe(ctx context.Context, handle func(context.Context, *anp.Envelope) error, onStatus func(string)) error {
	status := func(s string) {
		if onStatus != nil {
			onStatus(s)
		}
	}
	recent := newRecentSet(clientRecentIDs)
	backoff := c.opt.ReconnectMin
	for attempt := 0; ; attempt++ {
		if attempt == 0 {
			status(StatusConnecting)
		} else {
			status(StatusReconnecting)
		}
		authed, err := c.subscribeOnce(ctx, handle, recent, func() { status(StatusIdle) })
		if ctx.Err() != nil {
			status(StatusOffline)
			return ctx.Err()
		}
		if authed {
			backoff = c.opt.ReconnectMin
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn().Err(err).Dur("retry_in", wait).Msg("registry websocket closed")
		backoff = min(backoff*2, c.opt.ReconnectMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			status(StatusOffline)
			return ctx.Err()
		case <-t.C:
		}
	}
}

// wsURL maps the registry base URL to its WebSocket URL.
func (c *Client) wsURL() string {
	switch {
	case strings.HasPrefix(c.base, "https://"):
		return "wss://" + strings.TrimPrefix(c.base, "https://") + anp.RouteWS
	case strings.HasPrefix(c.base, "http://"):
		return "ws://" + strings.TrimPrefix(c.base, "http://") + anp.RouteWS
	}
	return c.base + anp.RouteWS
}

// subscribeOnce runs one connection: dial, AUTH, then callbacks until the
// connection or ctx ends. It reports whether authentication succeeded.
func (c *Client) subscribeOnce(ctx context.Context, handle func(context.Context, *anp.Envelope) error, recent *recentSet, onIdle func()) (bool, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return false, err
	}
	conn, err := c.dialWS(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	write := frameWriter(conn)
	if err := c.authWS(conn, write, tok); err != nil {
		return false, err
	}
	onIdle()
	frames, readErr := readFrames(conn)
	for f := range frames {
		switch f.Type {
		case anp.FrameCallback:
			if err := c.deliver(ctx, f, handle, recent, write); err != nil {
				conn.Close()
			}
		case anp.FrameError:
			c.log.Warn().Str("message", f.Message).Msg("registry websocket error")
			if strings.HasPrefix(f.Message, string(anp.CodeUnauthorized)) {
				c.dropToken(tok)
			}
		}
	}
	return true, fmt.Errorf("registry websocket: %w", <-readErr)
}

// dialWS opens a WebSocket to the registry, its frames capped at
// anp.MaxWSFrameBytes.
func (c *Client) dialWS(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, c.wsURL(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, anp.Errorf(anp.CodeUnavailable, "registry websocket: %v", err)
	}
	conn.SetReadLimit(anp.MaxWSFrameBytes)
	return conn, nil
}

// frameWriter returns a function that writes one frame to conn at a time,
// each within clientWSWriteWait.
func frameWriter(conn *websocket.Conn) func(anp.WSFrame) error {
	var mu sync.Mutex
	return func(f anp.WSFrame) error {
		mu.Lock()
		defer mu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(clientWSWriteWait))
		return conn.WriteJSON(f)
	}
}

// authWS authenticates the connection with tok and a fresh signed AUTH, and
// waits for AUTH_OK. A token the registry refused as unauthorised or
// expired is dropped, so the next attempt authenticates again.
func (c *Client) authWS(conn *websocket.Conn, write func(anp.WSFrame) error, tok string) error {
	auth := &anp.WSAuth{PubKey: c.pub, TS: c.now().UnixMilli(), Nonce: anp.NewNonce()}
	if err := anp.SignWSAuth(auth, anp.Signer(c.identity)); err != nil {
		return err
	}
	if err := write(anp.WSFrame{Type: anp.FrameAuth, Token: tok, Auth: auth}); err != nil {
		return anp.Errorf(anp.CodeUnavailable, "registry websocket: send AUTH: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(clientWSAuthWait))
	var first anp.WSFrame
	if err := conn.ReadJSON(&first); err != nil {
		return anp.Errorf(anp.CodeUnavailable, "registry websocket: waiting for AUTH_OK: %v", err)
	}
	switch first.Type {
	case anp.FrameAuthOK:
		return nil
	case anp.FrameError:
		if strings.HasPrefix(first.Message, string(anp.CodeUnauthorized)) || strings.HasPrefix(first.Message, string(anp.CodeExpired)) {
			c.dropToken(tok) // the next attempt authenticates again
			return anp.Errorf(anp.CodeUnauthorized, "registry websocket refused AUTH: %s", first.Message)
		}
		return anp.Errorf(anp.CodeUnavailable, "registry websocket refused AUTH: %s", first.Message)
	}
	return anp.Errorf(anp.CodeUnavailable, "registry websocket answered AUTH with %q", first.Type)
}

// readFrames reads conn's frames in the background, answering pings and
// allowing clientWSReadWait between frames. frames is closed when reading
// stops; readErr then holds the reason.
func readFrames(conn *websocket.Conn) (frames <-chan anp.WSFrame, readErr <-chan error) {
	_ = conn.SetReadDeadline(time.Now().Add(clientWSReadWait))
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(clientWSReadWait))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(clientWSWriteWait))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	out := make(chan anp.WSFrame, clientWSQueue)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			var f anp.WSFrame
			if err := conn.ReadJSON(&f); err != nil {
				errc <- err
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(clientWSReadWait))
			out <- f
		}
	}()
	return out, errc
}

// deliver hands one callback to handle and ACKs it unless handle failed
// transiently. It returns an error only when the ACK cannot be written.
func (c *Client) deliver(ctx context.Context, f anp.WSFrame, handle func(context.Context, *anp.Envelope) error, recent *recentSet, write func(anp.WSFrame) error) error {
	if f.Envelope == nil || f.ID == "" {
		c.log.Warn().Msg("registry sent a callback without an envelope or id")
		return nil
	}
	h, err := f.Envelope.Hash()
	if err != nil || h != f.ID {
		c.log.Warn().Str("id", f.ID).Msg("registry sent a callback whose id is not its envelope hash; dropping it")
		return write(anp.WSFrame{Type: anp.FrameAck, ID: f.ID})
	}
	if !recent.has(h) {
		err := handle(ctx, f.Envelope)
		if ctx.Err() != nil {
			return nil // shutting down: leave it for the next connection
		}
		if err != nil && isTransient(err) {
			c.log.Warn().Err(err).Str("id", h[:12]).Msg("callback failed, leaving it for redelivery")
			return nil
		}
		if err != nil {
			c.log.Warn().Err(err).Str("id", h[:12]).Msg("callback refused permanently, acknowledging it")
		}
		recent.add(h)
	}
	return write(anp.WSFrame{Type: anp.FrameAck, ID: h})
}

// recentSet remembers the last n handled callback ids, so a redelivery that
// crossed its ACK is acknowledged again without calling the handler twice.
type recentSet struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecentSet(n int) *recentSet {
	return &recentSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recentSet) has(id string) bool { _, ok := r.ids[id]; return ok }

func (r *recentSet) add(id string) {
	if r.has(id) {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next] = id
	r.ids[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
