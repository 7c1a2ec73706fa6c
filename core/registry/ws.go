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
	send      chan anp.WSFrame
	done      chan struct{}
	closeOnce sync.Once
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

func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

// writeLoop writes queued frames and keepalive pings until the connection ends.
func (c *wsConn) writeLoop() {
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	defer c.close()
	for {
		select {
		case <-c.done:
			return
		case f := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.conn.WriteJSON(f); err != nil {
				return
			}
			if f.Type == anp.FrameError {
				_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, ""), time.Now().Add(wsWriteWait))
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
// and ACKs for the identity until the connection closes.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	c := &wsConn{conn: conn, send: make(chan anp.WSFrame, wsSendQueue), done: make(chan struct{})}
	if !s.hub.track(c) {
		_ = conn.Close()
		return
	}
	defer s.hub.untrack(c)
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

	buyer, err := s.wsAuth(r.Context(), conn)
	if err != nil {
		msg := err.Error()
		var ae *anp.Error
		if !errors.As(err, &ae) {
			msg = "unauthorized: websocket authentication failed"
		}
		c.trySend(anp.WSFrame{Type: anp.FrameError, Message: msg})
		select { // let the writer flush the ERROR frame before closing
		case <-writerDone:
		case <-time.After(wsWriteWait):
		}
		return
	}
	c.buyer = buyer
	c.trySend(anp.WSFrame{Type: anp.FrameAuthOK})
	s.hub.authenticated(c)
	s.log.Debug().Str("buyer", buyer[:12]).Msg("websocket authenticated")

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
			s.log.Debug().Str("buyer", buyer[:12]).Msg("ignoring a websocket frame that is not a well-formed ACK")
			continue
		}
		if err := s.hub.ack(context.WithoutCancel(r.Context()), buyer, f.ID); err != nil {
			s.log.Error().Err(err).Msg("callback ack")
		}
	}
}

// wsAuth reads and checks the AUTH frame and returns the identity key.
func (s *Server) wsAuth(ctx context.Context, conn *websocket.Conn) (string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(wsAuthDeadline))
	_, data, err := conn.ReadMessage()
	if err != nil {
		return "", anp.Errorf(anp.CodeUnauthorized, "no AUTH frame within %s: %v", wsAuthDeadline, err)
	}
	var f anp.WSFrame
	if err := anp.DecodeStrict(data, &f); err != nil {
		return "", anp.Errorf(anp.CodeUnauthorized, "first frame: %v", err)
	}
	if f.Type != anp.FrameAuth || f.Auth == nil {
		return "", anp.Errorf(anp.CodeUnauthorized, "the first frame must be AUTH with a token and a signed auth")
	}
	claims, err := s.parseToken(f.Token)
	if err != nil {
		return "", err
	}
	if f.Auth.PubKey != claims.Sub {
		return "", anp.Errorf(anp.CodeUnauthorized, "websocket auth key is not the token's key")
	}
	if err := anp.VerifyWSAuth(f.Auth); err != nil {
		return "", err
	}
	if err := s.checkSignedTS("websocket auth", f.Auth.TS, wsAuthWindow); err != nil {
		return "", anp.Errorf(anp.CodeUnauthorized, "%s", err.(*anp.Error).Message)
	}
	if len(f.Auth.Nonce) < 16 || len(f.Auth.Nonce) > 128 {
		return "", anp.Errorf(anp.CodeUnauthorized, "websocket auth nonce must be 16 to 128 characters")
	}
	fresh, err := s.nonces.RecordOnce(ctx, "ws/"+claims.Sub+"/"+f.Auth.Nonce, s.now().Add(2*wsAuthWindow))
	if err != nil {
		return "", err
	}
	if !fresh {
		return "", anp.Errorf(anp.CodeUnauthorized, "websocket auth nonce was used before (replay)")
	}
	return claims.Sub, nil
}
