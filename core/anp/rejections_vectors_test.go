package anp_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

type rejectionCase struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // artifact, envelope, token, record
	Expect string `json:"expect"`
	Path   string `json:"path"`
	Note   string `json:"note,omitempty"`
	Data   string `json:"data,omitempty"` // may hold bytes that are not UTF-8 until written
}

// rejectionFileCase is a case as rejections.json holds it: an input that is
// not UTF-8, which no JSON string can carry, is written as data_hex (its
// bytes in lower-case hex) and data is empty.
type rejectionFileCase struct {
	rejectionCase
	DataHex string `json:"data_hex,omitempty"`
}

// fileCase moves an input that is not UTF-8 to data_hex.
func fileCase(c rejectionCase) rejectionFileCase {
	if utf8.ValidString(c.Data) {
		return rejectionFileCase{rejectionCase: c}
	}
	h := hex.EncodeToString([]byte(c.Data))
	c.Data = ""
	return rejectionFileCase{rejectionCase: c, DataHex: h}
}

// input is the case's exact bytes.
func (c rejectionFileCase) input(tb testing.TB) []byte {
	tb.Helper()
	if c.DataHex == "" {
		return []byte(c.Data)
	}
	b, err := hex.DecodeString(c.DataHex)
	if err != nil {
		tb.Fatalf("%s: data_hex: %v", c.Name, err)
	}
	return b
}

// rejectionVectors is testdata/anp/rejections.json: inputs every verifier
// must refuse, each with the named failure and the offending member's path.
type rejectionVectors struct {
	Description string              `json:"description"`
	ExpectNames map[string]string   `json:"expect_names"`
	Cases       []rejectionFileCase `json:"cases"`
}

