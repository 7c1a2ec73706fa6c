package anp_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// escapeHeavyStrings are JSON string literals whose escapes encoding/json
// reads in particular ways: surrogate pairs, lone and reversed surrogates
// (U+FFFD), upper- and lower-case hex, every one-character escape.
var escapeHeavyStrings = []string{
	`"plain"`,
	`""`,
	`"\u00e9t\u00C9"`,
	`"\ud83d\ude00"`,
	`"\uD83D\uDE00x"`,
	`"\ud800"`,
	`"\udc00"`,
	`"\udc00\ud800"`,
	`"\ud800\ud800\udc00"`,
	`"\ud800\u0041"`,
	`"\ud800\n"`,
	`"a\ud800"`,
	`"\ud800x\udc00"`,
	`"\/\b\f\n\r\t\"\\"`,
	`"\u0000\u001f"`,
	`"é€😀"`,
	`"\\u0041"`,
	`"x\\"`,
}

// envelopeWith is a well-formed envelope JSON whose string members are s.
func envelopeWith(s string) []byte {
	return []byte(`{"v":1,"type":` + s + `,"session":` + s + `,"seq":2,"prev":` + s + `,"from":` + s +
		`,"to":` + s + `,"ts":-5,"exp":9007199254740991,"nonce":` + s + `,"body":{"a":[1,` + s + `]},"sig":` + s + `}`)
}

// decodeBothWays decodes data into a copy of start by DecodeStrict and by
// the encoding/json reference, and fails when the verdicts, the errors or
// the values differ.
func decodeBothWays(t *testing.T, data []byte, start anp.Envelope) anp.Envelope {
	t.Helper()
	return decodeBothWaysInto(t, data, func() anp.Envelope {
		e := start
		e.Body = append(json.RawMessage(nil), start.Body...)
		return e
	})
}

// decodeBothWaysInto is decodeBothWays for any type, with fresh making
// each of the two values to decode into.
func decodeBothWaysInto[T any](t *testing.T, data []byte, fresh func() T) T {
	t.Helper()
	fast, ref := fresh(), fresh()
	errFast := anp.DecodeStrict(data, &fast)
	errRef := anp.DecodeStrictUnmarshal(data, &ref)
	if (errFast == nil) != (errRef == nil) || errFast != nil && errFast.Error() != errRef.Error() {
		t.Fatalf("verdicts differ on %q: fast path %v, encoding/json %v", data, errFast, errRef)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("values differ on %q:\nfast path     %#v\nencoding/json %#v", data, fast, ref)
	}
	return fast
}

// relayAnswers decodes data as a relay's answer into a zero one and into
// one that holds an envelope already.
func relayAnswers(t *testing.T, data []byte) anp.RelayResponse {
	t.Helper()
	decodeBothWaysInto(t, data, func() anp.RelayResponse {
		return anp.RelayResponse{Reply: &anp.Envelope{V: 3, Nonce: "kept", Body: json.RawMessage(`{"x":1}`)}, Pending: true}
	})
	return decodeBothWaysInto(t, data, func() anp.RelayResponse { return anp.RelayResponse{} })
}

func TestEnvelopeFastDecodeEscapes(t *testing.T) {
	for _, s := range escapeHeavyStrings {
		data := envelopeWith(s)
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		var e anp.Envelope
		if !anp.DecodeEnvelopeFast(data, &e) {
			t.Fatalf("fast path declined %s", data)
		}
		if e.Session != want || e.Sig != want || string(e.Type) != want || e.Nonce != want {
			t.Fatalf("%s: read %q, encoding/json reads %q", s, e.Session, want)
		}
		decodeBothWays(t, data, anp.Envelope{})
	}
}

func TestEnvelopeFastDecodeBodyIsExactBytes(t *testing.T) {
	body := `{ "a" : [ 1 , "x\"}]" , {"b":"\u007d"} ] , "c":true }`
	data := []byte("\n{ \"v\" : 1 ,\t\"body\" :  " + body + "  , \"seq\":0 }\r\n")
	var e anp.Envelope
	if !anp.DecodeEnvelopeFast(data, &e) {
		t.Fatalf("fast path declined %s", data)
	}
	if string(e.Body) != body {
		t.Fatalf("body %q, want %q", e.Body, body)
	}
	for _, scalar := range []string{`"s"`, `12`, `-0.5`, `true`, `[]`, `{}`} {
		got := decodeBothWays(t, []byte(`{"body":`+scalar+`}`), anp.Envelope{})
		if string(got.Body) != scalar {
			t.Fatalf("body %q, want %q", got.Body, scalar)
		}
	}
}

