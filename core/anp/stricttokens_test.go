package anp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
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
	// opaque tokens: empty and zero members of one-form bodies, integers out
	// of range or fractional where an integer goes, duplicates past manyKeys.
	`{"price":{"amount":0,"currency":"USD"},"turn":1,"message":""}`, `{"price":{"amount":-0,"currency":"USD"},"turn":0}`,
	`{"price":{"amount":9007199254740993,"currency":"USD"},"turn":1}`, `{"price":{"amount":1.5,"currency":"USD"},"turn":1e0}`,
	`{"v":1,"seq":-9007199254740991,"ts":0,"type":"","session":"s","Seq":2}`, `{"v":1,"seq":1,"v":2}`,
	manyMembers(40, "k3"), manyMembers(40, "k39"), manyMembers(40, ""), `{"a":{"a":1},"b":{"a":1,"a":2}}`,
}

// manyMembers is an object of n members k0..k(n-1), and one more named dup
// (none when dup is empty).
func manyMembers(n int, dup string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `%q:"again",`, dup)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
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

// TestStrictDuplicateKeys: a repeated key is refused at its path whether the
// object is small (keys compared) or large (keys in a map), and in nested
// objects each object's keys are its own.
func TestStrictDuplicateKeys(t *testing.T) {
	cases := []struct {
		in, path string // path "": accepted
	}{
		{manyMembers(40, ""), ""},
		{manyMembers(40, "k3"), "k3"},
		{manyMembers(40, "k39"), "k39"},
		{manyMembers(20, "k0"), "k0"},
		{`{"a":{"a":1},"b":{"a":1}}`, ""},
		{`{"a":{"a":1},"b":{"a":1,"a":2}}`, "b.a"},
		{`{"a":1,"b":[{"a":1},{"b":2,"a":3}],"c":3}`, ""},
		{`{"a":1,"b":[{"a":1},{"b":2,"b":3}]}`, "b[1].b"},
	}
	for _, c := range cases {
		for name, check := range map[string]func([]byte, reflect.Type) error{"fast": anp.CheckStrict, "json.Decoder": anp.CheckStrictDecoder} {
			err := check([]byte(c.in), nil)
			var de *anp.DecodeError
			switch {
			case c.path == "" && err != nil:
				t.Errorf("%s %.40q: %v", name, c.in, err)
			case c.path != "" && (!errors.Is(err, anp.ErrDuplicateKey) || !errors.As(err, &de) || de.Path != c.path):
				t.Errorf("%s %.40q: got %v, want a duplicate key at %s", name, c.in, err, c.path)
			}
		}
	}
}
