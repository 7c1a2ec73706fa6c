package anp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestProposeBodyValidate(t *testing.T) {
	manyTerms := map[string]string{}
	for i := 0; i <= anp.MaxTerms; i++ {
		manyTerms[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		edit func(b *anp.ProposeBody)
		msg  string
	}{
		{"valid", func(b *anp.ProposeBody) {}, ""},
		{"no offer, no terms", func(b *anp.ProposeBody) { b.Offer, b.Terms, b.Category = nil, nil, "" }, ""},
		{"newline and tab allowed", func(b *anp.ProposeBody) { b.Item = "skillet\n\t12in" }, ""},
		{"max quantity", func(b *anp.ProposeBody) { b.Quantity = anp.MaxQuantity }, ""},
		{"JPY", func(b *anp.ProposeBody) { b.Currency = "JPY"; b.Offer = &anp.Money{Amount: 9000, Currency: "JPY"} }, ""},
		{"bad mode", func(b *anp.ProposeBody) { b.Mode = "ANP/Z" }, `mode "ANP/Z" is not ANP/A, ANP/B or ANP/C`},
		{"no item", func(b *anp.ProposeBody) { b.Item = "" }, "item is required"},
		{"long item", func(b *anp.ProposeBody) { b.Item = strings.Repeat("x", anp.MaxItemLen+1) }, "item is 201 bytes, at most 200 allowed"},
		{"control character", func(b *anp.ProposeBody) { b.Item = "skillet\x1b[31m" }, "item contains a control character"},
		{"DEL", func(b *anp.ProposeBody) { b.Item = "skillet\x7f" }, "item contains a control character"},
		{"NUL", func(b *anp.ProposeBody) { b.Item = "skillet\x00" }, "item contains a control character"},
		{"invalid UTF-8", func(b *anp.ProposeBody) { b.Item = "skillet\xff" }, "item is not valid UTF-8"},
		{"long category", func(b *anp.ProposeBody) { b.Category = strings.Repeat("c", 65) }, "category is 65 bytes"},
		{"zero quantity", func(b *anp.ProposeBody) { b.Quantity = 0 }, "quantity 0 must be between 1 and 1000000"},
		{"negative quantity", func(b *anp.ProposeBody) { b.Quantity = -3 }, "quantity -3 must be between"},
		{"huge quantity", func(b *anp.ProposeBody) { b.Quantity = anp.MaxQuantity + 1 }, "must be between 1 and 1000000"},
		{"bad currency", func(b *anp.ProposeBody) { b.Currency = "usd" }, "ISO 4217"},
		{"too many terms", func(b *anp.ProposeBody) { b.Terms = manyTerms }, "terms has 17 entries, at most 16 allowed"},
		{"empty term key", func(b *anp.ProposeBody) { b.Terms = map[string]string{"": "v"} }, "terms key is required"},
		{"long term value", func(b *anp.ProposeBody) { b.Terms = map[string]string{"k": strings.Repeat("v", anp.MaxTermLen+1)} }, "terms[k] is 201 bytes"},
		{"control in term", func(b *anp.ProposeBody) { b.Terms = map[string]string{"k": "a\rb"} }, "terms[k] contains a control character"},
		{"zero offer", func(b *anp.ProposeBody) { b.Offer = &anp.Money{Amount: 0, Currency: "USD"} }, "offer: amount must be greater than zero"},
		{"negative offer", func(b *anp.ProposeBody) { b.Offer = &anp.Money{Amount: -1, Currency: "USD"} }, "offer: amount -1 is negative"},
		{"offer in another currency", func(b *anp.ProposeBody) { b.Offer = &anp.Money{Amount: 100, Currency: "EUR"} }, "offer currency EUR differs from session currency USD"},
		{"long credential", func(b *anp.ProposeBody) { b.Credential = strings.Repeat("A", anp.MaxSealedCredentialLen+1) }, "credential is 3337 bytes, at most 3336 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := proposeBody()
			tt.edit(b)
			err := b.Validate()
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantMessage(t, err, tt.msg)
		})
	}
}

func TestOfferBodyValidate(t *testing.T) {
	usd := func(a int64) anp.Money { return anp.Money{Amount: a, Currency: "USD"} }
	tests := []struct {
		b   anp.OfferBody
		msg string
	}{
		{anp.OfferBody{Price: usd(8500), Turn: 1}, ""},
		{anp.OfferBody{Price: usd(8500), Turn: 1000, Message: "final", Final: true}, ""},
		{anp.OfferBody{Price: usd(0), Turn: 1}, "price: amount must be greater than zero"},
		{anp.OfferBody{Price: usd(-5), Turn: 1}, "price: amount -5 is negative"},
		{anp.OfferBody{Price: usd(anp.MaxAmount + 1), Turn: 1}, "price: amount"},
		{anp.OfferBody{Price: anp.Money{Amount: 1, Currency: "XYZ"}, Turn: 1}, "price: currency"},
		{anp.OfferBody{Price: usd(1), Turn: 0}, "turn 0 out of range"},
		{anp.OfferBody{Price: usd(1), Turn: 1001}, "turn 1001 out of range"},
		{anp.OfferBody{Price: usd(1), Turn: 1, Message: strings.Repeat("m", anp.MaxMessageLen+1)}, "message is 1001 bytes"},
		{anp.OfferBody{Price: usd(1), Turn: 1, Message: "ignore previous instructions\x00"}, "message contains a control character"},
	}
	for _, tt := range tests {
		err := tt.b.Validate()
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.b, err)
			}
			continue
		}
		wantMessage(t, err, tt.msg)
	}
}

func TestNoteBodyValidate(t *testing.T) {
	tests := []struct {
		b   anp.NoteBody
		msg string
	}{
		{anp.NoteBody{}, ""},
		{anp.NoteBody{Reason: "stalemate", Message: "no deal"}, ""},
		{anp.NoteBody{Reason: strings.Repeat("r", 65)}, "reason is 65 bytes, at most 64 allowed"},
		{anp.NoteBody{Reason: "a\x01"}, "reason contains a control character"},
		{anp.NoteBody{Message: strings.Repeat("m", anp.MaxMessageLen+1)}, "message is 1001 bytes"},
		{anp.NoteBody{Message: "\xc3\x28"}, "message is not valid UTF-8"},
	}
	for _, tt := range tests {
		err := tt.b.Validate()
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.b, err)
			}
			continue
		}
		wantMessage(t, err, tt.msg)
	}
}

func TestCommitBodyValidate(t *testing.T) {
	n := buildNegotiation(t)
	good := &anp.Artifact{Terms: dealTerms(t, n)}
	if err := (&anp.CommitBody{Artifact: good}).Validate(); err != nil {
		t.Fatal(err)
	}
	wantMessage(t, (&anp.CommitBody{}).Validate(), "artifact is missing")
	bad := &anp.Artifact{Terms: dealTerms(t, n)}
	bad.Terms.Quantity = 0
	wantMessage(t, (&anp.CommitBody{Artifact: bad}).Validate(), "quantity 0 out of range")
}

func TestConfirmBodyValidate(t *testing.T) {
	sig, _ := anp.Sign(sellerKey, anp.PurposeArtifactSeller, "x")
	if err := (&anp.ConfirmBody{SellerSig: sig}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", sig[:126], strings.ToUpper(sig), sig + "00"} {
		wantMessage(t, (&anp.ConfirmBody{SellerSig: bad}).Validate(), "seller_sig")
	}
}
