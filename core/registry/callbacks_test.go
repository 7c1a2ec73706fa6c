package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// pendingSession opens a session whose seller answers later (202) and
// returns the buyer side and the PROPOSE envelope.
func pendingSession(t *testing.T, e *testEnv, seller *sellerStub, c *Client) (*buyerSession, *anp.Envelope) {
	t.Helper()
	seller.setRespond(func(w http.ResponseWriter, _ string, _ *anp.Envelope) { w.WriteHeader(http.StatusAccepted) })
	b := newBuyerSession(t, e.clock, seller.domain)
	propose := b.Seal(anp.TypePropose, proposeBody())
	if resp := b.relay(c, propose); !resp.Pending {
		t.Fatalf("relay: %+v, want pending", resp)
	}
	return b, propose
}

// callback has the seller post env for the buyer.
func (e *testEnv) callback(seller *sellerStub, env *anp.Envelope) error {
	return e.client(seller.key).PostCallback(context.Background(), env)
}

// wsDial opens a raw WebSocket and sends an AUTH frame (changed by mutate).
func (e *testEnv) wsDial(t *testing.T, id ed25519.PrivateKey, tok string, mutate func(*anp.WSFrame)) (*websocket.Conn, anp.WSFrame) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.ts.URL, "http")+anp.RouteWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := &anp.WSAuth{PubKey: anptest.PubHex(id), TS: e.clock.Now().UnixMilli(), Nonce: anp.NewNonce()}
	if err := anp.SignWSAuth(auth, anp.Signer(id)); err != nil {
		t.Fatal(err)
	}
	f := anp.WSFrame{Type: anp.FrameAuth, Token: tok, Auth: auth}
	if mutate != nil {
		mutate(&f)
	}
	if err := conn.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	return conn, readFrame(t, conn)
}

func readFrame(t *testing.T, conn *websocket.Conn) anp.WSFrame {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f anp.WSFrame
	if err := conn.ReadJSON(&f); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// statusLog records Subscribe statuses.
type statusLog struct {
	mu  sync.Mutex
	all []string
}

func (s *statusLog) add(v string) { s.mu.Lock(); s.all = append(s.all, v); s.mu.Unlock() }
func (s *statusLog) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.all...)
}

// subscribe runs c.Subscribe until the test ends and returns received envelopes.
func subscribe(t *testing.T, c *Client, handle func(context.Context, *anp.Envelope) error) (<-chan *anp.Envelope, *statusLog, func()) {
	t.Helper()
	got := make(chan *anp.Envelope, 16)
	statuses := &statusLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(ctx, func(ctx context.Context, env *anp.Envelope) error {
			got <- env
			if handle != nil {
				return handle(ctx, env)
			}
			return nil
		}, statuses.add)
	}()
	stop := func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Subscribe returned %v, want context.Canceled", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return got, statuses, stop
}

func receive(t *testing.T, ch <-chan *anp.Envelope) *anp.Envelope {
	t.Helper()
	select {
	case env := <-ch:
		return env
	case <-time.After(10 * time.Second):
		t.Fatal("no callback delivered")
	}
	return nil
}

func TestCallbackDeliveredOverWebSocketAndAcked(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	b, propose := pendingSession(t, e, seller, c)

	got, statuses, stop := subscribe(t, c, nil)
	eventually(t, "IDLE", func() bool { s := statuses.list(); return len(s) > 0 && s[len(s)-1] == StatusIdle })
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	env := receive(t, got)
	if anptest.Hash(t, env) != anptest.Hash(t, counter) {
		t.Fatal("delivered envelope is not the seller's callback")
	}
	eventually(t, "the ACK", func() bool { return e.srv.hub.pendingCount(anptest.PubHex(identity)) == 0 })
	raw, err := e.ledger.Get(context.Background(), bucketPending, pendingKey(anptest.PubHex(identity), anptest.Hash(t, counter)))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending record after ACK: %s %v, want it deleted", raw, err)
	}
	if n := e.witnessLen(b.Session); n != 2 {
		t.Fatalf("registry witnessed %d envelopes, want 2", n)
	}
	stop()
	s := statuses.list()
	if s[0] != StatusConnecting || s[1] != StatusIdle || s[len(s)-1] != StatusOffline {
		t.Fatalf("statuses %v, want CONNECTING, IDLE ... OFFLINE", s)
	}
}

