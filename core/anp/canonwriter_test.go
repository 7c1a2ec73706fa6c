package anp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// sameAsReference requires Canonical(v) to give the reference path's bytes
// and error.
func sameAsReference(t testing.TB, name string, v any) {
	t.Helper()
	got, gotErr := anp.Canonical(v)
	want, wantErr := anp.CanonicalReference(v)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%s: error %v, reference %v", name, gotErr, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\ntyped     %q\nreference %q", name, got, want)
	}
}

// canonEdge is a struct with every kind the typed writer handles.
type canonEdge struct {
	S      string            `json:"s"`
	Opt    string            `json:"opt,omitempty"`
	N      int64             `json:"n"`
	U      uint64            `json:"u,omitempty"`
	B      bool              `json:"b"`
	M      map[string]string `json:"m,omitempty"`
	L      []string          `json:"l"`
	P      *anp.Money        `json:"p,omitempty"`
	Raw    json.RawMessage   `json:"raw,omitempty"`
	Any    any               `json:"any"`
	Skip   string            `json:"-"`
	NoTag  int
	hidden int
	Émoji  string `json:"\U0001F600,omitempty"`
	Priv   string `json:"\uE000,omitempty"`
}

// edgeStrings are strings whose escaping RFC 8785 fixes.
var edgeStrings = []string{
	"", "plain", "quote\" back\\slash", "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<>&", "\u2028\u2029",
	"é", "\U0001F600", "\uE000", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "/", "\uFFFD", "mixed \x1e é \U0001D11E \"",
}

// edgeRaw are raw JSON texts: some canonical, some not, some the typed
// writer leaves to the reference path, some invalid.
var edgeRaw = []string{
	`{}`, `[]`, `null`, `true`, `{"b":1,"a":[1,2,{"d":null,"c":"x"}]}`, ` { "a" : 1 } `,
	`"\u00e9\n\/\u0041\ud83d\ude00"`, `{"\ue000":1,"\ud83d\ude00":2,"z":3}`, `-0`, `0`, `-1`, `1.5`, `1e3`,
	`9007199254740991`, `9007199254740992`, `-9007199254740991`, `01`, `{"a":1,"a":2}`, `"\ud800"`,
	`"\u0000\u001f"`, `[1,]`, `{"a":1} x`, `"unterminated`, `{"a"}`, `[[[[[]]]]]`, `"\x7f"`,
	// objects side by side at one depth and nested under arrays (the raw
	// reader reuses its buffers between them), escaped and duplicate names.
	`{"b":{"y":1,"x":{"q":[{"z":1,"a":2},{"k":{"q":1,"p":2}}]}},"a":{"d":2,"c":{"n":"\u00e9"}}}`,
	`[{"b":1,"a":2},{"d":3,"c":4},{"f":{"h":5,"g":6},"e":7}]`, `{"\u0062":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"x":{"a":1},"y":{"a":1,"a":2}}`,
	// out of order after an ordered start (read again from the brace),
	// duplicates in order, and an error met only after the disorder.
	`{"a":1,"c":{"f":1,"e":[{"h":1,"g":2}]},"b":2}`, `{"a":{"y":1,"x":2},"a":3}`, `{"a":1,"b":[1,{"d":1,"c":2}],"b":0}`,
	`{"a":1,"b":2,"b":3}`, `{"b":1,"a":2,"c":}`, `{"b":1,"a":2,"c":1.5}`, `{"a":1,"b":{"d":1,"c":"\u00e9"},"a\u0000":{}}`,
}

func edgeValues() []any {
	vals := []any{nil, 0, -1, anp.MaxSafeInteger, -anp.MaxSafeInteger, int64(anp.MaxSafeInteger + 1), uint64(1 << 60), 1.5, true, []byte("bytes"), [2]int{1, 2}}
	for _, s := range edgeStrings {
		vals = append(vals, s, map[string]string{s: "v", "k": s}, canonEdge{S: s, Opt: s, L: []string{s}, M: map[string]string{s: s}})
	}
	for _, r := range edgeRaw {
		vals = append(vals, json.RawMessage(r), canonEdge{Raw: json.RawMessage(r)})
	}
	vals = append(vals,
		canonEdge{hidden: 1}, &canonEdge{L: []string{}, M: map[string]string{}, P: &anp.Money{Amount: 5, Currency: "USD"}, Any: map[string]any{"x": []any{1, "y", nil}}},
		canonEdge{Any: 2.5}, canonEdge{Any: struct{ A, a int }{1, 2}}, canonEdge{N: -anp.MaxSafeInteger - 1},
		map[int]string{1: "a"}, map[string]any{"n": json.Number("12"), "f": json.Number("1.50")}, map[string]any{"\U0001F600": 1, "\uE000": 2, "\uFFFF": 3, "a": 4},
		struct {
			canonEdge
			X int `json:"x"`
		}{X: 1}, // embedded: the reference path
		struct {
			A int `json:"a,string"`
		}{A: 3},
	)
	return vals
}

