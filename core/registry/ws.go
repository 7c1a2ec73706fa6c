package registry

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// WebSocket timings and limits.
const (
	wsWriteWait  = 10 * time.Second
	wsPongWait   = 60 * time.Second
	wsPingPeriod = 25 * time.Second
	wsSendQueue  = 64
)

// newUpgrader returns the WebSocket upgrader; handshake failures answer
// with the usual JSON error body.
func (s *Server) newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		// Clients authenticate in the first frame with a token and a
		// signature, never with cookies, so a cross-origin page gains nothing
		// by connecting.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeJSON(w, status, anp.ErrorBody{Error: anp.Errorf(codeForStatus(status), "websocket handshake: %v", reason)})
		},
	}
}

// wsConn is one WebSocket connection. A single writer goroutine owns writes;
// the handler goroutine owns reads.
type wsConn struct {
	conn      *websocket.Conn
	buyer     string // set once authenticated
	expires   int64  // token expiry (unix ms), set once authenticated
	send      chan anp.WSFrame
	fail      chan string // one ERROR message, after which the writer closes
	done      chan struct{}
	closeOnce sync.Once
}

func newWSConn(conn *websocket.Conn) *wsConn {
	return &wsConn{conn: conn, send: make(chan anp.WSFrame, wsSendQueue), fail: make(chan string, 1), done: make(chan struct{})}
}

// trySend queues f without blocking; a full queue drops the frame, which the
// redelivery loop sends again later.
func (c *wsConn) trySend(f anp.WSFrame) {
	select {
	case <-c.done:
	case c.send <- f:
	default:
	}
}

// failWith has the writer send an ERROR frame with msg and close the
// connection with msg as the close reason, ahead of any queued frame. Only
// the first failure is sent.
func (c *wsConn) failWith(msg string) {
	select {
	case c.fail <- msg:
	default:
	}
}

func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

// maxCloseReason is the longest close reason a close frame carries (RFC
// 6455: 125 bytes of payload, 2 of them the code).
const maxCloseReason = 123

// writeLoop writes queued frames and keepalive pings until the connection
// ends or fails.
func (c *wsConn) writeLoop() {
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	defer c.close()
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.fail:
			_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			_ = c.conn.WriteJSON(anp.WSFrame{Type: anp.FrameError, Message: msg})
			reason := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, anp.Truncate(msg, maxCloseReason-len(anp.TruncateMark)))
			_ = c.conn.WriteControl(websocket.CloseMessage, reason, time.Now().Add(wsWriteWait))
			return
		case f := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.conn.WriteJSON(f); err != nil {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return
			}
		}
	}
}

// handleWS upgrades, authenticates the first frame, then serves callbacks
// and ACKs for the identity until the connection closes or its token
// expires. Before the upgrade it applies the per-source upgrade limit and
// the caps on open and unauthenticated sockets, so that neither a flood
// of upgrades nor sockets that never authenticate take every descriptor.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !s.allowSource(w, r, s.limits.wsUpgrade) {
		return
	}
	if err := s.hub.admit(); err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.hub.release(nil)
		return // the upgrader has answered with an HTTP error
	}
	c := newWSConn(conn)
	defer s.hub.release(c)
	if !s.hub.attach(c) {
		_ = conn.Close()
		return
	}
	conn.SetReadLimit(anp.MaxWSFrameBytes)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	defer func() {
		c.close()
		<-writerDone
	}()
	if !s.startWS(r.Context(), c, writerDone) {
		return
	}
	s.serveACKs(r.Context(), c)
}

// startWS authenticates c and registers it for its identity. On failure
// it has sent the ERROR frame, waited for the writer to flush it, and
// returns false.
func (s *Server) startWS(ctx context.Context, c *wsConn, writerDone <-chan struct{}) bool {
	claims, err := s.wsAuth(ctx, c.conn)
	if err == nil {
		c.buyer, c.expires = claims.Sub, claims.Exp
		err = s.hub.syncBuyer(ctx, c.buyer)
	}
	if err == nil {
		err = s.hub.authenticated(c)
	}
	if err != nil {
		msg := "unauthorized: websocket authentication failed"
		var ae *anp.Error
		if errors.As(err, &ae) {
			msg = ae.Error()
		} else {
			s.log.Error().Err(err).Msg("websocket authentication")
		}
		c.failWith(msg)
		select { // let the writer flush the ERROR frame before closing
		case <-writerDone:
		case <-time.After(wsWriteWait):
		}
		return false
	}
	s.log.Debug().Str("buyer", c.buyer[:12]).Msg("websocket authenticated")
	return true
}

// serveACKs reads the client's ACKs until the connection ends.
func (s *Server) serveACKs(ctx context.Context, c *wsConn) {
	conn := c.conn
	_ = conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(wsPongWait))
		var f anp.WSFrame
		if err := anp.DecodeStrict(data, &f); err != nil || f.Type != anp.FrameAck || !anp.ValidHash(f.ID) {
			s.log.Debug().Str("buyer", c.buyer[:12]).Msg("ignoring a websocket frame that is not a well-formed ACK")
			continue
		}
		if err := s.hub.ack(context.WithoutCancel(ctx), c.buyer, f.ID); err != nil {
			s.log.Error().Err(err).Msg("callback ack")
		}
	}
}

// wsAuth reads and checks the AUTH frame and returns the token's claims.
// Read errors are logged, not sent: they name socket addresses.
func (s *Server) wsAuth(ctx context.Context, conn *websocket.Conn) (*anp.TokenClaims, error) {
	_ = conn.SetReadDeadline(time.Now().Add(wsAuthDeadline))
	_, data, err := conn.ReadMessage()
	if err != nil {
		s.log.Debug().Err(err).Msg("websocket closed before its AUTH frame")
		return nil, anp.Errorf(anp.CodeUnauthorized, "no AUTH frame within %s", wsAuthDeadline)
	}
	var f anp.WSFrame
	if err := anp.DecodeStrict(data, &f); err != nil {
		return nil, anp.Errorf(anp.CodeUnauthorized, "first frame: %v", err)
	}
	if f.Type != anp.FrameAuth || f.Auth == nil {
		return nil, anp.Errorf(anp.CodeUnauthorized, "the first frame must be AUTH with a token and a signed auth")
	}
	claims, err := s.parseToken(ctx, f.Token)
	if err != nil {
		return nil, err
	}
	if f.Auth.PubKey != claims.Sub {
		return nil, anp.Errorf(anp.CodeUnauthorized, "websocket auth key is not the token's key")
	}
	if err := anp.VerifyWSAuth(f.Auth); err != nil {
		return nil, err
	}
	if err := s.checkSignedTS("websocket auth", f.Auth.TS, wsAuthWindow); err != nil {
		return nil, anp.Errorf(anp.CodeUnauthorized, "%s", err.(*anp.Error).Message)
	}
	if len(f.Auth.Nonce) < 16 || len(f.Auth.Nonce) > 128 {
		return nil, anp.Errorf(anp.CodeUnauthorized, "websocket auth nonce must be 16 to 128 characters")
	}
	fresh, err := s.nonces.RecordOnce(ctx, "ws/"+claims.Sub+"/"+f.Auth.Nonce, s.now().Add(2*wsAuthWindow))
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, anp.Errorf(anp.CodeUnauthorized, "websocket auth nonce was used before (replay)")
	}
	return claims, nil
}
