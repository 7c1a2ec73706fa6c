package anp_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// sameEnvelopeSigningInput: the signing input written from the envelope,
// leaving its signature out, equals the one of its unsigned copy, bytes
// and error, and the envelope is left as it was.
func sameEnvelopeSigningInput(t *testing.T, e anp.Envelope) {
	t.Helper()
	before := e
	before.Body = bytes.Clone(e.Body)
	got, errGot := anp.EnvelopeSigningInput(&e)
	u := e
	u.Sig = ""
	want, errWant := anp.SigningInput(anp.PurposeEnvelope, &u)
	if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Error() != errWant.Error() {
		t.Fatalf("errors differ for %+v: %v, unsigned copy %v", e, errGot, errWant)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("signing inputs differ for %+v:\n%s\nunsigned copy:\n%s", e, got, want)
	}
	if e.Sig != before.Sig || !bytes.Equal(e.Body, before.Body) {
		t.Fatalf("the envelope changed: %+v", e)
	}
}

var unsignedEnvelopeBodies = []string{`{"b":1,"a":"\u00e9"}`, `{"x":1.5}`, `{"n":9007199254740992}`, `not json`, ``, `null`, `[1,{"d":2,"c":3}]`}

func TestEnvelopeSigningInputLeavesOutTheSignature(t *testing.T) {
	for _, body := range unsignedEnvelopeBodies {
		for _, sig := range []string{"", "ab", "\x7f\"\\"} {
			e := anp.Envelope{V: 1, Type: anp.MsgType("offer"), Session: "s\u2028", Seq: 3, Prev: "p", From: "f", To: "t", TS: -5, Exp: anp.MaxSafeInteger, Nonce: "n", Sig: sig}
			if body != "" {
				e.Body = json.RawMessage(body)
			}
			sameEnvelopeSigningInput(t, e)
		}
	}
	for _, e := range []anp.Envelope{{TS: anp.MaxSafeInteger + 1}, {Seq: 1 << 60, Sig: "x"}, {Type: "\xff"}} {
		sameEnvelopeSigningInput(t, e)
	}
	e := anp.Envelope{V: 1, Body: json.RawMessage(`{"a":1}`), Sig: "s"}
	got, err := anp.EnvelopeSigningInput(&e)
	if err != nil || bytes.Contains(got, []byte(`"sig"`)) {
		t.Fatalf("signing input %s (%v) holds the signature", got, err)
	}
}

// FuzzEnvelopeSigningInput: for any members and body, the signing input
// written from the envelope is that of its unsigned copy.
func FuzzEnvelopeSigningInput(f *testing.F) {
	for i, body := range unsignedEnvelopeBodies {
		f.Add("s", "x", int64(i), uint64(i), body)
	}
	f.Fuzz(func(t *testing.T, text, sig string, n int64, seq uint64, body string) {
		sameEnvelopeSigningInput(t, anp.Envelope{V: int(n), Type: anp.MsgType(text), Session: text, Seq: seq, Prev: text, From: sig, To: text,
			TS: n, Exp: -n, Nonce: text, Body: json.RawMessage(body), Sig: sig})
	})
}
