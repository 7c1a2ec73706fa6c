package seller

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

func TestHappyPathToSignedDeal(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b := newBuyer(t, srv.URL)
	p := propose("Dutch oven 5qt", nil)

	steps := []struct {
		typ       anp.MsgType
		body      any
		wantType  anp.MsgType
		wantPrice int64
		wantTurn  int
	}{
		{anp.TypePropose, p, anp.TypeCounter, 10000, 1},
		{anp.TypeCounter, counter(7000, 2), anp.TypeCounter, 9500, 2},
		{anp.TypeCounter, counter(8000, 3), anp.TypeCounter, 9000, 3},
		{anp.TypeCounter, counter(8500, 4), anp.TypeAccept, 8500, 4},
	}
	var last *anp.Envelope
	for i, st := range steps {
		last = b.send(st.typ, st.body)
		o := anptest.Body[anp.OfferBody](t, last)
		if last.Type != st.wantType || o.Price != anptest.USD(st.wantPrice) || o.Turn != st.wantTurn {
			t.Fatalf("step %d: got %s %s turn %d, want %s %s turn %d", i, last.Type, o.Price, o.Turn, st.wantType, anptest.USD(st.wantPrice), st.wantTurn)
		}
	}
	if v, _ := n.Session(b.Session); v.State != StateAccepted || v.Turn != 4 || *v.LastOffer != anptest.USD(8500) {
		t.Fatalf("after ACCEPT: %+v", v)
	}

	a := b.artifactFor(last, p)
	confirm := b.send(anp.TypeCommit, anp.CommitBody{Artifact: a})
	if confirm.Type != anp.TypeConfirm {
		t.Fatalf("COMMIT answered %s, want CONFIRM", confirm.Type)
	}
	var cb anp.ConfirmBody
	if err := confirm.DecodeBody(&cb); err != nil {
		t.Fatal(err)
	}
	a.SellerSig = cb.SellerSig
	if err := a.VerifySeller(); err != nil {
		t.Fatalf("seller signature does not verify: %v", err)
	}
	if v, _ := n.Session(b.Session); v.State != StateSigned {
		t.Fatalf("state %s, want SIGNED", v.State)
	}
	// The seller's transcript is the buyer's, envelope for envelope.
	envs, _ := n.Transcript(b.Session)
	if len(envs) != 10 {
		t.Fatalf("seller transcript has %d envelopes, want 10", len(envs))
	}
	head, err := anp.VerifyChain(envs)
	if err != nil || head != b.Tr.Head {
		t.Fatalf("seller chain head %s (%v), buyer head %s", head, err, b.Tr.Head)
	}
	// SignAsSeller gives the same (deterministic) signature and nothing after SIGNED moves the session.
	if sig, err := n.SignAsSeller(a); err != nil || sig != cb.SellerSig {
		t.Fatalf("SignAsSeller = %s, %v; want the CONFIRM signature", sig, err)
	}
	r := b.post(anp.SellerCounter, b.Seal(anp.TypeCounter, counter(8000, 5)))
	if r.status != http.StatusConflict || r.err.Code != anp.CodeBadState {
		t.Fatalf("COUNTER after SIGNED: %d %v, want 409 bad_state", r.status, r.err)
	}
}

// openSession runs PROPOSE and two COUNTERs (asks 100, 95, 90) and returns
// the buyer envelopes it sent.
func openSession(t *testing.T, url string) (*buyer, []*anp.Envelope) {
	t.Helper()
	b := newBuyer(t, url)
	var sent []*anp.Envelope
	for _, body := range []any{propose("Dutch oven", nil), counter(7000, 2), counter(7500, 3)} {
		var typ anp.MsgType = anp.TypeCounter
		if _, ok := body.(anp.ProposeBody); ok {
			typ = anp.TypePropose
		}
		b.send(typ, body)
		sent = append(sent, b.Tr.Envelopes[len(b.Tr.Envelopes)-2])
	}
	return b, sent
}