func TestCallbackRedeliveredUntilAcked(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	_, propose := pendingSession(t, e, seller, c)
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	conn, first := e.wsDial(t, identity, e.token(identity), nil)
	if first.Type != anp.FrameAuthOK {
		t.Fatalf("first frame %+v, want AUTH_OK", first)
	}
	f1 := readFrame(t, conn)
	f2 := readFrame(t, conn) // not ACKed: delivered again
	id := anptest.Hash(t, counter)
	if f1.Type != anp.FrameCallback || f2.Type != anp.FrameCallback || f1.ID != id || f2.ID != id || anptest.Hash(t, f2.Envelope) != id {
		t.Fatalf("frames %s/%s ids %s/%s, want two CALLBACKs with id %s", f1.Type, f2.Type, f1.ID, f2.ID, id)
	}
	if err := conn.WriteJSON(anp.WSFrame{Type: anp.FrameAck, ID: id}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ACK", func() bool { return e.srv.hub.pendingCount(anptest.PubHex(identity)) == 0 })
}

func TestCallbackFansOutToEveryConnection(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	_, propose := pendingSession(t, e, seller, c)
	tok := e.token(identity)
	a, fa := e.wsDial(t, identity, tok, nil)
	b, fb := e.wsDial(t, identity, tok, nil)
	if fa.Type != anp.FrameAuthOK || fb.Type != anp.FrameAuthOK {
		t.Fatalf("auth frames %s and %s", fa.Type, fb.Type)
	}
	eventually(t, "two connections", func() bool {
		e.srv.hub.mu.Lock()
		defer e.srv.hub.mu.Unlock()
		return len(e.srv.hub.conns[anptest.PubHex(identity)]) == 2
	})
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	for _, conn := range []*websocket.Conn{a, b} {
		if f := readFrame(t, conn); f.Type != anp.FrameCallback || f.ID != anptest.Hash(t, counter) {
			t.Fatalf("frame %+v, want the callback", f)
		}
	}
}

func TestCallbackDeliveredAfterRestart(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	b, propose := pendingSession(t, e, seller, e.client(identity))
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	b.Accept(counter)

	e.restart()
	c := e.client(identity)
	got, _, stop := subscribe(t, c, nil)
	if env := receive(t, got); anptest.Hash(t, env) != anptest.Hash(t, counter) {
		t.Fatal("delivered envelope after restart is not the pending callback")
	}
	eventually(t, "the ACK", func() bool { return e.srv.hub.pendingCount(anptest.PubHex(identity)) == 0 })
	stop()

	// The witness state survived too: the session continues.
	seller.setRespond(nil)
	resp := b.relay(c, b.Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(8000), Turn: 2}))
	if resp.Reply == nil || resp.Reply.Type != anp.TypeAccept || e.witnessLen(b.Session) != 4 {
		t.Fatalf("relay after restart: %+v, witnessed %d", resp, e.witnessLen(b.Session))
	}
	e.restart()
	if e.srv.hub.pendingCount(anptest.PubHex(identity)) != 0 {
		t.Fatal("an ACKed callback came back after a second restart")
	}
}

