package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// testEnv is a registry on a real loopback HTTP server with in-memory state.
type testEnv struct {
	t      testing.TB
	clock  *anptest.Clock
	root   ed25519.PrivateKey
	ledger *memstore.Ledger
	cfg    Config
	srv    *Server
	ts     *httptest.Server
}

func newEnv(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, clock: anptest.NewClock(time.Now()), root: anptest.NewKey(t), ledger: memstore.NewLedger()}
	e.cfg = Config{
		Root:                  e.root,
		Ledger:                e.ledger,
		Difficulty:            4,
		AllowPrivateEndpoints: true,
		SellerTimeout:         10 * time.Second, // room for a loaded machine: no test waits it out
		RedeliveryInterval:    100 * time.Millisecond,
		Now:                   e.clock.Now,
	}
	if mod != nil {
		mod(&e.cfg)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *testEnv) start() {
	e.t.Helper()
	srv, err := New(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
}

func (e *testEnv) stop() {
	if e.srv != nil {
		_ = e.srv.Close()
		e.ts.Close()
		e.srv, e.ts = nil, nil
	}
}

// restart stops the registry and starts a new one on the same Ledger (and
// a new URL).
func (e *testEnv) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

func (e *testEnv) client(id ed25519.PrivateKey) *Client {
	return NewClient(e.ts.URL, id, ClientOptions{
		Now:          e.clock.Now,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
	})
}

// token authenticates id and returns a bearer token.
func (e *testEnv) token(id ed25519.PrivateKey) string {
	e.t.Helper()
	tok, err := e.client(id).Authenticate(context.Background())
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	return tok.Token
}

// rawResponse is a decoded HTTP answer.
type rawResponse struct {
	status int
	body   []byte
}

// errCode returns the anp error code of an error body ("" if none).
func (r rawResponse) errCode() anp.Code {
	var eb anp.ErrorBody
	if json.Unmarshal(r.body, &eb) != nil || eb.Error == nil {
		return ""
	}
	return eb.Error.Code
}

func (r rawResponse) errMessage() string {
	var eb anp.ErrorBody
	if json.Unmarshal(r.body, &eb) != nil || eb.Error == nil {
		return ""
	}
	return eb.Error.Message
}

// do sends a raw request to the registry; body may be []byte, string or a value to encode.
func (e *testEnv) do(method, path string, body any, headers map[string]string) rawResponse {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, body: data}
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// sellerStub is a minimal real seller: an HTTP server that answers relayed
// envelopes with envelopes signed by the key bound to its domain.
type sellerStub struct {
	t      testing.TB
	key    ed25519.PrivateKey
	domain string
	clock  *anptest.Clock
	ts     *httptest.Server

	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
	paths   []string
	// respond decides the answer; nil uses defaultRespond.
	respond func(w http.ResponseWriter, path string, env *anp.Envelope)
}

func newSellerStub(t testing.TB, clock *anptest.Clock, domain string) *sellerStub {
	s := &sellerStub{t: t, key: anptest.NewKey(t), domain: domain, clock: clock}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.ts.Close)
	return s
}

func (s *sellerStub) serve(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	s.bodies = append(s.bodies, data)
	s.paths = append(s.paths, r.URL.Path)
	respond := s.respond
	s.mu.Unlock()
	env, err := anp.DecodeEnvelope(data)
	if err != nil {
		writeStubError(w, http.StatusBadRequest, anp.Errorf(anp.CodeBadRequest, "%v", err))
		return
	}
	if respond == nil {
		respond = s.defaultRespond
	}
	respond(w, r.URL.Path, env)
}

func (s *sellerStub) setRespond(f func(w http.ResponseWriter, path string, env *anp.Envelope)) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

func (s *sellerStub) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.paths)
}

func writeStubError(w http.ResponseWriter, status int, e *anp.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(anp.ErrorBody{Error: e})
}

// stubPrice is the seller stub's opening counter offer.
var stubPrice = anptest.USD(9000)