func TestRefusalsLeaveTheSessionUnchanged(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b, sent := openSession(t, srv.URL)
	other := newBuyer(t, srv.URL)
	other.Session = b.Session

	resign := func(mut func(*anp.EnvelopeSpec)) *anp.Envelope {
		spec := b.Spec(anp.TypeCounter, counter(8000, 4))
		mut(&spec)
		return b.SealSpec(spec)
	}
	marshal := func(v any) []byte {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	withField := func(env *anp.Envelope, k string, v any) []byte {
		var m map[string]any
		if err := json.Unmarshal(marshal(env), &m); err != nil {
			t.Fatal(err)
		}
		m[k] = v
		return marshal(m)
	}

	cases := []struct {
		name   string
		path   string
		data   func() []byte
		status int
		code   anp.Code
	}{
		{"forged signature", anp.SellerCounter, func() []byte {
			env := b.Seal(anp.TypeCounter, counter(8000, 4))
			env.Sig = strings.Repeat("0", 128)
			return marshal(env)
		}, 401, anp.CodeBadSignature},
		{"body altered after signing", anp.SellerCounter, func() []byte {
			env := b.Seal(anp.TypeCounter, counter(8000, 4))
			env.Body = json.RawMessage(`{"price":{"amount":9900,"currency":"USD"},"turn":4}`)
			return marshal(env)
		}, 401, anp.CodeBadSignature},
		{"signed by another key", anp.SellerCounter, func() []byte {
			other.Tr = b.Tr
			return marshal(other.Seal(anp.TypeCounter, counter(8000, 4)))
		}, 401, anp.CodeBadSignature},
		{"replay of an earlier COUNTER", anp.SellerCounter, func() []byte { return marshal(sent[1]) }, 409, anp.CodeReplay},
		{"replay of the PROPOSE", anp.SellerHandshake, func() []byte { return marshal(sent[0]) }, 409, anp.CodeConflict},
		{"seq skips ahead", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Seq++ }))
		}, 409, anp.CodeOutOfOrder},
		{"seq repeats", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Seq--; s.Prev = b.Tr.Envelopes[s.Seq-1].Prev }))
		}, 409, anp.CodeOutOfOrder},
		{"prev is not the head", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Prev = b.Tr.Envelopes[3].Prev }))
		}, 409, anp.CodeOutOfOrder},
		{"expired", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Now = time.Now().Add(-20 * time.Minute); s.TTL = time.Minute }))
		}, 410, anp.CodeExpired},
		{"dated in the future", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Now = time.Now().Add(10 * time.Minute) }))
		}, 410, anp.CodeExpired},
		{"addressed to another seller", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.To = "other-shop.anp" }))
		}, 400, anp.CodeBadRequest},
		{"unknown message type", anp.SellerCounter, func() []byte {
			return withField(b.Seal(anp.TypeCounter, counter(8000, 4)), "type", "BRIBE")
		}, 400, anp.CodeUnknownType},
		{"wrong route", anp.SellerCancel, func() []byte { return marshal(b.Seal(anp.TypeCounter, counter(8000, 4))) }, 400, anp.CodeBadRequest},
		{"seller-only type from a buyer", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Type = anp.TypeAccept }))
		}, 400, anp.CodeBadRequest},
		{"unknown envelope field", anp.SellerCounter, func() []byte {
			return withField(b.Seal(anp.TypeCounter, counter(8000, 4)), "priority", 1)
		}, 400, anp.CodeBadRequest},
		{"unknown body field", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) {
				s.Body = map[string]any{"price": anptest.USD(8000), "turn": 4, "max_budget": 9000}
			}))
		}, 400, anp.CodeBadRequest},
		{"negative price", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Body = counter(-5, 4) }))
		}, 400, anp.CodeBadRequest},
		{"turn skips ahead", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Body = counter(8000, 5) }))
		}, 400, anp.CodeBadRequest},
		{"turn repeats", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Body = counter(8000, 3) }))
		}, 400, anp.CodeBadRequest},
		{"unknown session", anp.SellerCounter, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) { s.Session = anp.NewSessionID() }))
		}, 404, anp.CodeNotFound},
		{"COMMIT before ACCEPT", anp.SellerSignRequest, func() []byte {
			return marshal(resign(func(s *anp.EnvelopeSpec) {
				s.Type = anp.TypeCommit
				s.Body = anp.CommitBody{Artifact: &anp.Artifact{}}
			}))
		}, 409, anp.CodeBadState},
		{"not JSON", anp.SellerCounter, func() []byte { return []byte("price=80") }, 400, anp.CodeBadRequest},
		{"trailing data", anp.SellerCounter, func() []byte {
			return append(marshal(b.Seal(anp.TypeCounter, counter(8000, 4))), []byte(" {}")...)
		}, 400, anp.CodeBadRequest},
		{"oversize body", anp.SellerCounter, func() []byte {
			return withField(b.Seal(anp.TypeCounter, counter(8000, 4)), "pad", strings.Repeat("x", 70<<10))
		}, 413, anp.CodeTooLarge},
	}
	before, _ := n.Session(b.Session)
	beforeEnvs, _ := n.Transcript(b.Session)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.postRaw(tc.path, tc.data())
			if r.status != tc.status || r.err == nil || r.err.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", r.status, r.err, tc.status, tc.code)
			}
			if r.err.Message == "" {
				t.Fatal("error has no message")
			}
			after, _ := n.Session(b.Session)
			envs, _ := n.Transcript(b.Session)
			if !reflect.DeepEqual(before, after) || len(envs) != len(beforeEnvs) {
				t.Fatalf("session changed: %+v / %d envelopes, was %+v / %d", after, len(envs), before, len(beforeEnvs))
			}
		})
	}
	// The session still takes the next genuine offer.
	if got := b.send(anp.TypeCounter, counter(8000, 4)); anptest.Body[anp.OfferBody](t, got).Price != anptest.USD(8500) {
		t.Fatalf("next ask %s, want 85.00 USD", anptest.Body[anp.OfferBody](t, got).Price)
	}
}