// addRejectionVectors derives rejections.json from the valid artifact,
// PROPOSE envelope and token vectors: each case is one of them (in JCS
// form) with one change.
func addRejectionVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	field := func(file, name string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(files[file], &m); err != nil {
			tb.Fatal(err)
		}
		return string(mustCanonical(tb, m[name]))
	}
	art := field("artifact.json", "artifact")
	env := field("envelope_propose.json", "signed")
	var recVector struct{ Signed json.RawMessage }
	if err := json.Unmarshal([]byte(field("records.json", "endpoint_record")), &recVector); err != nil {
		tb.Fatal(err)
	}
	rec := string(mustCanonical(tb, recVector.Signed))
	var artVector struct {
		SellerSig string `json:"seller_sig"`
	}
	if err := json.Unmarshal([]byte(art), &artVector); err != nil {
		tb.Fatal(err)
	}
	sellerSig := artVector.SellerSig
	var token string
	if err := json.Unmarshal([]byte(field("token.json", "token")), &token); err != nil {
		tb.Fatal(err)
	}
	payload64, sig, _ := strings.Cut(token, ".")
	payloadBytes, err := base64.RawURLEncoding.DecodeString(payload64)
	if err != nil {
		tb.Fatal(err)
	}
	payload := string(payloadBytes)
	edit := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			tb.Fatalf("rejection vectors: %q not found", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	tok := func(p string) string { return base64.RawURLEncoding.EncodeToString([]byte(p)) + "." + sig }
	zeros := func(n int) string { return strings.Repeat("0", n) }
	cases := []rejectionCase{
		{"artifact duplicate key, top level", "artifact", "duplicate_key", "buyer_sig",
			"the second buyer_sig is the signed one: a last-wins reader verifies it",
			edit(art, `{"buyer_sig":`, `{"buyer_sig":"`+zeros(128)+`","buyer_sig":`)},
		{"artifact duplicate key, nested", "artifact", "duplicate_key", "deal.price.amount",
			"a first-wins reader shows a price of 0.01, a last-wins reader verifies 85.00",
			edit(art, `"price":{"amount":8500`, `"price":{"amount":1,"amount":8500`)},
		{"artifact duplicate key in a map", "artifact", "duplicate_key", "deal.terms.shipping",
			"terms is free-form, but its keys are still unique",
			edit(art, `"terms":{"shipping":"standard"}`, `"terms":{"shipping":"express","shipping":"standard"}`)},
		{"artifact case-variant key: Item", "artifact", "key_case", "deal.Item",
			"encoding/json matches Item to item; the value, and so the signature, is unchanged",
			edit(art, `"item":`, `"Item":`)},
		{"artifact case-variant key: PRICE beside price", "artifact", "key_case", "deal.PRICE",
			"an exact reader shows price 0.01; a case-insensitive last-wins reader verifies the signed 85.00",
			edit(art, `"price":{"amount":8500,"currency":"USD"}`, `"price":{"amount":1,"currency":"USD"},"PRICE":{"amount":8500,"currency":"USD"}`)},
		{"artifact integer 2^53", "artifact", "integer_range", "deal.quantity",
			"2^53 is outside ±(2^53-1)", edit(art, `"quantity":1`, `"quantity":9007199254740992`)},
		{"artifact integer -(2^53)", "artifact", "integer_range", "deal.agreed_at",
			"-(2^53) is outside ±(2^53-1)", edit(art, `"agreed_at":1735689604000`, `"agreed_at":-9007199254740992`)},
		{"artifact integer 2^60+1", "artifact", "integer_range", "deal.transcript_len",
			"2^60 and 2^60+1 have one JCS form, so they would share a signature",
			edit(art, `"transcript_len":4`, `"transcript_len":1152921504606846977`)},
		{"artifact fraction for an integer", "artifact", "not_integer", "deal.price.amount",
			"amounts are integers of minor units", edit(art, `"amount":8500`, `"amount":8500.5`)},
		{"artifact exponent for an integer", "artifact", "not_integer", "deal.price.amount",
			"JCS writes 8.5e3 as 8500, so it would verify; integers are written as integers", edit(art, `"amount":8500`, `"amount":8.5e3`)},
		{"envelope duplicate key, top level", "envelope", "duplicate_key", "nonce", "",
			edit(env, `"nonce":`, `"nonce":"02020202020202020202020202020202","nonce":`)},
		{"envelope duplicate key in the body", "envelope", "duplicate_key", "body.offer.amount", "",
			edit(env, `"offer":{"amount":8000`, `"offer":{"amount":1,"amount":8000`)},
		{"envelope case-variant key", "envelope", "key_case", "TS", "",
			edit(env, `"ts":`, `"TS":`)},
		{"envelope integer 2^53", "envelope", "integer_range", "ts", "",
			edit(env, `"ts":1735689601000`, `"ts":9007199254740992`)},
		{"envelope integer -(2^53)", "envelope", "integer_range", "exp", "",
			edit(env, `"exp":1735689901000`, `"exp":-9007199254740992`)},
		{"envelope integer 2^60+1 in the body", "envelope", "integer_range", "body.offer.amount", "",
			edit(env, `"amount":8000`, `"amount":1152921504606846977`)},
		{"envelope fraction for an integer", "envelope", "not_integer", "seq", "",
			edit(env, `"seq":1`, `"seq":1.0`)},
		{"envelope body with an empty terms map", "envelope", "empty_member", "body.terms",
			"re-signed: the signature verifies over the body as sent, and the body is refused when decoded",
			resignedPropose(tb, `"terms":{"shipping":"standard"}`, `"terms":{}`)},
		{"artifact with an empty terms map", "artifact", "empty_member", "deal.terms",
			"terms is omitted when empty (a signer that signs \"terms\":{} makes an artifact every verifier refuses); refused when decoded, before any signature",
			edit(art, `"terms":{"shipping":"standard"}`, `"terms":{}`)},
		{"artifact with an empty seller_sig", "artifact", "empty_member", "seller_sig",
			"an artifact without the seller's signature omits seller_sig", edit(art, `"seller_sig":"`+sellerSig+`"`, `"seller_sig":""`)},
		{"record with an empty capabilities list", "record", "empty_member", "record.capabilities",
			"an endpoint record omits capabilities when empty; refused when decoded, before the signature",
			edit(rec, `"capabilities":["async"]`, `"capabilities":[]`)},
		{"record with demo false", "record", "empty_member", "record.demo",
			"demo is omitted when false", edit(rec, `"domain":`, `"demo":false,"domain":`)},
		{"artifact null key_index of the countersignature", "artifact", "null_member", "registry.key_index",
			"a reader that takes null as 0 verifies the countersignature: null is refused wherever it appears",
			edit(art, `"key_index":0,"notarized_at"`, `"key_index":null,"notarized_at"`)},
		{"artifact null key_index of the tree head", "artifact", "null_member", "receipt.tree_head.key_index",
			"a reader that takes null as 0 verifies the tree head", edit(art, `"key_index":0,"root_hash"`, `"key_index":null,"root_hash"`)},
		{"artifact null index of a key chain entry", "artifact", "null_member", "receipt.key_chain[0].index",
			"a reader that takes null as 0 verifies the key chain", edit(art, `"key_chain":[{"index":0,`, `"key_chain":[{"index":null,`)},
		{"artifact null element of the inclusion proof", "artifact", "null_member", "receipt.inclusion[0]",
			"null inside a list is refused too", edit(art, `"inclusion":[`, `"inclusion":[null,`)},
		{"artifact that is null", "artifact", "null_member", "",
			"encoding/json reads a top-level null as an empty artifact", "null"},
		{"envelope null prev", "envelope", "null_member", "prev",
			"the first envelope's prev is \"\": a reader that takes null as \"\" verifies the signature", edit(env, `"prev":""`, `"prev":null`)},
		{"envelope body with a null offer", "envelope", "null_member", "body.offer",
			"re-signed: the signature verifies over the body as sent; the envelope is refused when decoded", resignedPropose(tb, `"offer":{"amount":8000,"currency":"USD"}`, `"offer":null`)},
		{"record with demo null", "record", "null_member", "record.demo",
			"a reader that takes null as absent verifies the signature", edit(rec, `"domain":`, `"demo":null,"domain":`)},
		{"token null kid", "token", "null_member", "kid",
			"with the original signature: a reader that takes null as 0 verifies it", tok(edit(payload, `"kid":0`, `"kid":null`))},
		{"token case-variant key: Sub", "token", "key_case", "Sub",
			"with the original signature: encoding/json reads Sub as sub", tok(edit(payload, `"sub":`, `"Sub":`))},
		{"token duplicate key", "token", "duplicate_key", "sub", "",
			tok(edit(payload, `"sub":`, `"sub":"`+zeros(64)+`","sub":`))},
		{"token integer 2^53", "token", "integer_range", "exp", "",
			tok(edit(payload, `"exp":1735690500000`, `"exp":9007199254740992`))},
		{"artifact with a byte that is not UTF-8 in the item", "artifact", "invalid_utf8", "",
			"encoding/json reads the byte as U+FFFD, so different bytes would have one reading; refused before anything else",
			edit(art, `"item":"`, "\"item\":\"\xf0")},
		{"envelope with a byte that is not UTF-8 in the body", "envelope", "invalid_utf8", "",
			"a raw body keeps the byte, which has no canonical form: refused before the signature is checked",
			edit(env, `"item":"`, "\"item\":\"\xff")},
		{"record with a byte that is not UTF-8 in the domain", "record", "invalid_utf8", "", "",
			edit(rec, `"domain":"`, "\"domain\":\"\xc3")},
		{"token with a byte that is not UTF-8 in the payload", "token", "invalid_utf8", "",
			"the token is base64url; its decoded payload is not UTF-8", tok(edit(payload, `"sub":"`, "\"sub\":\"\xf0"))},
	}
	fileCases := make([]rejectionFileCase, len(cases))
	for i, c := range cases {
		fileCases[i] = fileCase(c)
	}
	files["rejections.json"] = encodeVector(tb, rejectionVectors{
		Description: "Inputs every verifier MUST refuse, each with its named failure (expect) and the path of the offending member. " +
			"data is the exact input: the JSON text of an artifact, envelope or signed endpoint record, or a token string; each is a valid vector with one change. " +
			"An input that is not UTF-8 cannot be a JSON string: it is given as data_hex, its bytes in lower-case hex, and data is absent.",
		ExpectNames: map[string]string{"duplicate_key": "anp.ErrDuplicateKey", "key_case": "anp.ErrKeyCase",
			"integer_range": "anp.ErrIntegerRange", "not_integer": "anp.ErrNotInteger", "empty_member": "anp.ErrEmptyMember",
			"null_member": "anp.ErrNullMember", "invalid_utf8": "anp.ErrInvalidUTF8"},
		Cases: fileCases,
	})
}

// resignedPropose is the vector PROPOSE with one edit of its body, signed
// again by the buyer session key, in JCS form.
func resignedPropose(tb testing.TB, old, new string) string {
	tb.Helper()
	body := string(mustCanonical(tb, proposeBody()))
	if !strings.Contains(body, old) {
		tb.Fatalf("rejection vectors: %q not in the PROPOSE body", old)
	}
	e := signEnvelope(tb, buyerKey, envelopeFields{Type: anp.TypePropose, Seq: 1, To: sellerDomain, TS: t0Ms + 1000, Nonce: fixedNonce(0x01),
		Body: json.RawMessage(strings.Replace(body, old, new, 1))})
	return string(mustCanonical(tb, e))
}
