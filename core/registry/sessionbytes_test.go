package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// paddedWire returns the wire form of env with its body padded to about
// pad bytes more: object members in reverse order (JCS sorts them), every
// character of a string value written as a \u escape, and white space
// around every token. The signature, over the canonical body, still
// verifies.
func paddedWire(t testing.TB, env *anp.Envelope, pad int) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(env.Body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	tokens := countTokens(v)
	ws := strings.Repeat(" \n\t ", max(1, pad/4/tokens))
	var b strings.Builder
	writePadded(&b, v, ws)
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Replace(data, []byte(`"body":`+string(env.Body)), []byte(`"body":`+b.String()), 1)
	if bytes.Equal(out, data) {
		t.Fatal("the body was not padded")
	}
	return out
}

// countTokens counts the places writePadded puts white space in v.
func countTokens(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 2
		for _, m := range v {
			n += 3 + countTokens(m)
		}
		return n
	case []any:
		n := 2
		for _, m := range v {
			n += 1 + countTokens(m)
		}
		return n
	}
	return 1
}

func writePadded(b *strings.Builder, v any, ws string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		slices.Reverse(keys)
		b.WriteString("{" + ws)
		for i, k := range keys {
			if i > 0 {
				b.WriteString("," + ws)
			}
			fmt.Fprintf(b, "%q%s:%s", k, ws, ws)
			writePadded(b, v[k], ws)
		}
		b.WriteString(ws + "}")
	case []any:
		b.WriteString("[" + ws)
		for i, m := range v {
			if i > 0 {
				b.WriteString("," + ws)
			}
			writePadded(b, m, ws)
		}
		b.WriteString(ws + "]")
	case string:
		b.WriteByte('"')
		for _, u := range v {
			fmt.Fprintf(b, `\u%04x`, u)
		}
		b.WriteByte('"')
	default:
		data, _ := json.Marshal(v)
		b.Write(data)
	}
}

// storedRecord returns the Ledger bytes of a witnessed session.
func (e *testEnv) storedRecord(id string) []byte {
	e.t.Helper()
	data, err := e.ledger.Get(context.Background(), bucketSessions, id)
	if err != nil {
		e.t.Fatalf("stored session %s: %v", id, err)
	}
	return data
}

// storedCanonical checks that session id is stored with every body in
// canonical form and that its transcript verifies, and returns it.
func (e *testEnv) storedCanonical(id string) *witnessSession {
	e.t.Helper()
	ws, err := e.srv.loadSession(context.Background(), id)
	if err != nil || ws == nil {
		e.t.Fatalf("load session %s: %v", id, err)
	}
	for _, env := range ws.Transcript.Envelopes {
		if c, err := anp.Canonical(env.Body); err != nil || !bytes.Equal(c, env.Body) {
			e.t.Fatalf("%s seq %d is stored with the body %s, not in canonical form", env.Type, env.Seq, env.Body)
		}
	}
	if head, err := anp.VerifyChain(ws.Transcript.Envelopes); err != nil || head != ws.Transcript.Head {
		e.t.Fatalf("the stored transcript does not verify: head %s (stored %s), %v", head, ws.Transcript.Head, err)
	}
	return ws
}

// relayRaw posts envelope bytes to the relay route of domain.
func (e *testEnv) relayRaw(tok, domain string, wire []byte) rawResponse {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/relay/"+domain, wire, bearerHeader(tok))
}