func TestRetransmissionGetsTheSameReply(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b, _ := openSession(t, srv.URL)
	env := b.Seal(anp.TypeCounter, counter(8000, 4))
	first := b.post(anp.SellerCounter, env)
	second := b.post(anp.SellerCounter, env)
	if first.status != 200 || second.status != 200 || first.reply.Sig != second.reply.Sig {
		t.Fatalf("retransmission: %d/%d, replies differ", first.status, second.status)
	}
	envs, _ := n.Transcript(b.Session)
	if len(envs) != 8 {
		t.Fatalf("transcript has %d envelopes, want 8", len(envs))
	}
	// The same for a PROPOSE retransmitted before anything else happened.
	b2 := newBuyer(t, srv.URL)
	p := b2.Seal(anp.TypePropose, propose("kettle", nil))
	r1, r2 := b2.post(anp.SellerHandshake, p), b2.post(anp.SellerHandshake, p)
	if r1.status != 200 || r2.status != 200 || r1.reply.Sig != r2.reply.Sig {
		t.Fatalf("PROPOSE retransmission: %d/%d", r1.status, r2.status)
	}
	// A different PROPOSE for the same id is a conflict.
	r3 := b2.post(anp.SellerHandshake, b2.Seal(anp.TypePropose, propose("kettle", nil)))
	if r3.status != 409 || r3.err.Code != anp.CodeConflict {
		t.Fatalf("second PROPOSE: %d %+v, want 409 conflict", r3.status, r3.err)
	}
}

// acceptedSession negotiates to an ACCEPT at 85.00 USD.
func acceptedSession(t *testing.T, url string) (*buyer, *anp.Envelope, anp.ProposeBody) {
	t.Helper()
	b := newBuyer(t, url)
	p := propose("Dutch oven", nil)
	b.send(anp.TypePropose, p)
	b.send(anp.TypeCounter, counter(7000, 2))
	b.send(anp.TypeCounter, counter(8000, 3))
	acc := b.send(anp.TypeCounter, counter(8500, 4))
	if acc.Type != anp.TypeAccept {
		t.Fatalf("got %s, want ACCEPT", acc.Type)
	}
	return b, acc, p
}

