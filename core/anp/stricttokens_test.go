package anp_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// sameTokens: whatever the fast tokenizer reads to the end without an
// error, json.Decoder reads to the same tokens and accepts; the strict
// pre-pass gives the same verdict either way.
func sameTokens(t *testing.T, data []byte) {
	t.Helper()
	fast, err := anp.FastTokenStream(data)
	if err != nil {
		return // the pre-pass scans again with json.Decoder
	}
	slow, serr := anp.DecoderTokenStream(data)
	if serr != nil {
		t.Fatalf("%q: fast tokens %v, json.Decoder fails: %v", data, fast, serr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\nfast    %#v\ndecoder %#v", data, fast, slow)
	}
}

var tokenInputs = []string{
	`{}`, `[]`, `{"a":1,"b":[true,false,null,"x"],"c":{"d":-0.5e+3}}`, ` [ 1 , 2 ] `, `"s"`, `0`, `-0`, `1.0`, `1e5`, `1E-5`,
	`{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a":1 "b":2}`, `01`, `1.`, `.5`, `-`, `1e`, `1x`, `truex`, `nul`, `[1]]`, `{}}`, `{} {}`,
	`{"a":"\u00e9"}`, `{"\u0061":1}`, "\"\x01\"", "\"\xff\"", `"é"`, `[[[[]]]]`, `{"a":{"b":{"c":[]}}}`, `[1 2]`, `{1:2}`, `{"a":}`,
	`"unterminated`, `[`, `{"a":[1,{"b":null}]}`, `  `, ``, `null`, `[true,false]`, `{"a":true}x`,
}

func TestFastTokensMatchDecoder(t *testing.T) {
	for _, in := range tokenInputs {
		sameTokens(t, []byte(in))
		for _, typ := range []reflect.Type{nil, reflect.TypeFor[anp.OfferBody](), reflect.TypeFor[anp.Envelope]()} {
			fastErr := anp.CheckStrict([]byte(in), typ)
			slowErr := anp.CheckStrictDecoder([]byte(in), typ)
			if (fastErr == nil) != (slowErr == nil) || fastErr != nil && fastErr.Error() != slowErr.Error() {
				t.Errorf("%q as %v: CheckStrict %v, with json.Decoder %v", in, typ, fastErr, slowErr)
			}
		}
	}
}

// FuzzStrictTokens: the fast tokenizer never accepts what json.Decoder
// refuses nor reads other tokens, and CheckStrict's verdict and error are
// those of the json.Decoder pass.
func FuzzStrictTokens(f *testing.F) {
	for _, in := range tokenInputs {
		f.Add([]byte(in))
	}
	env, _ := json.Marshal(buildNegotiation(f).Propose)
	f.Add(env)
	f.Fuzz(func(t *testing.T, data []byte) {
		sameTokens(t, data)
		for _, typ := range []reflect.Type{nil, reflect.TypeFor[anp.Envelope]()} {
			fastErr := anp.CheckStrict(data, typ)
			slowErr := anp.CheckStrictDecoder(data, typ)
			if (fastErr == nil) != (slowErr == nil) || fastErr != nil && fastErr.Error() != slowErr.Error() {
				t.Fatalf("%q as %v: CheckStrict %v, with json.Decoder %v", data, typ, fastErr, slowErr)
			}
		}
	})
}