// answerRaw has the stub answer env with typ and body, its envelope sent
// as the bytes wire makes of it (padded, say).
func (s *sellerStub) answerRaw(w http.ResponseWriter, env *anp.Envelope, typ anp.MsgType, body any, wire func(*anp.Envelope) []byte) {
	reply, err := s.sealReply(env, typ, body)
	if err != nil {
		writeStubError(w, http.StatusInternalServerError, anp.Errorf(anp.CodeInternal, "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"reply":` + string(wire(reply)) + `}`))
}

// TestWitnessKeepsCanonicalBodies: a buyer envelope, a seller's direct
// reply and a seller's callback, each sent with its body padded (white
// space, escapes, members out of order), are witnessed, forwarded and
// delivered with the body in canonical form: the stored transcript still
// verifies, holds no padding, and the seller and the buyer get the
// compact envelopes.
func TestWitnessKeepsCanonicalBodies(t *testing.T) {
	const pad = 8 << 10
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	tok := e.token(identity)
	padder := func(env *anp.Envelope) []byte { return paddedWire(t, env, pad) }
	seller.setRespond(func(w http.ResponseWriter, _ string, env *anp.Envelope) {
		switch env.Type {
		case anp.TypePropose:
			seller.answerRaw(w, env, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1, Message: "our best price"}, padder)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})

	b := newBuyerSession(t, e.clock, seller.domain)
	propose := b.Seal(anp.TypePropose, proposeBody())
	res := e.relayRaw(tok, seller.domain, paddedWire(t, propose, pad))
	if res.status != http.StatusOK {
		t.Fatalf("padded PROPOSE: %d %s", res.status, res.body)
	}
	var rr anp.RelayResponse
	if err := anp.DecodeStrict(res.body, &rr); err != nil || rr.Reply == nil {
		t.Fatalf("relay answer %s: %v", res.body, err)
	}
	b.Record(propose)
	b.Accept(rr.Reply)
	if c, _ := anp.Canonical(rr.Reply.Body); !bytes.Equal(c, rr.Reply.Body) {
		t.Fatalf("the buyer got the seller's reply with the padded body %.80s…", rr.Reply.Body)
	}
	seller.mu.Lock()
	forwarded := seller.bodies[0]
	seller.mu.Unlock()
	if want, _ := json.Marshal(propose); !bytes.Equal(forwarded, want) {
		t.Fatalf("the seller got %d bytes, want the compact PROPOSE of %d", len(forwarded), len(want))
	}

	counter := b.Seal(anp.TypeCounter, anp.OfferBody{Price: anptest.USD(8500), Turn: 1, Message: "meet me halfway"})
	if res := e.relayRaw(tok, seller.domain, paddedWire(t, counter, pad)); res.status != http.StatusAccepted {
		t.Fatalf("padded COUNTER: %d %s", res.status, res.body)
	}
	b.Record(counter)
	accept := seller.seal(counter, anp.TypeAccept, anp.OfferBody{Price: anptest.USD(8500), Turn: 1, Message: "deal"})
	res = e.do(http.MethodPost, anp.RouteCallbacks, paddedWire(t, accept, pad), nil)
	if res.status != http.StatusAccepted {
		t.Fatalf("padded callback: %d %s", res.status, res.body)
	}

	ws := e.storedCanonical(b.Session)
	if len(ws.Transcript.Envelopes) != 4 || ws.Transcript.Head != anptest.Hash(t, accept) {
		t.Fatalf("witnessed %d envelopes with head %s, want 4 ending with the ACCEPT", len(ws.Transcript.Envelopes), ws.Transcript.Head)
	}
	stored := e.storedRecord(b.Session)
	if len(stored) > 4<<10 || bytes.Contains(stored, []byte(`\u00`)) {
		t.Fatalf("the stored record is %d bytes for 4 padded envelopes of %d bytes each", len(stored), pad)
	}
	pending, err := e.ledger.List(context.Background(), bucketPending)
	if err != nil || len(pending) != 1 || len(pending[0].Value) > 2<<10 {
		t.Fatalf("queued callback records %d (%v), want one compact record", len(pending), err)
	}
	got, _, _ := subscribe(t, c, nil)
	if env := receive(t, got); !bytes.Equal(env.Body, ws.Transcript.Envelopes[3].Body) {
		t.Fatalf("the buyer got the callback with the body %.80s…, want the canonical one", env.Body)
	}
}

// TestSessionByteLimit: a session holds at most MaxSessionBytes. A buyer
// envelope that, with room for the answer, would take it past the limit
// is refused with too_large naming the limit, is not forwarded, and
// leaves the stored session as it was; so is a seller's callback, and a
// seller's direct reply is refused (the buyer gets unavailable, naming the
// limit) while the buyer envelope it answers stays witnessed. Another
// session of the same buyer is served.
func TestSessionByteLimit(t *testing.T) {
	const limit = MinMaxSessionBytes
	e := newEnv(t, func(c *Config) { c.MaxSessionBytes = limit })
	seller := e.addSeller("pans.anp")
	identity := anptest.NewKey(t)
	c := e.client(identity)
	ctx := context.Background()
	limitText := fmt.Sprintf("at most %d bytes per session", limit)

	t.Run("buyer envelopes", func(t *testing.T) {
		b := newBuyerSession(t, e.clock, seller.domain)
		b.relay(c, b.Seal(anp.TypePropose, proposeBody()))
		question := strings.Repeat("Is it pre-seasoned? ", 30)
		var refused error
		for range 50 {
			q := b.Seal(anp.TypeQuery, anp.NoteBody{Message: question})
			if _, err := c.Relay(ctx, seller.domain, q); err != nil {
				refused = err
				break
			}
			b.Record(q)
			b.Accept(e.storedCanonical(b.Session).Transcript.Last())
		}
		if anp.CodeOf(refused) != anp.CodeTooLarge || !strings.Contains(refused.Error(), limitText) {
			t.Fatalf("QUERYs past the limit: %v, want too_large naming %q", refused, limitText)
		}
		before, forwarded := e.storedRecord(b.Session), seller.requests()
		for range 3 {
			if _, err := c.Relay(ctx, seller.domain, b.Seal(anp.TypeQuery, anp.NoteBody{Message: question})); anp.CodeOf(err) != anp.CodeTooLarge {
				t.Fatalf("another QUERY: %v, want too_large", err)
			}
		}
		if after := e.storedRecord(b.Session); !bytes.Equal(after, before) || len(after) > limit || seller.requests() != forwarded {
			t.Fatalf("after the refusals: record %d bytes (changed: %v), %d forwarded (was %d)", len(after), !bytes.Equal(after, before), seller.requests(), forwarded)
		}
		other := newBuyerSession(t, e.clock, seller.domain)
		other.relay(c, other.Seal(anp.TypePropose, proposeBody()))
		other.relay(c, other.Seal(anp.TypeQuery, anp.NoteBody{Message: "Is it pre-seasoned?"}))
	})

	t.Run("seller reply", func(t *testing.T) {
		huge := anp.NoteBody{Message: strings.Repeat("x", limit)}
		seller.setRespond(func(w http.ResponseWriter, _ string, env *anp.Envelope) {
			if env.Type == anp.TypeQuery {
				seller.answer(w, env, anp.TypeInform, huge)
				return
			}
			seller.defaultRespond(w, "", env)
		})
		defer seller.setRespond(nil)
		b := newBuyerSession(t, e.clock, seller.domain)
		b.relay(c, b.Seal(anp.TypePropose, proposeBody()))
		_, err := c.Relay(ctx, seller.domain, b.Seal(anp.TypeQuery, anp.NoteBody{Message: "Is it pre-seasoned?"}))
		if anp.CodeOf(err) != anp.CodeUnavailable || !strings.Contains(err.Error(), limitText) {
			t.Fatalf("a reply past the limit: %v, want unavailable naming %q", err, limitText)
		}
		if ws := e.storedCanonical(b.Session); len(ws.Transcript.Envelopes) != 3 || ws.Transcript.Last().Type != anp.TypeQuery {
			t.Fatalf("witnessed %d envelopes, want PROPOSE, COUNTER and the QUERY, without the reply", len(ws.Transcript.Envelopes))
		}
	})

	t.Run("callback", func(t *testing.T) {
		b, propose := pendingSession(t, e, seller, c)
		defer seller.setRespond(nil)
		before := e.storedRecord(b.Session)
		big := seller.seal(propose, anp.TypeInform, anp.NoteBody{Message: strings.Repeat("x", limit)})
		if err := e.callback(seller, big); anp.CodeOf(err) != anp.CodeTooLarge || !strings.Contains(err.Error(), limitText) {
			t.Fatalf("a callback past the limit: %v, want too_large naming %q", err, limitText)
		}
		if after := e.storedRecord(b.Session); !bytes.Equal(after, before) || e.srv.hub.pendingCount(anptest.PubHex(identity)) != 0 {
			t.Fatalf("the refused callback changed the session or was queued")
		}
		if err := e.callback(seller, seller.seal(propose, anp.TypeCounter, anp.OfferBody{Price: stubPrice, Turn: 1})); err != nil {
			t.Fatalf("a callback within the limit: %v", err)
		}
	})
}

// TestSellerReplyOverEnvelopeLimit: a seller's direct reply larger than an
// envelope may be (anp.MaxEnvelopeBytes in canonical form) is not
// witnessed, however large the session limit.
func TestSellerReplyOverEnvelopeLimit(t *testing.T) {
	e := newEnv(t, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(t))
	seller.setRespond(func(w http.ResponseWriter, _ string, env *anp.Envelope) {
		seller.answer(w, env, anp.TypeInform, anp.NoteBody{Message: strings.Repeat("x", anp.MaxEnvelopeBytes)})
	})
	b := newBuyerSession(t, e.clock, seller.domain)
	_, err := c.Relay(context.Background(), seller.domain, b.Seal(anp.TypePropose, proposeBody()))
	if anp.CodeOf(err) != anp.CodeUnavailable || !strings.Contains(err.Error(), fmt.Sprintf("at most %d allowed", anp.MaxEnvelopeBytes)) {
		t.Fatalf("a reply of more than %d bytes: %v, want unavailable naming the envelope limit", anp.MaxEnvelopeBytes, err)
	}
	if n := e.witnessLen(b.Session); n != 1 {
		t.Fatalf("witnessed %d envelopes, want the PROPOSE alone", n)
	}
}

// TestEnvelopeBodiesReadUpToTheEnvelopeLimit: the relay and callback
// routes stop reading a request body past anp.MaxEnvelopeBytes, below the
// general request cap, and answer too_large naming that limit.
func TestEnvelopeBodiesReadUpToTheEnvelopeLimit(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(anptest.NewKey(t))
	body := `{"v":1,"type":"QUERY","body":"` + strings.Repeat(" ", 2*anp.MaxEnvelopeBytes) + `"}`
	want := fmt.Sprintf("request body is larger than %d bytes", anp.MaxEnvelopeBytes)
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
	}{
		{"relay", "/v1/relay/pans.anp", bearerHeader(tok)},
		{"callback", anp.RouteCallbacks, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(http.MethodPost, tc.path, body, tc.headers)
			if res.status != http.StatusRequestEntityTooLarge || res.errCode() != anp.CodeTooLarge || res.errMessage() != want {
				t.Fatalf("%d bytes: %d %s %q, want too_large %q", len(body), res.status, res.errCode(), res.errMessage(), want)
			}
		})
	}
}

// FuzzCompactBody: whatever JSON body a signed envelope carries, its
// compact form keeps the envelope's hash and signature, is in canonical
// form, and the stored encoding of a session holding it decodes back to
// the same envelope.
func FuzzCompactBody(f *testing.F) {
	key := anptest.NewKey(f)
	for _, s := range []string{`{"message":"hi"}`, "{ \"reason\" : \"\\u0071\" ,\n\"message\":\"a<b&c\" }", `{"b":1,"a":[1e2, 0.5, -0, true, false, "\u2028"]}`, `{"a":null}`,
		`{"price":{"amount":9000,"currency":"USD"},"turn":1}`, `"x"`, `[]`, `1e21`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || len(body) > anp.MaxEnvelopeBytes {
			return
		}
		env := &anp.Envelope{V: anp.Version, Type: anp.TypeQuery, Session: strings.Repeat("ab", 16), Seq: 1, From: anptest.PubHex(key), To: "pans.anp",
			TS: 1, Exp: 2, Nonce: strings.Repeat("cd", 16), Body: json.RawMessage(body)}
		sig, err := anp.Sign(key, anp.PurposeEnvelope, env)
		if err != nil {
			return // no canonical form: refused before it is signed or stored
		}
		env.Sig = sig
		if wire, err := json.Marshal(env); err != nil || anp.DecodeStrict(wire, new(anp.Envelope)) != nil {
			return // refused when it arrives (a null, say): never witnessed
		}
		before, err := env.Hash()
		if err != nil {
			t.Fatal(err)
		}
		if err := compactBody(env); err != nil {
			t.Fatalf("a body that was signed has no compact form: %v", err)
		}
		after, err := env.Hash()
		if err != nil || after != before {
			t.Fatalf("the hash changed from %s to %s (%v)", before, after, err)
		}
		if err := env.VerifySignature(); err != nil {
			t.Fatalf("the signature no longer verifies: %v", err)
		}
		if again, err := anp.Canonical(env.Body); err != nil || !bytes.Equal(again, env.Body) {
			t.Fatalf("the compact body %q is not canonical: %q (%v)", env.Body, again, err)
		}
		ws := &witnessSession{ID: env.Session, Domain: "pans.anp", Transcript: anp.Transcript{Envelopes: []*anp.Envelope{env}, Head: after}}
		data, err := encodeSession(ws)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSession(data)
		if err != nil {
			t.Fatalf("the stored record %q does not decode: %v", data, err)
		}
		if h, err := got.Transcript.Envelopes[0].Hash(); err != nil || h != before || !bytes.Equal(got.Transcript.Envelopes[0].Body, env.Body) {
			t.Fatalf("the stored envelope came back as %q (hash %s, %v)", got.Transcript.Envelopes[0].Body, h, err)
		}
	})
}