// A value that is already filled keeps the members the JSON does not
// name, and its body's backing array is reused, as encoding/json does.
func TestEnvelopeFastDecodeIntoFilledValue(t *testing.T) {
	start := anp.Envelope{V: 7, Session: "kept", Seq: 3, Body: json.RawMessage(`{"old":"body, longer than the new one"}`), Sig: "old"}
	got := decodeBothWays(t, []byte(`{"seq":4,"body":{}}`), start)
	if got.Session != "kept" || got.V != 7 || got.Seq != 4 || string(got.Body) != "{}" || got.Sig != "old" {
		t.Fatalf("decoded into a filled value: %#v", got)
	}
}

// What the fast path is not sure of goes to encoding/json, whose verdict
// and error stand.
func TestEnvelopeFastDecodeDeclines(t *testing.T) {
	for _, data := range []string{
		`{"v":"1"}`,
		`{"seq":-1}`,
		`{"seq":-0}`,
		`{"session":5}`,
		`{"type":true}`,
		`{"sig":{}}`,
		`{"\u0076":1}`,
		`{"v":1,"extra":2}`,
		`{"V":1}`,
		`[]`,
		`"x"`,
	} {
		var e anp.Envelope
		if anp.DecodeEnvelopeFast([]byte(data), &e) {
			t.Fatalf("fast path read %s", data)
		}
		if !reflect.DeepEqual(e, anp.Envelope{}) {
			t.Fatalf("a declined read changed the value: %#v", e)
		}
		decodeBothWays(t, []byte(data), anp.Envelope{})
	}
}

func TestEnvelopeFastDecodeReadsTheVectors(t *testing.T) {
	for _, m := range anp.MsgTypes {
		var v sigVector
		readVector(t, "envelope_"+strings.ToLower(string(m))+".json", &v)
		data := []byte(v.Signed)
		var e anp.Envelope
		if !anp.DecodeEnvelopeFast(data, &e) {
			t.Fatalf("fast path declined the %s vector", m)
		}
		if got := decodeBothWays(t, data, anp.Envelope{}); !reflect.DeepEqual(got, e) {
			t.Fatalf("%s vector: %#v, want %#v", m, e, got)
		}
		if err := e.VerifySignature(); err != nil {
			t.Fatalf("%s vector read by the fast path: %v", m, err)
		}
	}
}

func TestRelayResponseFastDecode(t *testing.T) {
	var v sigVector
	readVector(t, "envelope_counter.json", &v)
	for _, s := range escapeHeavyStrings {
		env := envelopeWith(s)
		got := relayAnswers(t, []byte(`{"reply":`+string(env)+`}`))
		want := decodeBothWays(t, env, anp.Envelope{})
		if got.Reply == nil || !reflect.DeepEqual(*got.Reply, want) || got.Pending {
			t.Fatalf("relay answer with %s: %#v", s, got)
		}
	}
	for _, data := range []string{
		`{"reply":` + string(v.Signed) + `}`,
		`{ "pending" : true , "reply" : ` + string(v.Signed) + ` }`,
		`{"pending":false}`,
		`{"pending":true}`,
		`{}`,
		`{"reply":{"seq":-1}}`,
		`{"reply":{"v":"1"},"pending":true}`,
		`{"reply":"x"}`,
		`{"reply":[]}`,
		`{"pending":1}`,
		`{"pending":"true"}`,
		`{"Pending":true}`,
		`{"pending":truex}`,
	} {
		relayAnswers(t, []byte(data))
	}
	var r anp.RelayResponse
	if !anp.DecodeRelayResponseFast([]byte(`{"pending":true,"reply":`+string(v.Signed)+`}`), &r) || !r.Pending || r.Reply == nil {
		t.Fatalf("fast path declined a relay answer with the COUNTER vector: %#v", r)
	}
	r = anp.RelayResponse{}
	if err := anp.DecodeStrict([]byte(`{"reply":`+string(v.Signed)+`}`), &r); err != nil || r.Reply.VerifySignature() != nil {
		t.Fatalf("relay answer with the COUNTER vector: %v", err)
	}
}

// FuzzEnvelopeFastDecode: DecodeStrict with the envelope fast path and
// with encoding/json alone give the same verdict, error and value, for an
// envelope and for a relay's answer.
func FuzzEnvelopeFastDecode(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s)
		f.Add(bytes.Replace(s, []byte(`"seq":`), []byte(`"seq":-`), 1))
		f.Add(bytes.Replace(s, []byte(`"nonce":"`), []byte(`"nonce":"\ud800\u00e9`), 1))
	}
	for _, s := range escapeHeavyStrings {
		f.Add(envelopeWith(s))
	}
	f.Add([]byte(`{"body":"\ud83d\ude00","v":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBothWays(t, data, anp.Envelope{})
		decodeBothWays(t, data, anp.Envelope{V: 2, Session: "s", Body: json.RawMessage(`[1,2,3]`)})
		relayAnswers(t, data)
		wrapped := append(append([]byte(`{"pending":false,"reply":`), data...), '}')
		relayAnswers(t, wrapped)
	})
}
