package anp_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestMsgTypes(t *testing.T) {
	want := []anp.MsgType{"PROPOSE", "COUNTER", "ACCEPT", "REJECT", "CANCEL", "COMMIT", "CONFIRM", "INFORM", "QUERY", "ESCALATE"}
	if len(anp.MsgTypes) != len(want) {
		t.Fatalf("MsgTypes = %v, want %v", anp.MsgTypes, want)
	}
	for i, m := range want {
		if anp.MsgTypes[i] != m || !m.Valid() {
			t.Errorf("MsgTypes[%d] = %q valid=%v, want %q", i, anp.MsgTypes[i], m.Valid(), m)
		}
	}
	for _, m := range []anp.MsgType{"", "propose", "EXIT", "OFFER", "PROPOSE "} {
		if m.Valid() {
			t.Errorf("%q is valid", m)
		}
	}
}

func TestNewNonceAndSessionID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n, s := anp.NewNonce(), anp.NewSessionID()
		if len(n) != 2*anp.NonceBytes || !anp.ValidSessionID(n) || !anp.ValidSessionID(s) {
			t.Fatalf("NewNonce() = %q, NewSessionID() = %q", n, s)
		}
		if seen[n] || seen[s] {
			t.Fatalf("random value repeated after %d draws", i)
		}
		seen[n], seen[s] = true, true
	}
	for _, bad := range []string{"", sessionID[:31], sessionID + "0", strings.ToUpper(sessionID), "g" + sessionID[1:]} {
		if anp.ValidSessionID(bad) {
			t.Errorf("ValidSessionID(%q) = true", bad)
		}
	}
}