func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	_, propose := pendingSession(t, e, seller, e.client(identity))
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	other := newSellerStub(t, e.clock, "pans.anp")
	orphan := *propose
	orphan.Session = anp.NewSessionID()
	tests := []struct {
		name   string
		env    *anp.Envelope
		status int
		code   anp.Code
	}{
		{"duplicate is accepted again", counter, http.StatusAccepted, ""},
		{"unknown session", seller.seal(&orphan, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1}), http.StatusNotFound, anp.CodeNotFound},
		// Anyone but the session's seller learns nothing, not even that the session exists.
		{"signed by a key not bound to the domain", other.seal(counter, anp.TypeInform, anp.NoteBody{}), http.StatusNotFound, anp.CodeNotFound},
		{"buyer message type", seller.seal(counter, anp.TypeCommit, anp.NoteBody{}), http.StatusForbidden, anp.CodeForbidden},
		{"out of order", seller.seal(propose, anp.TypeInform, anp.NoteBody{}), http.StatusConflict, anp.CodeOutOfOrder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, anp.RouteCallbacks, tc.env, nil)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Fatalf("HTTP %d code %q (%s), want %d %q", r.status, r.errCode(), r.body, tc.status, tc.code)
			}
			if tc.status == http.StatusAccepted {
				var ok callbackAccepted
				if json.Unmarshal(r.body, &ok) != nil || ok.ID != anptest.Hash(t, counter) {
					t.Fatalf("body %s, want the envelope hash", r.body)
				}
			}
			if n := e.srv.hub.pendingCount(anptest.PubHex(identity)); n != 1 {
				t.Fatalf("%d pending callbacks, want 1", n)
			}
		})
	}
}

func TestWebSocketAuthRefusals(t *testing.T) {
	e := newEnv(t, nil)
	identity, other := anptest.NewKey(t), anptest.NewKey(t)
	tok := e.token(identity)
	replayed := &anp.WSAuth{PubKey: anptest.PubHex(identity), TS: e.clock.Now().UnixMilli(), Nonce: anp.NewNonce()}
	if err := anp.SignWSAuth(replayed, anp.Signer(identity)); err != nil {
		t.Fatal(err)
	}
	if _, f := e.wsDial(t, identity, tok, func(f *anp.WSFrame) { f.Auth = replayed }); f.Type != anp.FrameAuthOK {
		t.Fatalf("first use of an auth: %+v", f)
	}
	resign := func(mod func(*anp.WSAuth), key ed25519.PrivateKey) func(*anp.WSFrame) {
		return func(f *anp.WSFrame) {
			mod(f.Auth)
			f.Auth.Sig = ""
			if err := anp.SignWSAuth(f.Auth, anp.Signer(key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		mutate func(*anp.WSFrame)
		want   string
	}{
		{"auth key is not the token key", resign(func(a *anp.WSAuth) { a.PubKey = anptest.PubHex(other) }, other), "not the token's key"},
		{"signature by another key", resign(func(*anp.WSAuth) {}, other), "websocket auth"},
		{"stale timestamp", resign(func(a *anp.WSAuth) { a.TS -= (3 * time.Minute).Milliseconds() }, identity), "away from the registry clock"},
		{"replayed nonce", func(f *anp.WSFrame) { f.Auth = replayed }, "replay"},
		{"bad token", func(f *anp.WSFrame) { f.Token = "x.y" }, "token"},
		{"not an AUTH frame", func(f *anp.WSFrame) { f.Type = anp.FrameAck }, "first frame must be AUTH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, f := e.wsDial(t, identity, tok, tc.mutate)
			if f.Type != anp.FrameError || !strings.HasPrefix(f.Message, "unauthorized") || !strings.Contains(f.Message, tc.want) {
				t.Fatalf("frame %+v, want an unauthorized ERROR mentioning %q", f, tc.want)
			}
		})
	}
}

func TestSubscribeReauthenticatesWhenTokenRefused(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	_, propose := pendingSession(t, e, seller, c)
	// A cached token the registry will refuse on the WebSocket.
	c.SetToken(anp.TokenResponse{Token: "e30.00", ExpiresAt: e.clock.Now().Add(time.Hour).UnixMilli()})
	got, statuses, stop := subscribe(t, c, nil)
	eventually(t, "IDLE", func() bool { s := statuses.list(); return len(s) > 0 && s[len(s)-1] == StatusIdle })
	if s := statuses.list(); len(s) < 3 || s[0] != StatusConnecting || s[1] != StatusReconnecting {
		t.Fatalf("statuses %v, want CONNECTING, RECONNECTING, IDLE", s)
	}
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	receive(t, got)
	stop()
}

func TestSubscribeAcksOnlyPermanentOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	_, propose := pendingSession(t, e, seller, c)

	var mu sync.Mutex
	calls := 0
	got, _, stop := subscribe(t, c, func(context.Context, *anp.Envelope) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		switch calls {
		case 1:
			return anp.Errorf(anp.CodeUnavailable, "store busy") // transient: not ACKed
		default:
			return anp.Errorf(anp.CodeBadState, "session is over") // permanent: ACKed
		}
	})
	counter := seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	if err := e.callback(seller, counter); err != nil {
		t.Fatal(err)
	}
	first, second := receive(t, got), receive(t, got)
	if anptest.Hash(t, first) != anptest.Hash(t, second) {
		t.Fatal("the redelivered callback differs")
	}
	eventually(t, "the ACK of a permanent failure", func() bool { return e.srv.hub.pendingCount(anptest.PubHex(identity)) == 0 })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("handler called %d times, want 2", calls)
	}
}

