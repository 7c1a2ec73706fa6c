package anp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestDecodeStrictEmptyMember: the signed objects outside envelope bodies —
// deal terms, artifacts, endpoint records — are refused at decode time with
// ErrEmptyMember, naming the member, when they carry a member of the "omitted
// when empty" table with its empty value; without the member they decode.
// Objects outside the table (a WebSocket frame) keep accepting empty members.
// A null in place of the member is refused first, as ErrNullMember.
func TestDecodeStrictEmptyMember(t *testing.T) {
	fx := buildArtifact(t)
	art := string(mustCanonical(t, fx.Artifact))
	rec, err := anp.SignRecord(endpointRecord(), anp.Signer(sellerKey))
	if err != nil {
		t.Fatal(err)
	}
	recJSON := string(mustCanonical(t, rec))
	bare := &anp.Artifact{Terms: fx.Artifact.Terms, BuyerSig: fx.Artifact.BuyerSig}
	bareJSON := string(mustCanonical(t, bare))
	edit := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, tc := range []struct {
		name, data, path string
		v                any
		want             error // ErrEmptyMember when nil
	}{
		{"artifact", art, "", &anp.Artifact{}, nil},
		{"artifact, empty terms", edit(art, `"terms":{"shipping":"standard"}`, `"terms":{}`), "deal.terms", &anp.Artifact{}, nil},
		{"artifact, null terms", edit(art, `"terms":{"shipping":"standard"}`, `"terms":null`), "deal.terms", &anp.Artifact{}, anp.ErrNullMember},
		{"artifact, empty seller_sig", edit(bareJSON, `"buyer_sig"`, `"seller_sig":"","buyer_sig"`), "seller_sig", &anp.Artifact{}, nil},
		{"artifact, null registry", edit(bareJSON, `"buyer_sig"`, `"registry":null,"buyer_sig"`), "registry", &anp.Artifact{}, anp.ErrNullMember},
		{"artifact, empty receipt object", edit(bareJSON, `"buyer_sig"`, `"receipt":{},"buyer_sig"`), "receipt", &anp.Artifact{}, nil},
		{"artifact without the optional members", bareJSON, "", &anp.Artifact{}, nil},
		{"deal terms, empty terms", edit(string(mustCanonical(t, fx.Artifact.Terms)), `"terms":{"shipping":"standard"}`, `"terms":{}`), "terms", &anp.DealTerms{}, nil},
		{"record", recJSON, "", &anp.SignedRecord{}, nil},
		{"record, empty capabilities", edit(recJSON, `"capabilities":["async"]`, `"capabilities":[]`), "record.capabilities", &anp.SignedRecord{}, nil},
		{"record, empty display_name", edit(recJSON, `"display_name":"Kitchen Outlet"`, `"display_name":""`), "record.display_name", &anp.SignedRecord{}, nil},
		{"record, empty enc_key", edit(recJSON, `"enc_key":"`+strings.Repeat("ab", 32)+`"`, `"enc_key":""`), "record.enc_key", &anp.SignedRecord{}, nil},
		{"record, demo false", edit(recJSON, `"domain"`, `"demo":false,"domain"`), "record.demo", &anp.SignedRecord{}, nil},
		{"record, required empty list is not optional", edit(recJSON, `"categories":["kitchen","cookware"]`, `"categories":[]`), "", &anp.SignedRecord{}, nil},
		{"WebSocket frame (not in the table)", `{"type":"ACK","id":"","message":""}`, "", &anp.WSFrame{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := anp.DecodeStrict([]byte(tc.data), tc.v)
			if tc.path == "" {
				if err != nil {
					t.Fatalf("DecodeStrict: %v", err)
				}
				return
			}
			want := tc.want
			if want == nil {
				want = anp.ErrEmptyMember
			}
			if !errors.Is(err, want) {
				t.Fatalf("DecodeStrict = %v, want %v", err, want)
			}
			var de *anp.DecodeError
			if !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("DecodeStrict = %v, want the path %s", err, tc.path)
			}
			wantCode(t, err, anp.CodeBadRequest, tc.path+": ")
		})
	}
	// The verifier's answer for such an artifact names the member, not a
	// signature, whichever way the signer put it in.
	var a anp.Artifact
	err = anp.DecodeStrict([]byte(edit(art, `"terms":{"shipping":"standard"}`, `"terms":{}`)), &a)
	if anp.CodeOf(err) != anp.CodeBadRequest || !strings.Contains(err.Error(), "deal.terms") {
		t.Fatalf("empty terms: %v", err)
	}
}

// FuzzDecodeOneForm: whatever strict decoding accepts as an artifact or an
// endpoint record is read in full — every member of the input is in the
// decoded value, re-encoded, with the same canonical value — so no member
// the signed form drops can give the bytes a second reading. (Missing
// required members decode as zero values and fail verification; inputs with
// invalid UTF-8 are left out: encoding/json replaces those bytes before
// anything is signed. A null, which encoding/json reads as its member's zero
// value, is refused: an accepted input holds none.)
func FuzzDecodeOneForm(f *testing.F) {
	fx := buildArtifact(f)
	art := string(mustCanonical(f, fx.Artifact))
	rec, err := anp.SignRecord(endpointRecord(), anp.Signer(sellerKey))
	if err != nil {
		f.Fatal(err)
	}
	recJSON := string(mustCanonical(f, rec))
	for _, s := range []string{
		art, recJSON,
		strings.Replace(art, `"terms":{"shipping":"standard"}`, `"terms":{}`, 1),
		strings.Replace(recJSON, `"capabilities":["async"]`, `"capabilities":[]`, 1),
		`{"deal":{"terms":null},"buyer_sig":"","seller_sig":""}`, `{"record":{"demo":false},"sig":""}`,
		`{"record":{"demo":null},"sig":""}`, `{"registry":{"key_index":null},"buyer_sig":""}`,
		`{"deal":{"quantity":0,"price":{"amount":0}},"registry":{"key_index":0}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		for _, v := range []any{&anp.Artifact{}, &anp.SignedRecord{}} {
			if anp.DecodeStrict(data, v) != nil {
				continue
			}
			raw, err := anp.Canonical(json.RawMessage(data))
			if err != nil {
				t.Fatalf("accepted %q, which has no canonical form: %v", data, err)
			}
			decoded, err := anp.Canonical(v)
			if err != nil {
				t.Fatalf("accepted %q but cannot canonicalise the value: %v", data, err)
			}
			var in, out any
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(decoded, &out); err != nil {
				t.Fatal(err)
			}
			if !readInFull(in, out) {
				t.Fatalf("accepted %q: canonical input %s, canonical value %s", data, raw, decoded)
			}
		}
	})
}

// readInFull reports whether every member of in is in out with the same
// value (out may have more members: the zero values of missing ones). A
// null in the input would read as the zero value of its member's type, so
// it fails here unless the decoded value holds null there too.
func readInFull(in, out any) bool {
	switch iv := in.(type) {
	case map[string]any:
		ov, ok := out.(map[string]any)
		if !ok {
			return false
		}
		for k, x := range iv {
			y, ok := ov[k]
			if !ok || !readInFull(x, y) {
				return false
			}
		}
		return true
	case []any:
		ov, ok := out.([]any)
		if !ok || len(ov) != len(iv) {
			return false
		}
		for i := range iv {
			if !readInFull(iv[i], ov[i]) {
				return false
			}
		}
		return true
	}
	a, _ := json.Marshal(in)
	b, _ := json.Marshal(out)
	return bytes.Equal(a, b)
}