func TestCommitRefusesArtifactsThatDifferFromTheDeal(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b, acc, p := acceptedSession(t, srv.URL)
	otherKey := anptest.NewKey(t)
	otherPub := anptest.PubHex(otherKey)

	cases := []struct {
		name string
		mut  func(a *anp.Artifact) ed25519.PrivateKey // returns the signing key, nil for none
		code anp.Code
		msg  string
	}{
		{"price", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.Price = anptest.USD(5000); return b.Key },
			anp.CodeRefused, "artifact price 50.00 USD differs from the accepted 85.00 USD"},
		{"currency", func(a *anp.Artifact) ed25519.PrivateKey {
			a.Terms.Price = anp.Money{Amount: 8500, Currency: "EUR"}
			return b.Key
		}, anp.CodeRefused, `artifact currency "EUR" differs from the session currency USD`},
		{"item", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.Item = "Gold bar"; return b.Key },
			anp.CodeRefused, `artifact item "Gold bar" differs from the proposed item "Dutch oven"`},
		{"buyer key", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.BuyerKey = otherPub; return otherKey },
			anp.CodeRefused, "artifact buyer_key " + otherPub[:12] + "… differs"}, // a quoted key is cut, and the cut marked
		{"transcript head", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.TranscriptHead = acc.Prev; return b.Key },
			anp.CodeRefused, "artifact transcript_head"},
		{"transcript length", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.TranscriptLen = 7; return b.Key },
			anp.CodeRefused, "artifact transcript_len 7 differs from the seq 8"},
		{"quantity", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.Quantity = 2; return b.Key },
			anp.CodeRefused, "artifact quantity 2 differs"},
		{"terms", func(a *anp.Artifact) ed25519.PrivateKey {
			a.Terms.Terms = map[string]string{"delivery": "1d"}
			return b.Key
		},
			anp.CodeRefused, "artifact terms differ"},
		{"mode", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.Mode = anp.ModeA; return b.Key },
			anp.CodeRefused, "artifact mode"},
		{"seller domain", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.SellerDomain = "other-shop.anp"; return b.Key },
			anp.CodeRefused, "artifact seller_domain"},
		{"seller key", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.SellerKey = otherPub; return b.Key },
			anp.CodeRefused, "artifact seller_key"},
		{"session id", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.SessionID = anp.NewSessionID(); return b.Key },
			anp.CodeRefused, "artifact session_id"},
		{"agreed at", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.AgreedAt--; return b.Key },
			anp.CodeRefused, "artifact agreed_at"},
		{"created in the future", func(a *anp.Artifact) ed25519.PrivateKey {
			a.Terms.CreatedAt = time.Now().Add(time.Hour).UnixMilli()
			return b.Key
		}, anp.CodeRefused, "artifact created_at"},
		{"buyer signature", func(a *anp.Artifact) ed25519.PrivateKey { a.Terms.CreatedAt++; return nil },
			anp.CodeBadSignature, "artifact buyer signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := b.artifactFor(acc, p)
			if key := tc.mut(a); key != nil {
				if err := a.SignAsBuyer(key); err != nil {
					t.Fatal(err)
				}
			}
			r := b.post(anp.SellerSignRequest, b.Seal(anp.TypeCommit, anp.CommitBody{Artifact: a}))
			if r.err == nil || r.err.Code != tc.code || !strings.Contains(r.err.Message, tc.msg) {
				t.Fatalf("got %d %+v, want %s containing %q", r.status, r.err, tc.code, tc.msg)
			}
			if r.status != StatusFor(tc.code) {
				t.Fatalf("status %d, want %d", r.status, StatusFor(tc.code))
			}
			want := tc.code
			if tc.name == "session id" {
				want = anp.CodeNotFound // SignAsSeller finds the session by the artifact's id
			}
			if _, err := n.SignAsSeller(a); anp.CodeOf(err) != want {
				t.Fatalf("SignAsSeller: %v, want %s", err, want)
			}
			if v, _ := n.Session(b.Session); v.State != StateAccepted {
				t.Fatalf("state %s after a refused COMMIT", v.State)
			}
		})
	}
	r := b.post(anp.SellerSignRequest, b.Seal(anp.TypeCommit, anp.CommitBody{}))
	if r.status != 400 || r.err.Code != anp.CodeBadRequest {
		t.Fatalf("COMMIT without artifact: %d %+v", r.status, r.err)
	}
	if got := b.send(anp.TypeCommit, anp.CommitBody{Artifact: b.artifactFor(acc, p)}); got.Type != anp.TypeConfirm {
		t.Fatalf("the exact artifact got %s, want CONFIRM", got.Type)
	}
}