// TestOneSellerCannotFillABuyersQueue: a seller's callbacks for one buyer
// stop at MaxCallbacksPerSeller with a clear refusal (nothing witnessed), a
// second seller still reaches the buyer, and once the buyer took them the
// first seller's retry is accepted.
func TestOneSellerCannotFillABuyersQueue(t *testing.T) {
	const perSeller, sent = 5, 8
	e := newEnv(t, func(c *Config) { c.MaxCallbacksPerSeller = perSeller })
	flooder, other := e.addSeller("pans.anp"), e.addSeller("pots.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	var refusedEnv *anp.Envelope
	var refusedSession string
	refused := 0
	for i := range sent {
		b, propose := pendingSession(t, e, flooder, c)
		counter := flooder.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
		err := e.callback(flooder, counter)
		if i < perSeller {
			if err != nil {
				t.Fatalf("callback %d within the limit: %v", i+1, err)
			}
			continue
		}
		if anp.CodeOf(err) != anp.CodeUnavailable || !strings.Contains(err.Error(), "pans.anp already has 5 undelivered callbacks queued for this buyer") {
			t.Fatalf("callback %d past the limit: %v, want unavailable naming the limit", i+1, err)
		}
		if n := e.witnessLen(b.Session); n != 1 {
			t.Fatalf("a refused callback was witnessed: %d envelopes", n)
		}
		refused++
		refusedEnv, refusedSession = counter, b.Session
	}
	_, propose := pendingSession(t, e, other, c)
	if err := e.callback(other, other.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})); err != nil {
		t.Fatalf("another seller's callback for the same buyer: %v", err)
	}
	if n := e.srv.hub.pendingCount(anptest.PubHex(identity)); n != perSeller+1 {
		t.Fatalf("%d callbacks queued, want %d", n, perSeller+1)
	}

	got, _, _ := subscribe(t, c, nil)
	for range perSeller + 1 {
		receive(t, got)
	}
	eventually(t, "the ACKs", func() bool { return e.srv.hub.pendingCount(anptest.PubHex(identity)) == 0 })
	if err := e.callback(flooder, refusedEnv); err != nil {
		t.Fatalf("the refused callback delivered again after the buyer took the others: %v", err)
	}
	if n := e.witnessLen(refusedSession); n != 2 {
		t.Fatalf("the retried callback: %d envelopes witnessed, want 2", n)
	}
	t.Logf("one seller: %d callbacks for one buyer, %d queued, %d refused; another seller's callback queued; the retry accepted once the buyer took them", sent, perSeller, refused)
}

// TestCallbackTombstonesAreDeletedOnStart: the ACK tombstones earlier
// registries wrote are deleted when the hub loads.
func TestCallbackTombstonesAreDeletedOnStart(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tomb, err := json.Marshal(pendingRecord{Buyer: strings.Repeat("a", 64), ID: strings.Repeat("b", 64), Acked: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Put(ctx, bucketPending, "old", tomb); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if _, err := e.ledger.Get(ctx, bucketPending, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tombstone after restart: %v, want deleted", err)
	}
}
