package anp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

type strictInner struct {
	Amount int64  `json:"amount"`
	Unit   string `json:"unit,omitempty"`
}

type strictBase struct {
	ID string `json:"id"`
}

type strictOuter struct {
	strictBase
	Price   strictInner            `json:"price"`
	Items   []strictInner          `json:"items,omitempty"`
	Tags    map[string]strictInner `json:"tags,omitempty"`
	Raw     json.RawMessage        `json:"raw,omitempty"`
	Score   float64                `json:"score,omitempty"`
	Ptr     *strictInner           `json:"ptr,omitempty"`
	Hidden  string                 `json:"-"`
	Untaged int                    `json:",omitempty"`
}

func TestDecodeStrictOneReading(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil: accepted
		path string
	}{
		{"plain", `{"id":"x","price":{"amount":1}}`, nil, ""},
		{"embedded field", `{"id":"x","price":{"amount":9007199254740991}}`, nil, ""},
		{"map keys are free-form", `{"price":{"amount":1},"tags":{"A":{"amount":1},"a":{"amount":2}}}`, nil, ""},
		{"float field takes a fraction", `{"price":{"amount":1},"score":0.5}`, nil, ""},
		{"untagged field by its Go name", `{"price":{"amount":1},"Untaged":3}`, nil, ""},
		{"escaped key is the same key", `{"price":{"\u0061mount":1}}`, nil, ""},
		{"duplicate top level", `{"price":{"amount":1},"price":{"amount":7800}}`, anp.ErrDuplicateKey, "price"},
		{"duplicate nested", `{"price":{"amount":1,"amount":7800}}`, anp.ErrDuplicateKey, "price.amount"},
		{"duplicate via escape", `{"price":{"amount":1,"\u0061mount":7800}}`, anp.ErrDuplicateKey, "price.amount"},
		{"duplicate in a map", `{"price":{"amount":1},"tags":{"a":{"amount":1},"a":{"amount":2}}}`, anp.ErrDuplicateKey, "tags.a"},
		{"duplicate in an array element", `{"price":{"amount":1},"items":[{"amount":1},{"amount":1,"amount":2}]}`, anp.ErrDuplicateKey, "items[1].amount"},
		{"duplicate inside raw", `{"price":{"amount":1},"raw":{"x":1,"x":2}}`, anp.ErrDuplicateKey, "raw.x"},
		{"duplicate embedded key", `{"id":"a","id":"b","price":{"amount":1}}`, anp.ErrDuplicateKey, "id"},
		{"case variant", `{"Price":{"amount":1}}`, anp.ErrKeyCase, "Price"},
		{"case variant beside the real key", `{"price":{"amount":1},"PRICE":{"amount":7800}}`, anp.ErrKeyCase, "PRICE"},
		{"case variant nested", `{"price":{"Amount":1}}`, anp.ErrKeyCase, "price.Amount"},
		{"case variant of embedded", `{"ID":"x","price":{"amount":1}}`, anp.ErrKeyCase, "ID"},
		{"case variant through a pointer", `{"price":{"amount":1},"ptr":{"AMOUNT":1}}`, anp.ErrKeyCase, "ptr.AMOUNT"},
		{"2^53", `{"price":{"amount":9007199254740992}}`, anp.ErrIntegerRange, "price.amount"},
		{"-(2^53)", `{"price":{"amount":-9007199254740992}}`, anp.ErrIntegerRange, "price.amount"},
		{"2^60+1", `{"price":{"amount":1152921504606846977}}`, anp.ErrIntegerRange, "price.amount"},
		{"huge", `{"price":{"amount":100000000000000000000000}}`, anp.ErrIntegerRange, "price.amount"},
		{"huge in raw", `{"price":{"amount":1},"raw":[9007199254740992]}`, anp.ErrIntegerRange, "raw[0]"},
		{"huge float", `{"price":{"amount":1},"score":1e300}`, anp.ErrIntegerRange, "score"},
		{"fraction for an integer", `{"price":{"amount":1.5}}`, anp.ErrNotInteger, "price.amount"},
		{"zero fraction for an integer", `{"price":{"amount":1.0}}`, anp.ErrNotInteger, "price.amount"},
		{"exponent for an integer", `{"price":{"amount":1e3}}`, anp.ErrNotInteger, "price.amount"},
		{"null member", `{"price":{"amount":null}}`, anp.ErrNullMember, "price.amount"},
		{"null optional member", `{"price":{"amount":1},"ptr":null}`, anp.ErrNullMember, "ptr"},
		{"null struct", `{"price":null}`, anp.ErrNullMember, "price"},
		{"null in a list", `{"price":{"amount":1},"items":[{"amount":1},null]}`, anp.ErrNullMember, "items[1]"},
		{"null list", `{"price":{"amount":1},"items":null}`, anp.ErrNullMember, "items"},
		{"null map value", `{"price":{"amount":1},"tags":{"a":null}}`, anp.ErrNullMember, "tags.a"},
		{"null inside raw", `{"price":{"amount":1},"raw":[1,{"x":null}]}`, anp.ErrNullMember, "raw[1].x"},
		{"null unknown member", `{"price":{"amount":1},"x":null}`, anp.ErrNullMember, "x"},
		{"null top level", `null`, anp.ErrNullMember, ""},
		{"the string null", `{"id":"null","price":{"amount":1}}`, nil, ""},
		{"trailing value", `{"price":{"amount":1}} {}`, anp.ErrTrailingData, ""},
		{"deep nesting", strings.Repeat("[", 10002) + strings.Repeat("]", 10002), anp.ErrNestingDepth, ""},
		{"invalid UTF-8 in a raw member", "{\"price\":{\"amount\":1},\"raw\":{\"x\":\"\xf0\"}}", anp.ErrInvalidUTF8, ""},
		{"invalid UTF-8 in a string", "{\"id\":\"\xff\",\"price\":{\"amount\":1}}", anp.ErrInvalidUTF8, ""},
		{"valid UTF-8", "{\"id\":\"caf\u00e9 \xe2\x82\xac\",\"price\":{\"amount\":1}}", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v strictOuter
			err := anp.DecodeStrict([]byte(tt.in), &v)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if anp.CodeOf(err) != anp.CodeBadRequest {
				t.Fatalf("code %q, want bad_request", anp.CodeOf(err))
			}
			if de := (*anp.DecodeError)(nil); !errors.As(err, &de) || de.Path != tt.path {
				t.Fatalf("error %v, want path %q", err, tt.path)
			}
		})
	}
}