func TestProposeChecks(t *testing.T) {
	_, srv := newTestNode(t, func(c *Config) { c.Modes = []anp.Mode{anp.ModeB, anp.ModeC} })
	b := newBuyer(t, srv.URL)
	p := propose("kettle", nil)
	p.Mode = anp.ModeA
	r := b.post(anp.SellerHandshake, b.Seal(anp.TypePropose, p))
	if r.status != 422 || r.err.Code != anp.CodeRefused || !strings.Contains(r.err.Message, "ANP/B, ANP/C") {
		t.Fatalf("unsupported mode: %d %+v", r.status, r.err)
	}
	spec := b.Spec(anp.TypePropose, propose("kettle", nil))
	spec.Seq, spec.Prev = 2, strings.Repeat("ab", 32)
	if r := b.post(anp.SellerHandshake, b.SealSpec(spec)); r.status != 409 || r.err.Code != anp.CodeOutOfOrder {
		t.Fatalf("PROPOSE at seq 2: %d %+v", r.status, r.err)
	}
	bad := propose("", nil)
	if r := b.post(anp.SellerHandshake, b.Seal(anp.TypePropose, bad)); r.status != 400 {
		t.Fatalf("PROPOSE without item: %d %+v", r.status, r.err)
	}
	if r := b.post(anp.SellerCounter, b.Seal(anp.TypePropose, propose("kettle", nil))); r.status != 400 {
		t.Fatalf("PROPOSE on /counter: %d %+v", r.status, r.err)
	}
}

func TestOpeningOfferAndQuantity(t *testing.T) {
	n, srv := newTestNode(t, nil)
	// An opening offer at the list price is accepted at once.
	b := newBuyer(t, srv.URL)
	o := anptest.USD(12000)
	if got := b.send(anp.TypePropose, propose("kettle", &o)); got.Type != anp.TypeAccept || anptest.Body[anp.OfferBody](t, got).Price != anptest.USD(10000) {
		t.Fatalf("opening offer above list: %s %s, want ACCEPT at 100.00 USD", got.Type, anptest.Body[anp.OfferBody](t, got).Price)
	}
	// Three units ask three times the list price.
	b3 := newBuyer(t, srv.URL)
	p := propose("kettle", nil)
	p.Quantity = 3
	if got := b3.send(anp.TypePropose, p); anptest.Body[anp.OfferBody](t, got).Price != anptest.USD(30000) {
		t.Fatalf("3 units: ask %s, want 300.00 USD", anptest.Body[anp.OfferBody](t, got).Price)
	}
	if v, ok := n.Session(b3.Session); !ok || v.Quantity != 3 || v.State != StateOpen || *v.LastAsk != anptest.USD(30000) {
		t.Fatalf("session view %+v", v)
	}
}

func TestQueryAndCancel(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b, _ := openSession(t, srv.URL)
	inf := b.send(anp.TypeQuery, anp.NoteBody{Message: "Does it come with a lid?"})
	if inf.Type != anp.TypeInform || !strings.Contains(anptest.Body[anp.NoteBody](t, inf).Message, "90.00 USD") {
		t.Fatalf("QUERY answered %s %+v", inf.Type, anptest.Body[anp.NoteBody](t, inf))
	}
	// A QUERY does not use a turn.
	if got := b.send(anp.TypeCounter, counter(8000, 4)); anptest.Body[anp.OfferBody](t, got).Turn != 4 {
		t.Fatalf("turn after QUERY: %d", anptest.Body[anp.OfferBody](t, got).Turn)
	}
	ack := b.send(anp.TypeCancel, anp.NoteBody{Reason: "found elsewhere"})
	if ack.Type != anp.TypeInform || anptest.Body[anp.NoteBody](t, ack).Reason != "cancelled" {
		t.Fatalf("CANCEL answered %s %+v", ack.Type, anptest.Body[anp.NoteBody](t, ack))
	}
	if v, _ := n.Session(b.Session); v.State != StateCancelled {
		t.Fatalf("state %s, want CANCELLED", v.State)
	}
	for _, typ := range []anp.MsgType{anp.TypeCounter, anp.TypeCancel, anp.TypeQuery} {
		var body any = anp.NoteBody{}
		if typ == anp.TypeCounter {
			body = counter(8500, 5)
		}
		if r := b.post(route(typ), b.Seal(typ, body)); r.status != 409 || r.err.Code != anp.CodeBadState {
			t.Fatalf("%s after CANCEL: %d %+v", typ, r.status, r.err)
		}
	}
}