// defaultRespond: PROPOSE -> COUNTER at stubPrice, COUNTER -> ACCEPT at the
// buyer's price, QUERY -> INFORM, CANCEL -> 202, COMMIT -> CONFIRM.
func (s *sellerStub) defaultRespond(w http.ResponseWriter, path string, env *anp.Envelope) {
	switch env.Type {
	case anp.TypePropose:
		s.answer(w, env, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})
	case anp.TypeCounter:
		var b anp.OfferBody
		if err := env.DecodeBody(&b); err != nil {
			writeStubError(w, http.StatusBadRequest, anp.Errorf(anp.CodeBadRequest, "%v", err))
			return
		}
		s.answer(w, env, anp.TypeAccept, anp.OfferBody{Price: b.Price, Turn: b.Turn})
	case anp.TypeQuery:
		s.answer(w, env, anp.TypeInform, anp.NoteBody{Message: "answer"})
	case anp.TypeCommit:
		var b anp.CommitBody
		if err := env.DecodeBody(&b); err != nil {
			writeStubError(w, http.StatusBadRequest, anp.Errorf(anp.CodeBadRequest, "%v", err))
			return
		}
		sig, err := b.Artifact.SellerSignature(s.key)
		if err != nil {
			writeStubError(w, http.StatusBadRequest, anp.Errorf(anp.CodeBadRequest, "%v", err))
			return
		}
		s.answer(w, env, anp.TypeConfirm, anp.ConfirmBody{SellerSig: sig})
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// sealReply signs a seller envelope answering env. It does not touch the
// test handle, so HTTP handler goroutines may call it.
func (s *sellerStub) sealReply(env *anp.Envelope, typ anp.MsgType, body any) (*anp.Envelope, error) {
	return anptest.Answer(s.key, env, typ, body, s.clock.Now())
}

// seal is sealReply for the test goroutine.
func (s *sellerStub) seal(env *anp.Envelope, typ anp.MsgType, body any) *anp.Envelope {
	s.t.Helper()
	out, err := s.sealReply(env, typ, body)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *sellerStub) answer(w http.ResponseWriter, env *anp.Envelope, typ anp.MsgType, body any) {
	reply, err := s.sealReply(env, typ, body)
	if err != nil {
		writeStubError(w, http.StatusInternalServerError, anp.Errorf(anp.CodeInternal, "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(anp.RelayResponse{Reply: reply})
}

// addSeller starts a seller stub, binds its domain and publishes its record.
func (e *testEnv) addSeller(domain string, categories ...string) *sellerStub {
	e.t.Helper()
	if len(categories) == 0 {
		categories = []string{"kitchen"}
	}
	s := newSellerStub(e.t, e.clock, domain)
	c := e.client(s.key)
	ctx := context.Background()
	if _, err := c.Bind(ctx, domain, e.grant(domain)); err != nil {
		e.t.Fatalf("Bind %s: %v", domain, err)
	}
	rec, err := anp.SignRecord(anp.EndpointRecord{
		Domain: domain, Endpoint: s.ts.URL, Categories: categories,
		Modes: []anp.Mode{anp.ModeA, anp.ModeC}, Seq: 1, TS: e.clock.Now().UnixMilli(),
	}, anp.Signer(s.key))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := c.PublishRecord(ctx, rec); err != nil {
		e.t.Fatalf("PublishRecord %s: %v", domain, err)
	}
	return s
}

// buyerSession is a buyer's side of one negotiation through the registry.
type buyerSession struct{ *anptest.Party }

func newBuyerSession(t testing.TB, clock *anptest.Clock, domain string) *buyerSession {
	return &buyerSession{anptest.NewParty(t, domain, clock.Now)}
}

func proposeBody() anp.ProposeBody {
	return anp.ProposeBody{Mode: anp.ModeC, Item: "cast iron pan", Category: "kitchen", Quantity: 2, Currency: "USD", Terms: map[string]string{"shipping": "standard"}}
}

// relay sends env through c and, on success, records env and the reply.
func (b *buyerSession) relay(c *Client, env *anp.Envelope) *anp.RelayResponse {
	t := b.T()
	t.Helper()
	resp, err := c.Relay(context.Background(), b.To, env)
	if err != nil {
		t.Fatalf("Relay %s seq %d: %v", env.Type, env.Seq, err)
	}
	b.Record(env)
	if resp.Reply != nil {
		b.Accept(resp.Reply)
	}
	return resp
}

// witnessLen returns how many envelopes the registry witnessed for a session.
func (e *testEnv) witnessLen(id string) int {
	e.t.Helper()
	ws, err := e.srv.loadSession(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if ws == nil {
		return 0
	}
	return len(ws.Transcript.Envelopes)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
