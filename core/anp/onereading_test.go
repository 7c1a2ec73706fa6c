package anp_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestDecodeBodyEmptyMember: a body that carries an optional member with its
// empty value is signed as sent (the signature verifies) but refused when the
// body is decoded, naming the member; the same body without it, in any key
// order or white space, is accepted. A null in place of the member is
// refused first, as ErrNullMember.
func TestDecodeBodyEmptyMember(t *testing.T) {
	const price = `"price":{"amount":8500,"currency":"USD"}`
	const propose = `"mode":"ANP/C","item":"Skillet","quantity":1,"currency":"USD"`
	cases := []struct {
		name, body, path string
		typ              anp.MsgType
		v                any
		want             error // ErrEmptyMember when nil
	}{
		{"offer ok", `{` + price + `,"turn":2}`, "", anp.TypeCounter, &anp.OfferBody{}, nil},
		{"offer reordered with white space", `{ "turn" : 2 , ` + price + ` }`, "", anp.TypeCounter, &anp.OfferBody{}, nil},
		{"offer final false", `{` + price + `,"turn":2,"final":false}`, "body.final", anp.TypeCounter, &anp.OfferBody{}, nil},
		{"offer empty message", `{` + price + `,"turn":2,"message":""}`, "body.message", anp.TypeAccept, &anp.OfferBody{}, nil},
		{"note empty reason", `{"reason":"","message":"x"}`, "body.reason", anp.TypeCancel, &anp.NoteBody{}, nil},
		{"note empty", `{}`, "", anp.TypeCancel, &anp.NoteBody{}, nil},
		{"propose ok", `{` + propose + `,"terms":{"a":"b"}}`, "", anp.TypePropose, &anp.ProposeBody{}, nil},
		{"propose empty terms", `{` + propose + `,"terms":{}}`, "body.terms", anp.TypePropose, &anp.ProposeBody{}, nil},
		{"propose null offer", `{` + propose + `,"offer":null}`, "body.offer", anp.TypePropose, &anp.ProposeBody{}, anp.ErrNullMember},
		{"propose empty category", `{` + propose + `,"category":""}`, "body.category", anp.TypePropose, &anp.ProposeBody{}, nil},
		{"propose empty credential", `{` + propose + `,"credential":""}`, "body.credential", anp.TypePropose, &anp.ProposeBody{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := signEnvelope(t, buyerKey, envelopeFields{Type: tc.typ, Seq: 1, To: sellerDomain, TS: t0Ms, Nonce: fixedNonce(0x01), Body: json.RawMessage(tc.body)})
			if err := e.VerifySignature(); err != nil {
				t.Fatalf("signature: %v", err)
			}
			err := e.DecodeBody(tc.v)
			if tc.path == "" {
				if err != nil {
					t.Fatalf("DecodeBody: %v", err)
				}
				return
			}
			want := tc.want
			if want == nil {
				want = anp.ErrEmptyMember
			}
			if !errors.Is(err, want) {
				t.Fatalf("DecodeBody = %v, want %v", err, want)
			}
			wantCode(t, err, anp.CodeBadRequest, tc.path+": ")
		})
	}
}

// TestCommitBodyEmptySellerSig: the nested artifact of a COMMIT is held to
// the same rule.
func TestCommitBodyEmptySellerSig(t *testing.T) {
	fx := buildArtifact(t)
	a := &anp.Artifact{Terms: fx.Artifact.Terms, BuyerSig: fx.Artifact.BuyerSig}
	raw := strings.Replace(string(mustJSON(t, &anp.CommitBody{Artifact: a})), `"buyer_sig"`, `"seller_sig":"","buyer_sig"`, 1)
	e := signEnvelope(t, buyerKey, envelopeFields{Type: anp.TypeCommit, Seq: 5, Prev: strings.Repeat("ab", 32), To: sellerDomain, TS: t0Ms, Nonce: fixedNonce(0x05), Body: json.RawMessage(raw)})
	err := e.DecodeBody(&anp.CommitBody{})
	if !errors.Is(err, anp.ErrEmptyMember) {
		t.Fatalf("DecodeBody = %v, want ErrEmptyMember", err)
	}
	wantMessage(t, err, "body.artifact.seller_sig")
}

// TestArtifactEmptyTermsSigned: deal terms signed with "terms":{} are
// refused when decoded (ErrEmptyMember, naming the member); read leniently
// they do not verify either, because the verifier recomputes the signing
// input from the decoded terms, where an empty map is omitted.
func TestArtifactEmptyTermsSigned(t *testing.T) {
	fx := buildArtifact(t)
	d := fx.Artifact.Terms
	d.Terms = nil
	signed := strings.Replace(string(mustCanonical(t, &d)), `"session_id"`, `"terms":{},"session_id"`, 1)
	sig, err := anp.Sign(buyerKey, anp.PurposeArtifactBuyer, json.RawMessage(signed))
	if err != nil {
		t.Fatal(err)
	}
	var got anp.DealTerms
	err = anp.DecodeStrict([]byte(signed), &got)
	if !errors.Is(err, anp.ErrEmptyMember) {
		t.Fatalf("DecodeStrict = %v, want ErrEmptyMember", err)
	}
	wantCode(t, err, anp.CodeBadRequest, "terms: ")
	if err := json.Unmarshal([]byte(signed), &got); err != nil {
		t.Fatal(err)
	}
	a := &anp.Artifact{Terms: got, BuyerSig: sig}
	wantCode(t, a.VerifyBuyer(), anp.CodeBadSignature, "buyer signature")
	// The same terms signed without the member verify.
	if err := a.SignAsBuyer(buyerKey); err != nil {
		t.Fatal(err)
	}
	if err := a.VerifyBuyer(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyArtifactTreeHeadBeforeNotarized: a tree head dated before
// notarized_at cannot hold the artifact, even with a valid signature.
func TestVerifyArtifactTreeHeadBeforeNotarized(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delta int64
		ok    bool
	}{{"same instant", 0, true}, {"later", 1, true}, {"one ms before", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			fx := buildArtifact(t)
			a := cloneArtifact(t, fx.Artifact)
			th := &a.Receipt.TreeHead
			th.Timestamp = a.Registry.NotarizedAt + tc.delta
			if err := anp.SignTreeHead(th, anp.Signer(notaryKey)); err != nil {
				t.Fatal(err)
			}
			err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: fx.RootKey})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, anp.CodeBadSignature, "dated before the artifact was notarised")
		})
	}
}