func TestRejectEndsTheSession(t *testing.T) {
	n, srv := newTestNode(t, func(c *Config) {
		c.Policy = &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), MaxTurns: 2}
	})
	b := newBuyer(t, srv.URL)
	b.send(anp.TypePropose, propose("kettle", nil))
	fin := b.send(anp.TypeCounter, counter(5000, 2))
	if o := anptest.Body[anp.OfferBody](t, fin); !o.Final || o.Price != anptest.USD(8000) {
		t.Fatalf("turn 2 of 2: %+v, want the final offer at the floor", o)
	}
	rej := b.send(anp.TypeCounter, counter(7000, 3))
	if rej.Type != anp.TypeReject || anptest.Body[anp.NoteBody](t, rej).Reason != "stalemate" {
		t.Fatalf("offer below the floor after the final offer: %s %+v, want REJECT stalemate", rej.Type, anptest.Body[anp.NoteBody](t, rej))
	}
	if v, _ := n.Session(b.Session); v.State != StateCancelled {
		t.Fatalf("state %s after REJECT", v.State)
	}
}

func TestBlindCredentialThroughTheHandler(t *testing.T) {
	var logs bytes.Buffer
	rec := &recordingPolicy{Policy: &CurvePolicy{List: anptest.USD(10000), Floor: anptest.USD(8000), RequireCredential: true}}
	n, srv := newTestNode(t, func(c *Config) {
		c.Policy = rec
		c.Logger = zerolog.New(&syncWriter{w: &logs}).Level(zerolog.DebugLevel)
	})
	const secret = "MEMBER-4471-GOLD"
	seal := func(buyerKey, session, domain string) string {
		t.Helper()
		sealed, err := anp.SealCredential(n.EncryptionKey(), anp.CredentialScope{Session: session, BuyerKey: buyerKey, Domain: domain}, secret)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}

	b := newBuyer(t, srv.URL)
	p := propose("kettle", nil)
	p.Credential = seal(anptest.PubHex(b.Key), b.Session, testDomain)
	if got := b.send(anp.TypePropose, p); got.Type != anp.TypeCounter {
		t.Fatalf("with a credential: %s", got.Type)
	}
	if seen := rec.seen(); len(seen) != 1 || seen[0].Credential != secret {
		t.Fatalf("policy saw %+v, want the opened credential", seen)
	}
	if v, _ := n.Session(b.Session); v.Credential != "" {
		t.Fatal("Session echoes the credential")
	}

	// Without a credential, a policy that requires one rejects.
	b2 := newBuyer(t, srv.URL)
	if got := b2.send(anp.TypePropose, propose("kettle", nil)); got.Type != anp.TypeReject || anptest.Body[anp.NoteBody](t, got).Reason != "rejected" {
		t.Fatalf("without a credential: %s %+v", got.Type, anptest.Body[anp.NoteBody](t, got))
	}
	// Sealed for another session, buyer session key or domain: refused, no session.
	stranger := anptest.PubHex(anptest.NewKey(t))
	for name, sealed := range map[string]func(buyerKey, session string) string{
		"other session":   func(key, _ string) string { return seal(key, anp.NewSessionID(), testDomain) },
		"other buyer key": func(_, session string) string { return seal(stranger, session, testDomain) },
		"other domain":    func(key, session string) string { return seal(key, session, "other-shop.anp") },
		"garbage":         func(string, string) string { return "bm90IGEgc2VhbGVkIGJveA==" },
	} {
		b3 := newBuyer(t, srv.URL)
		p := propose("kettle", nil)
		p.Credential = sealed(anptest.PubHex(b3.Key), b3.Session)
		r := b3.post(anp.SellerHandshake, b3.Seal(anp.TypePropose, p))
		if r.status != 422 || r.err.Code != anp.CodeRefused {
			t.Fatalf("%s: %d %+v, want 422 refused", name, r.status, r.err)
		}
		if _, ok := n.Session(b3.Session); ok {
			t.Fatalf("%s: a refused PROPOSE left a session", name)
		}
		if strings.Contains(r.err.Message, secret) {
			t.Fatalf("%s: the error echoes the credential", name)
		}
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), p.Credential) {
		t.Fatal("the credential reached the log")
	}
	if !strings.Contains(logs.String(), "session opened") {
		t.Fatalf("expected log lines, got %q", logs.String())
	}
}

