package anp

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// Types whose decoding the strict pre-pass may or may not vouch for: a
// plain struct, an embedded one, two fields of one name (encoding/json
// drops both), a name encoding/json reads otherwise than written, an
// interface that holds a struct, and structs inside maps and lists.
type (
	knownInner struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	knownEmbedded struct {
		knownInner
		C int `json:"c"`
	}
	knownClash struct {
		X int `json:"Y"`
		Y int
	}
	knownOddName struct {
		X int `json:"é"`
	}
	knownAny struct {
		V any `json:"v"`
	}
	knownNested struct {
		M map[string]knownInner `json:"m"`
		L []knownInner          `json:"l"`
		P *knownInner           `json:"p"`
	}
)

var knownTargets = []func() any{
	func() any { return new(knownInner) },
	func() any { return new(knownEmbedded) },
	func() any { return new(knownClash) },
	func() any { return new(knownOddName) },
	func() any { return &knownAny{V: &knownInner{}} },
	func() any { return new(knownNested) },
	func() any { return new(Envelope) },
	func() any { return new(ProposeBody) },
}

// FuzzDecodeStrictKnownFields holds DecodeStrict's decode without a
// json.Decoder (json.Unmarshal, taken when the pre-pass found every member's
// field) to the decoder that refuses unknown fields: the same value and the
// same error on everything the pre-pass accepts.
func FuzzDecodeStrictKnownFields(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}`, `{"a":1,"z":2}`, `{"a":"x"}`, `{"c":1,"a":2}`, `{"Y":1}`, `{"é":1}`, `{"v":{"a":1,"z":1}}`,
		`{"v":{"a":1}}`, `{"m":{"k":{"a":1,"q":1}},"l":[{"a":2}],"p":{"a":3}}`, `{"l":[{"b":"y","a":"1"}]}`,
		` {"a":1} `, `{"p":{"zz":1}}`, `{"A":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newV := range knownTargets {
			got, want := newV(), newV()
			if !utf8.Valid(data) || CheckStrict(data, reflect.TypeOf(got)) != nil {
				continue
			}
			gotErr := DecodeStrict(data, got)
			wantErr := decodeRefusingUnknown(data, want)
			if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Fatalf("%T %q: DecodeStrict %v, decoder refusing unknown fields %v", got, data, gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%T %q: DecodeStrict read %+v, the decoder %+v", got, data, got, want)
			}
		}
	})
}

// TestDecodeStrictUnknownFieldPaths: an unknown member is refused with
// encoding/json's message wherever it is, and the pre-pass vouches only
// for inputs without one.
func TestDecodeStrictUnknownFieldPaths(t *testing.T) {
	for _, tc := range []struct {
		data      string
		v         any
		wantKnown bool
	}{
		{`{"a":1}`, new(knownInner), true},
		{`{"a":1,"z":1}`, new(knownInner), false},
		{`{"p":{"a":1,"z":1}}`, new(knownNested), false},
		{`{"l":[{"z":1}]}`, new(knownNested), false},
		{`{"m":{"k":{"a":1}}}`, new(knownNested), true},
		{`{"a":1}`, new(knownEmbedded), false},
		{`{"Y":1}`, new(knownClash), false},
		{`{"v":{"a":1}}`, &knownAny{V: &knownInner{}}, false},
	} {
		known, err := strictPass([]byte(tc.data), reflect.TypeOf(tc.v), false)
		if err != nil || known != tc.wantKnown {
			t.Errorf("%T %s: known %v, %v; want %v", tc.v, tc.data, known, err, tc.wantKnown)
		}
		derr := DecodeStrict([]byte(tc.data), tc.v)
		if rerr := decodeRefusingUnknown([]byte(tc.data), reflect.New(reflect.TypeOf(tc.v).Elem()).Interface()); (derr == nil) != (rerr == nil) {
			t.Errorf("%T %s: DecodeStrict %v, decoder %v", tc.v, tc.data, derr, rerr)
		}
	}
}