// TestCanonicalWriterMatchesReference: the typed writer gives the reference
// path's bytes (RFC 8785 of the marshalled JSON) and errors for edge values:
// escapes, invalid UTF-8, UTF-16 member order, integer limits, omitempty,
// raw JSON in and out of canonical form, and the kinds it leaves to the
// reference path.
func TestCanonicalWriterMatchesReference(t *testing.T) {
	for i, v := range edgeValues() {
		sameAsReference(t, "edge value "+string(rune('A'+i%26)), v)
	}
}

// TestCanonicalWriterTakesProtocolTypes: the protocol's signed values are
// written by the typed writer, never by the reference path, and with the
// reference's bytes.
func TestCanonicalWriterTakesProtocolTypes(t *testing.T) {
	f := buildArtifact(t)
	vals := map[string]any{"artifact": f.Artifact, "terms": &f.Artifact.Terms, "receipt": f.Artifact.Receipt}
	for i, e := range f.Negotiation.envelopes() {
		vals["envelope "+string(rune('1'+i))] = e
	}
	for i, k := range f.Chain {
		vals["key entry "+string(rune('0'+i))] = k
	}
	for name, v := range vals {
		if _, err := anp.CanonicalTyped(v); err != nil {
			t.Errorf("%s: typed writer: %v", name, err)
		}
		sameAsReference(t, name, v)
	}
}

// TestCanonicalWriterRandom compares the two paths over seeded random
// values of canonEdge.
func TestCanonicalWriterRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	for i := 0; i < 3000; i++ {
		sameAsReference(t, "random", randomEdge(rng))
	}
}

func randomString(rng *rand.Rand) string {
	var sb strings.Builder
	for n := rng.IntN(8); n > 0; n-- {
		switch rng.IntN(5) {
		case 0:
			sb.WriteByte(byte(rng.IntN(0x80)))
		case 1:
			sb.WriteByte(byte(0x80 + rng.IntN(0x80))) // often invalid UTF-8
		case 2:
			sb.WriteRune(rune(0x80 + rng.IntN(0x10000-0x80)))
		case 3:
			sb.WriteRune(rune(0x10000 + rng.IntN(0x100000)))
		default:
			sb.WriteString(edgeStrings[rng.IntN(len(edgeStrings))])
		}
	}
	return sb.String()
}

func randomEdge(rng *rand.Rand) canonEdge {
	e := canonEdge{S: randomString(rng), N: rng.Int64N(2*anp.MaxSafeInteger+3) - anp.MaxSafeInteger - 1, B: rng.IntN(2) == 0}
	if rng.IntN(2) == 0 {
		e.Opt = randomString(rng)
		e.U = rng.Uint64N(anp.MaxSafeInteger + 2)
	}
	if rng.IntN(2) == 0 {
		e.M = map[string]string{}
		for n := rng.IntN(4); n > 0; n-- {
			e.M[randomString(rng)] = randomString(rng)
		}
	}
	for n := rng.IntN(3); n > 0; n-- {
		e.L = append(e.L, randomString(rng))
	}
	if rng.IntN(2) == 0 {
		raw, _ := json.Marshal(map[string]any{randomString(rng): []any{randomString(rng), rng.Int64N(1000)}, "k": randomString(rng)})
		e.Raw = raw
	}
	if rng.IntN(3) == 0 {
		e.Any = map[string]any{randomString(rng): rng.IntN(5) == 0}
	}
	return e
}

// FuzzCanonicalWriter: for any strings, integers and raw JSON, the typed
// writer and the reference path agree on bytes and errors.
func FuzzCanonicalWriter(f *testing.F) {
	for i, s := range edgeStrings {
		f.Add(s, int64(i), edgeRaw[i%len(edgeRaw)])
	}
	f.Add("x", int64(anp.MaxSafeInteger+1), `{"a":1.0}`)
	f.Fuzz(func(t *testing.T, s string, n int64, raw string) {
		sameAsReference(t, "fuzz", canonEdge{S: s, Opt: s, N: n, M: map[string]string{s: s, "k": "v"}, L: []string{s}, Raw: json.RawMessage(raw)})
		if utf8.ValidString(raw) || len(raw) < 200 {
			sameAsReference(t, "fuzz raw", json.RawMessage(raw))
		}
		if _, err := anp.CanonicalTyped(json.RawMessage(raw)); err != nil && !errors.Is(err, anp.ErrSlowPath) {
			t.Fatalf("typed writer failed with %v, not the slow-path signal", err)
		}
	})
}

// TestCanonicalRawInOrderAllocatesNothing: raw JSON whose objects are in
// JCS order already is written into a buffer with room without a single
// allocation (no list of members per object); one out of order is still
// reordered.
func TestCanonicalRawInOrderAllocatesNothing(t *testing.T) {
	raw := []byte(`{"a":{"b":[{"c":1,"d":"x"},{"e":true}],"f":{}},"g":{"h":null}}`)
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		out, err := anp.AppendCanonicalRaw(buf[:0], raw)
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("got %s, %v", out, err)
		}
	})
	if allocs != 0 {
		t.Errorf("raw JSON in order: %v allocations, want 0", allocs)
	}
	out, err := anp.AppendCanonicalRaw(buf[:0], []byte(`{"g":1,"a":{"c":2,"b":3}}`))
	if err != nil || string(out) != `{"a":{"b":3,"c":2},"g":1}` {
		t.Errorf("raw JSON out of order: got %s, %v", out, err)
	}
}