// syncWriter serialises writes from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestIdleSessionsExpire(t *testing.T) {
	clk := anptest.NewClock(time.Now())
	n, srv := newTestNode(t, func(c *Config) { c.Now = clk.Now; c.SessionTTL = 30 * time.Minute })
	b := newBuyer(t, srv.URL)
	b.Now = clk.Now
	b.send(anp.TypePropose, propose("kettle", nil))
	b.send(anp.TypeCounter, counter(7000, 2)) // past its PROPOSE: the session waits its SessionTTL
	clk.Advance(31 * time.Minute)
	r := b.post(anp.SellerCounter, b.Seal(anp.TypeCounter, counter(8000, 3)))
	if r.status != 410 || r.err.Code != anp.CodeExpired {
		t.Fatalf("COUNTER to an idle session: %d %+v, want 410 expired", r.status, r.err)
	}
	if v, ok := n.Session(b.Session); !ok || v.State != StateExpired {
		t.Fatalf("session %+v, want EXPIRED", v)
	}
	// Swept on a later PROPOSE once it has been idle long enough.
	clk.Advance(2 * time.Minute)
	newBuyerAt(t, srv.URL, clk).send(anp.TypePropose, propose("kettle", nil))
	if _, ok := n.Session(b.Session); ok {
		t.Fatal("expired session was not swept")
	}
}

func newBuyerAt(t *testing.T, url string, clk *anptest.Clock) *buyer {
	b := newBuyer(t, url)
	b.Now = clk.Now
	return b
}

func TestConcurrentOffersForOneTurn(t *testing.T) {
	n, srv := newTestNode(t, nil)
	b, _ := openSession(t, srv.URL)
	const racers = 8
	envs := make([]*anp.Envelope, racers)
	for i := range envs {
		envs[i] = b.Seal(anp.TypeCounter, counter(int64(8000+i), 4))
	}
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = b.post(anp.SellerCounter, envs[i]).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 409:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if envs, _ := n.Transcript(b.Session); ok != 1 || len(envs) != 8 {
		t.Fatalf("%d offers accepted, %d envelopes; want exactly 1 and 8", ok, len(envs))
	}
}