func TestSeal(t *testing.T) {
	now := t0.Add(time.Second)
	body := &anp.OfferBody{Price: anp.Money{Amount: 9000, Currency: "USD"}, Turn: 1}
	e, err := anp.Seal(sellerKey, anp.EnvelopeSpec{Type: anp.TypeCounter, Session: sessionID, Seq: 2, Prev: anp.HashBytes(nil), To: pub(buyerKey), Body: body, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if e.V != anp.Version || e.Type != anp.TypeCounter || e.Session != sessionID || e.Seq != 2 || e.From != pub(sellerKey) || e.To != pub(buyerKey) {
		t.Fatalf("sealed envelope has the wrong fields: %+v", e)
	}
	if e.TS != now.UnixMilli() || e.Exp != now.Add(5*time.Minute).UnixMilli() {
		t.Fatalf("default TTL: ts %d exp %d", e.TS, e.Exp)
	}
	if string(e.Body) != `{"price":{"amount":9000,"currency":"USD"},"turn":1}` {
		t.Fatalf("body is not canonical: %s", e.Body)
	}
	if err := e.VerifySignature(); err != nil {
		t.Fatalf("sealed envelope does not verify: %v", err)
	}
	var got anp.OfferBody
	if err := e.DecodeBody(&got); err != nil || got.Price.Amount != 9000 {
		t.Fatalf("DecodeBody = %+v, %v", got, err)
	}
	// The same spec twice gives different nonces, so different signatures.
	e2, _ := anp.Seal(sellerKey, anp.EnvelopeSpec{Type: anp.TypeCounter, Session: sessionID, Seq: 2, Prev: anp.HashBytes(nil), To: pub(buyerKey), Body: body, Now: now})
	if e2.Nonce == e.Nonce || e2.Sig == e.Sig {
		t.Fatal("two seals share a nonce")
	}

	ttl := func(d time.Duration) int64 {
		e, err := anp.Seal(buyerKey, anp.EnvelopeSpec{Type: anp.TypePropose, Session: sessionID, Seq: 1, To: sellerDomain, Body: proposeBody(), Now: now, TTL: d})
		if err != nil {
			t.Fatalf("TTL %s: %v", d, err)
		}
		return e.Exp - e.TS
	}
	if got := ttl(time.Minute); got != 60_000 {
		t.Errorf("TTL 1m gave %d ms", got)
	}
	if got := ttl(time.Hour); got != anp.MaxTTL.Milliseconds() {
		t.Errorf("TTL 1h is not capped at MaxTTL: %d ms", got)
	}

	refusals := []struct {
		name string
		spec anp.EnvelopeSpec
		code anp.Code
		msg  string
	}{
		{"unknown type", anp.EnvelopeSpec{Type: "EXIT", Session: sessionID, Seq: 1, To: sellerDomain, Body: proposeBody(), Now: now}, anp.CodeUnknownType, `"EXIT" is not part of the protocol`},
		{"bad session", anp.EnvelopeSpec{Type: anp.TypePropose, Session: "s1", Seq: 1, To: sellerDomain, Body: proposeBody(), Now: now}, anp.CodeBadRequest, "session id"},
		{"seq zero", anp.EnvelopeSpec{Type: anp.TypePropose, Session: sessionID, Seq: 0, To: sellerDomain, Body: proposeBody(), Now: now}, anp.CodeBadRequest, "seq must start at 1"},
		{"prev on seq 1", anp.EnvelopeSpec{Type: anp.TypePropose, Session: sessionID, Seq: 1, Prev: anp.HashBytes(nil), To: sellerDomain, Body: proposeBody(), Now: now}, anp.CodeBadRequest, "empty prev"},
		{"missing prev", anp.EnvelopeSpec{Type: anp.TypeCounter, Session: sessionID, Seq: 2, To: sellerDomain, Body: body, Now: now}, anp.CodeBadRequest, "prev must be"},
		{"no recipient", anp.EnvelopeSpec{Type: anp.TypePropose, Session: sessionID, Seq: 1, Body: proposeBody(), Now: now}, anp.CodeBadRequest, "to must name the recipient"},
		{"negative TTL", anp.EnvelopeSpec{Type: anp.TypePropose, Session: sessionID, Seq: 1, To: sellerDomain, Body: proposeBody(), Now: now, TTL: -time.Second}, anp.CodeBadRequest, "exp must be after ts"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			e, err := anp.Seal(buyerKey, tt.spec)
			if e != nil {
				t.Fatalf("Seal returned an envelope with error %v", err)
			}
			wantCode(t, err, tt.code, tt.msg)
		})
	}
	if _, err := anp.Seal(buyerKey, anp.EnvelopeSpec{Type: anp.TypeInform, Session: sessionID, Seq: 1, To: sellerDomain, Body: make(chan int), Now: now}); err == nil {
		t.Fatal("Seal encoded a channel body")
	}
}

// envelopeJSON is the fixture PROPOSE as a generic JSON object, to be edited
// field by field.
func envelopeJSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, buildNegotiation(t).Propose), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeEnvelope(t *testing.T) {
	n := buildNegotiation(t)
	valid := mustJSON(t, n.SellerCounter)
	got, err := anp.DecodeEnvelope(valid)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustJSON(t, got), valid) || got.VerifySignature() != nil {
		t.Fatalf("decoded envelope differs: %s", mustJSON(t, got))
	}

	edit := func(f func(m map[string]any)) []byte {
		m := envelopeJSON(t)
		f(m)
		return mustJSON(t, m)
	}
	tests := []struct {
		name string
		in   []byte
		code anp.Code
		msg  string
	}{
		{"unknown field", edit(func(m map[string]any) { m["budget"] = 9000 }), anp.CodeBadRequest, `unknown field "budget"`},
		{"trailing data", append(mustJSON(t, n.Propose), []byte(` {}`)...), anp.CodeBadRequest, "unexpected data after the JSON value"},
		{"trailing garbage", append(mustJSON(t, n.Propose), 'x'), anp.CodeBadRequest, "envelope"},
		{"two envelopes", append(mustJSON(t, n.Propose), mustJSON(t, n.Propose)...), anp.CodeBadRequest, "unexpected data"},
		{"not JSON", []byte("PROPOSE"), anp.CodeBadRequest, "envelope"},
		{"empty", nil, anp.CodeBadRequest, "envelope"},
		{"array", []byte(`[]`), anp.CodeBadRequest, "envelope"},
		{"null", []byte(`null`), anp.CodeBadRequest, "null is not a value in the protocol"},
		{"null member", edit(func(m map[string]any) { m["prev"] = nil }), anp.CodeBadRequest, "prev: null is not a value in the protocol"},
		{"oversize", append(mustJSON(t, n.Propose), bytes.Repeat([]byte(" "), anp.MaxEnvelopeBytes)...), anp.CodeTooLarge, "at most 65536 allowed"},
		{"unknown type", edit(func(m map[string]any) { m["type"] = "EXIT" }), anp.CodeUnknownType, `"EXIT" is not part of the protocol`},
		{"lower-case type", edit(func(m map[string]any) { m["type"] = "propose" }), anp.CodeUnknownType, "not part of the protocol"},
		{"version 2", edit(func(m map[string]any) { m["v"] = 2 }), anp.CodeBadRequest, "version 2 is not supported"},
		{"string version", edit(func(m map[string]any) { m["v"] = "1" }), anp.CodeBadRequest, "envelope"},
		{"bad session", edit(func(m map[string]any) { m["session"] = "abc" }), anp.CodeBadRequest, "session id must be 32 lower-case hex characters"},
		{"seq zero", edit(func(m map[string]any) { m["seq"] = 0 }), anp.CodeBadRequest, "seq must start at 1"},
		{"negative seq", edit(func(m map[string]any) { m["seq"] = -1 }), anp.CodeBadRequest, "envelope"},
		{"prev on seq 1", edit(func(m map[string]any) { m["prev"] = anp.HashBytes(nil) }), anp.CodeBadRequest, "empty prev"},
		{"bad prev", edit(func(m map[string]any) { m["seq"] = 2; m["prev"] = "00" }), anp.CodeBadRequest, "prev must be the 64-character hex hash"},
		{"exp before ts", edit(func(m map[string]any) { m["exp"] = m["ts"] }), anp.CodeBadRequest, "exp must be after ts"},
		{"ttl too long", edit(func(m map[string]any) { m["exp"] = float64(t0Ms + 1000 + anp.MaxTTL.Milliseconds() + 1) }), anp.CodeBadRequest, "longer than the 10m0s maximum"},
		{"no body", edit(func(m map[string]any) { delete(m, "body") }), anp.CodeBadRequest, "body is missing"},
		{"no recipient", edit(func(m map[string]any) { m["to"] = "" }), anp.CodeBadRequest, "to must name the recipient"},
		{"long recipient", edit(func(m map[string]any) { m["to"] = strings.Repeat("a", 254) }), anp.CodeBadRequest, "to must name the recipient"},
		{"bad from", edit(func(m map[string]any) { m["from"] = sellerDomain }), anp.CodeBadRequest, "from: anp: public key must be 64 hex characters"},
		{"upper-case from", edit(func(m map[string]any) { m["from"] = strings.ToUpper(pub(buyerKey)) }), anp.CodeBadRequest, "not lower-case hex"},
		{"short nonce", edit(func(m map[string]any) { m["nonce"] = "0101" }), anp.CodeBadRequest, "nonce must be 32 hex characters"},
		{"no nonce", edit(func(m map[string]any) { delete(m, "nonce") }), anp.CodeBadRequest, "nonce must be 32 hex characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := anp.DecodeEnvelope(tt.in)
			if e != nil {
				t.Fatalf("DecodeEnvelope returned %+v with error %v", e, err)
			}
			wantCode(t, err, tt.code, tt.msg)
		})
	}
}