// The named failure survives anp.Errorf wrapping (as DecodeEnvelope does).
func TestDecodeErrorThroughErrorf(t *testing.T) {
	err := anp.DecodeStrict([]byte(`{"a":1,"a":2}`), &map[string]int{})
	wrapped := anp.Errorf(anp.CodeBadRequest, "envelope: %v", err)
	if !errors.Is(wrapped, anp.ErrDuplicateKey) || !strings.Contains(wrapped.Error(), `a: duplicate key: "a"`) {
		t.Fatalf("%v", wrapped)
	}
}

func TestCheckNoDuplicateKeys(t *testing.T) {
	for in, want := range map[string]error{
		`{"max_budget":1,"Max_Budget":2}`:    nil,
		`{"max_budget":null,"a":[null]}`:     nil, // null is the schema's to refuse
		`{"a":[{"b":1e400}]}`:                nil,
		`{"max_budget":1,"max_budget":1000}`: anp.ErrDuplicateKey,
		`{"a":{"b":{"c":1,"c":2}}}`:          anp.ErrDuplicateKey,
	} {
		if err := anp.CheckNoDuplicateKeys([]byte(in)); !errors.Is(err, want) && (want != nil || err != nil) {
			t.Errorf("%s: %v, want %v", in, err, want)
		}
	}
}

// FuzzDecodeStrictOneReading: the strict decoder never panics, and whatever it
// accepts has one reading: canonicalising the value and decoding that
// again gives the same value.
func FuzzDecodeStrictOneReading(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","price":{"amount":1}}`, `{"price":{"amount":9007199254740991},"tags":{"a":{"amount":-1}}}`,
		`{"price":{"amount":1,"amount":2}}`, `{"Price":{"amount":1}}`, `{"price":{"amount":1e3}}`,
		`{"price":{"amount":1},"raw":[1,{"x":null}],"score":0.25,"items":[{"amount":3,"unit":"kg"}]}`,
		`{"ptr":{"amount":9007199254740992}}`, `[`, `{"a":`, `{"price":{"amount":1}} 1`,
		`{"price":{"amount":null}}`, `{"price":{"amount":1},"items":[null]}`, `null`, `{"id":"null","price":{"amount":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v strictOuter
		if err := anp.DecodeStrict(data, &v); err != nil {
			if anp.CodeOf(err) != anp.CodeBadRequest {
				t.Fatalf("error without bad_request: %v", err)
			}
			return
		}
		if hasNull(data) {
			t.Fatalf("accepted %q, which holds a null", data)
		}
		c, err := anp.Canonical(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot canonicalise it: %v", data, err)
		}
		var w strictOuter
		if err := anp.DecodeStrict(c, &w); err != nil {
			t.Fatalf("canonical form %s of accepted %q is refused: %v", c, data, err)
		}
		again, err := anp.Canonical(w)
		if err != nil || !bytes.Equal(c, again) {
			t.Fatalf("accepted %q: canonical %s, then %s (%v)", data, c, again, err)
		}
	})
}

// hasNull reports whether the JSON data holds a null token (read with the
// standard decoder, independently of the strict scan).
func hasNull(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if tok == nil {
			return true
		}
	}
}

// TestStrictPassBeyondItsRoom: the fast scan keeps room for a few levels
// of nesting, keys and path steps; deeper nesting and more keys grow past
// it and are read as well: a duplicate deep down or after many keys is
// still found, with its path, and a good text still passes.
func TestStrictPassBeyondItsRoom(t *testing.T) {
	deep := func(inner string) []byte {
		return []byte(strings.Repeat(`{"k":[`, 20) + inner + strings.Repeat(`]}`, 20))
	}
	var keys strings.Builder
	for i := range 40 {
		fmt.Fprintf(&keys, `"m%d":%d,`, i, i)
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		wantPath string // "" for no error
	}{
		{"deep, good", deep(`{"a":1,"b":2}`), ""},
		{"deep, duplicate", deep(`{"a":1,"a":2}`), "k[0]" + strings.Repeat(".k[0]", 19) + ".a"},
		{"many keys, good", []byte(`{` + keys.String() + `"z":1}`), ""},
		{"many keys, duplicate", []byte(`{` + keys.String() + `"m3":1}`), "m3"},
		{"many keys inside deep", deep(`{` + keys.String() + `"m39":0}`), "k[0]" + strings.Repeat(".k[0]", 19) + ".m39"},
	} {
		err := anp.CheckNoDuplicateKeys(tc.data)
		var de *anp.DecodeError
		switch {
		case tc.wantPath == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantPath != "" && (!errors.As(err, &de) || de.Path != tc.wantPath):
			t.Errorf("%s: got %v, want a DecodeError at %s", tc.name, err, tc.wantPath)
		}
	}
}