func TestMisbehavingPolicies(t *testing.T) {
	open := func(SessionView, anp.ProposeBody) (Decision, error) {
		return Decision{Action: ActionCounter, Price: anptest.USD(10000)}, nil
	}
	cases := []struct {
		name    string
		respond func(SessionView, anp.Money) (Decision, error)
		status  int
		check   func(t *testing.T, reply *anp.Envelope)
	}{
		{"raises its ask", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: ActionCounter, Price: anptest.USD(20000)}, nil
		}, 200, func(t *testing.T, r *anp.Envelope) {
			if p := anptest.Body[anp.OfferBody](t, r).Price; p != anptest.USD(10000) {
				t.Fatalf("ask %s, want the previous 100.00 USD", p)
			}
		}},
		{"accepts above the offer", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: ActionAccept, Price: anptest.USD(9999)}, nil
		}, 500, nil},
		{"accepts at the offer by default", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: ActionAccept}, nil
		}, 200, func(t *testing.T, r *anp.Envelope) {
			if r.Type != anp.TypeAccept || anptest.Body[anp.OfferBody](t, r).Price != anptest.USD(6000) {
				t.Fatalf("%s %s, want ACCEPT at 60.00 USD", r.Type, anptest.Body[anp.OfferBody](t, r).Price)
			}
		}},
		{"counters in another currency", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: ActionCounter, Price: anp.Money{Amount: 9000, Currency: "EUR"}}, nil
		}, 500, nil},
		{"unknown action", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: "haggle"}, nil
		}, 500, nil},
		{"fails", func(SessionView, anp.Money) (Decision, error) {
			return Decision{}, io.ErrUnexpectedEOF
		}, 500, nil},
		{"refuses with a protocol error", func(SessionView, anp.Money) (Decision, error) {
			return Decision{}, anp.Errorf(anp.CodeRefused, "not today")
		}, 422, nil},
		{"escalates", func(SessionView, anp.Money) (Decision, error) {
			return Decision{Action: ActionEscalate, Message: "a human will look\x00 at this"}, nil
		}, 200, func(t *testing.T, r *anp.Envelope) {
			if r.Type != anp.TypeEscalate || anptest.Body[anp.NoteBody](t, r).Message != "a human will look at this" {
				t.Fatalf("%s %+v", r.Type, anptest.Body[anp.NoteBody](t, r))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, srv := newTestNode(t, func(c *Config) { c.Policy = funcPolicy{open: open, respond: tc.respond} })
			b := newBuyer(t, srv.URL)
			b.send(anp.TypePropose, propose("kettle", nil))
			r := b.post(anp.SellerCounter, b.Seal(anp.TypeCounter, counter(6000, 2)))
			if r.status != tc.status {
				t.Fatalf("status %d %+v, want %d", r.status, r.err, tc.status)
			}
			if tc.check != nil {
				tc.check(t, r.reply)
				return
			}
			if envs, _ := n.Transcript(b.Session); len(envs) != 2 {
				t.Fatalf("a failed policy left %d envelopes, want 2", len(envs))
			}
			if r.status == 500 && r.err.Message != "the seller could not process the request" {
				t.Fatalf("internal error leaks details: %q", r.err.Message)
			}
		})
	}
}

func TestRoutesAndServer(t *testing.T) {
	n, srv := newTestNode(t, nil)
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), testDomain) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/counter", 405},
		{"POST", "/healthz", 405},
		{"POST", "/v1/relay/x", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb anp.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || eb.Error == nil {
			t.Fatalf("%s %s: %d %v %+v", tc.method, tc.path, resp.StatusCode, err, eb)
		}
	}
	hs := n.NewHTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout != 5*time.Second || hs.ReadTimeout != 15*time.Second || hs.WriteTimeout != 30*time.Second || hs.MaxHeaderBytes != 16<<10 {
		t.Fatalf("server limits %+v", hs)
	}
}

func TestNewNodeChecksConfig(t *testing.T) {
	good := Config{Domain: "Shop.ANP", Identity: sellerKey, Policy: linearPolicy(), Registry: chainOnly{}}
	n, err := NewNode(good)
	if err != nil || n.Domain() != "shop.anp" {
		t.Fatalf("NewNode: %v, domain %q", err, n.Domain())
	}
	for name, edit := range map[string]func(*Config){
		"bad domain":       func(c *Config) { c.Domain = "shop" },
		"short key":        func(c *Config) { c.Identity = sellerKey[:32] },
		"no policy":        func(c *Config) { c.Policy = nil },
		"bad policy":       func(c *Config) { c.Policy = &CurvePolicy{List: anptest.USD(100), Floor: anptest.USD(200)} },
		"bad mode":         func(c *Config) { c.Modes = []anp.Mode{"ANP/Z"} },
		"no registry":      func(c *Config) { c.Registry = nil },
		"negative limit":   func(c *Config) { c.MaxSessions = -1 },
		"tiny session cap": func(c *Config) { c.MaxSessionBytes = 1000 },
		"total below one":  func(c *Config) { c.MaxSessionBytes, c.MaxTotalBytes = 1<<20, 1<<19 },
		"unusable state":   func(c *Config) { c.StateDir = "/proc/no-such-dir/seller" },
	} {
		c := good
		edit(&c)
		if _, err := NewNode(c); err == nil {
			t.Errorf("%s: NewNode accepted it", name)
		}
	}
}