// The recipient is a domain, so its length limit is MaxDomainLen.
func TestDecodeEnvelopeRecipientLength(t *testing.T) {
	decode := func(to string) error {
		m := envelopeJSON(t)
		m["to"] = to
		_, err := anp.DecodeEnvelope(mustJSON(t, m))
		return err
	}
	if err := decode(strings.Repeat("a", anp.MaxDomainLen)); err != nil {
		t.Fatalf("a recipient of MaxDomainLen (%d) bytes: %v", anp.MaxDomainLen, err)
	}
	wantCode(t, decode(strings.Repeat("a", anp.MaxDomainLen+1)), anp.CodeBadRequest, "to must name the recipient")
}

// The TTL cap must hold for every ts/exp pair, including ones whose
// difference overflows int64 nanoseconds or milliseconds.
func TestDecodeEnvelopeRefusesOverflowingTTL(t *testing.T) {
	const minInt64, maxInt64 = -1 << 63, 1<<63 - 1
	tests := []struct {
		name    string
		ts, exp int64
	}{
		// (exp-ts) * 1e6 wraps around int64 to a small positive duration.
		{"ns overflow 584 years", t0Ms, t0Ms + 18446744073710},
		{"ns overflow to negative", t0Ms, t0Ms + 10_000_000_000_000},
		{"ms overflow", minInt64, maxInt64},
		{"beyond 2^53", 1 << 53, 1<<53 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := signEnvelope(t, buyerKey, envelopeFields{Type: anp.TypePropose, Seq: 1, To: sellerDomain, TS: t0Ms, Nonce: fixedNonce(9), Body: proposeBody()})
			// Times beyond ±(2^53-1) cannot be signed (Canonical refuses
			// them); such an envelope still arrives with some signature.
			e.TS, e.Exp = tt.ts, tt.exp
			got, err := anp.DecodeEnvelope(mustJSON(t, e))
			if err == nil {
				later := time.UnixMilli(tt.ts).Add(100 * 365 * 24 * time.Hour)
				t.Fatalf("envelope with ts %d exp %d (TTL %d ms, cap %d ms) accepted; CheckTime 100 years later: %v",
					tt.ts, tt.exp, uint64(tt.exp-tt.ts), anp.MaxTTL.Milliseconds(), got.CheckTime(later))
			}
			wantCode(t, err, anp.CodeBadRequest, "ts")
			if err := e.VerifySignature(); err == nil {
				t.Fatal("VerifySignature accepted an envelope whose TTL is over the cap")
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	type small struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	tests := []struct {
		in      string
		want    small
		wantErr string
	}{
		{in: `{"a":1}`, want: small{A: 1}},
		{in: ` {"a":1,"b":"x"} `, want: small{A: 1, B: "x"}},
		{in: "{\"a\":1}\n", want: small{A: 1}},
		{in: `{"a":1,"c":2}`, wantErr: `unknown field "c"`},
		{in: `{"a":1}{"a":2}`, wantErr: "unexpected data after the JSON value"},
		{in: `{"a":1} 5`, wantErr: "unexpected data after the JSON value"},
		{in: `{"a":1}]`, wantErr: "unexpected data after the JSON value"},
		{in: `{"a":1}}`, wantErr: "unexpected data after the JSON value"},
		{in: `{"a":"1"}`, wantErr: "cannot unmarshal"},
		{in: `{"a":1`, wantErr: "unexpected EOF"},
		{in: ``, wantErr: "EOF"},
	}
	for _, tt := range tests {
		var got small
		err := anp.DecodeStrict([]byte(tt.in), &got)
		if tt.wantErr != "" {
			wantMessage(t, err, tt.wantErr)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DecodeStrict(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	n := buildNegotiation(t)
	if err := n.Propose.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	mutations := []struct {
		name string
		f    func(e *anp.Envelope)
		code anp.Code
		msg  string
	}{
		{"forged signature", func(e *anp.Envelope) { e.Sig = n.SellerCounter.Sig }, anp.CodeBadSignature, "envelope PROPOSE seq 1 from " + pub(buyerKey)[:12]},
		{"wrong from", func(e *anp.Envelope) { e.From = pub(sellerKey) }, anp.CodeBadSignature, "signature does not verify"},
		{"signed by stranger as buyer", func(e *anp.Envelope) { resign(t, strangerKey, e); e.From = pub(buyerKey) }, anp.CodeBadSignature, "does not verify"},
		{"changed body", func(e *anp.Envelope) { e.Body = []byte(`{"mode":"ANP/C","item":"x","quantity":1,"currency":"USD"}`) }, anp.CodeBadSignature, "does not verify"},
		{"changed to", func(e *anp.Envelope) { e.To = "other-shop.anp" }, anp.CodeBadSignature, "does not verify"},
		{"changed ts", func(e *anp.Envelope) { e.TS++ }, anp.CodeBadSignature, "does not verify"},
		{"changed exp", func(e *anp.Envelope) { e.Exp-- }, anp.CodeBadSignature, "does not verify"},
		{"changed nonce", func(e *anp.Envelope) { e.Nonce = fixedNonce(0x77) }, anp.CodeBadSignature, "does not verify"},
		{"changed session", func(e *anp.Envelope) { e.Session = strings.Repeat("ab", 16) }, anp.CodeBadSignature, "does not verify"},
		{"missing signature", func(e *anp.Envelope) { e.Sig = "" }, anp.CodeBadSignature, "signature must be 128 hex characters"},
		{"truncated signature", func(e *anp.Envelope) { e.Sig = e.Sig[:100] }, anp.CodeBadSignature, "signature must be 128 hex characters"},
		{"bad shape is checked first", func(e *anp.Envelope) { e.Type = "EXIT" }, anp.CodeUnknownType, "not part of the protocol"},
		{"signature for another purpose", func(e *anp.Envelope) {
			e.Sig = ""
			sig, _ := anp.Sign(buyerKey, anp.PurposeArtifactBuyer, e)
			e.Sig = sig
		}, anp.CodeBadSignature, "does not verify"},
	}
	for _, tt := range mutations {
		t.Run(tt.name, func(t *testing.T) {
			e := cloneEnvelope(n.Propose)
			tt.f(e)
			wantCode(t, e.VerifySignature(), tt.code, tt.msg)
		})
	}
	// The body is signed in canonical form: whitespace and key order in the
	// raw body do not change the signature (the hash is over JCS too).
	e := cloneEnvelope(n.BuyerCounter)
	e.Body = []byte(`{ "turn": 2, "price": { "currency": "USD", "amount": 8500 } }`)
	if err := e.VerifySignature(); err != nil {
		t.Fatalf("re-spaced body: %v", err)
	}
	if mustHash(t, e) != mustHash(t, n.BuyerCounter) {
		t.Fatal("re-spaced body changed the envelope hash")
	}
	// A body with a duplicate key has no canonical form and never verifies.
	e.Body = []byte(`{"turn":2,"turn":3,"price":{"currency":"USD","amount":8500}}`)
	wantCode(t, e.VerifySignature(), anp.CodeBadSignature, "canonicalise")
}

func TestCheckTime(t *testing.T) {
	e := buildNegotiation(t).Propose // ts t0+1s, exp t0+1s+5m
	ts, exp := time.UnixMilli(e.TS), time.UnixMilli(e.Exp)
	tests := []struct {
		name string
		now  time.Time
		msg  string
	}{
		{"at ts", ts, ""},
		{"just before exp", exp.Add(-time.Millisecond), ""},
		{"ts within clock skew", ts.Add(-anp.MaxClockSkew), ""},
		{"at exp", exp, "expired 0s ago"},
		{"after exp", exp.Add(90 * time.Second), "expired 1m30s ago"},
		{"future-dated", ts.Add(-anp.MaxClockSkew - time.Millisecond), "is dated 2m0.001s in the future"},
		{"zero time", time.Time{}, "in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.CheckTime(tt.now)
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, anp.CodeExpired, "envelope PROPOSE seq 1", tt.msg)
		})
	}
}

func TestDecodeBody(t *testing.T) {
	n := buildNegotiation(t)
	var p anp.ProposeBody
	if err := n.Propose.DecodeBody(&p); err != nil {
		t.Fatal(err)
	}
	if p.Item != itemName || p.Offer == nil || p.Offer.Amount != 8000 || p.Terms["shipping"] != "standard" {
		t.Fatalf("decoded body %+v", p)
	}
	tests := []struct {
		name string
		body string
		into any
		msg  string
	}{
		{"unknown field (a budget)", `{"mode":"ANP/C","item":"x","quantity":1,"currency":"USD","max_budget":9000}`, &anp.ProposeBody{}, `PROPOSE body: json: unknown field "max_budget"`},
		{"trailing data", `{"price":{"amount":1,"currency":"USD"},"turn":1} {}`, &anp.OfferBody{}, "unexpected data"},
		{"Validate is called", `{"mode":"ANP/C","item":"","quantity":1,"currency":"USD"}`, &anp.ProposeBody{}, "PROPOSE body: item is required"},
		{"wrong body type", `{"price":{"amount":1,"currency":"USD"},"turn":1}`, &anp.NoteBody{}, `unknown field "price"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cloneEnvelope(n.Propose)
			e.Body = json.RawMessage(tt.body)
			wantCode(t, e.DecodeBody(tt.into), anp.CodeBadRequest, tt.msg)
		})
	}
	// A value without Validate is decoded strictly and nothing else.
	var generic map[string]any
	if err := n.Accept.DecodeBody(&generic); err != nil || generic["turn"] != float64(2) {
		t.Fatalf("generic body = %v, %v", generic, err)
	}
}

func TestEnvelopeHash(t *testing.T) {
	e := buildNegotiation(t).Propose
	want, err := anp.Hash(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustHash(t, e); got != want || !anp.ValidHash(got) {
		t.Fatalf("Hash() = %s, want %s", got, want)
	}
	if got := anp.HashBytes(mustCanonical(t, e)); got != want {
		t.Fatalf("hash is not SHA-256 of the JCS bytes: %s", got)
	}
	// The signature is part of the hash: same content, other signature, other hash.
	c := cloneEnvelope(e)
	c.Sig = strings.Repeat("0", 128)
	if mustHash(t, c) == want {
		t.Fatal("hash ignores the signature")
	}
}
