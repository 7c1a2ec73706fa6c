package anp_test

import (
	"reflect"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// flatSample has every kind of member the flat fast path reads.
type flatSample struct {
	Name  string            `json:"name"`
	Mode  anp.Mode          `json:"mode,omitempty"`
	Small int8              `json:"small"`
	Port  uint16            `json:"port"`
	Count uint64            `json:"count"`
	On    bool              `json:"on"`
	Price anp.Money         `json:"price"`
	Offer *anp.Money        `json:"offer,omitempty"`
	Inner *flatInner        `json:"inner,omitempty"`
	Skip  string            `json:"-"`
	Note  anp.NoteBody      `json:"note"`
	Terms map[string]string `json:"terms,omitempty"`
	Tags  flatTags          `json:"tags"`
}

// flatTags is a map of named strings, read through reflect.
type flatTags map[anp.Mode]anp.Mode

type flatInner struct {
	Deep *anp.Money `json:"deep"`
	N    int32      `json:"n"`
}

// flatSamples decodes data into each flat type both ways, into zero values
// and into filled ones.
func flatSamples(t *testing.T, data []byte) {
	t.Helper()
	decodeBothWaysInto(t, data, func() flatSample { return flatSample{} })
	decodeBothWaysInto(t, data, func() flatSample {
		return flatSample{Name: "kept", Small: 3, Offer: &anp.Money{Amount: 9, Currency: "EUR"}, Inner: &flatInner{N: 4}, Skip: "s",
			Terms: map[string]string{"kept": "k", "a": "old"}, Tags: flatTags{"x": "y"}}
	})
	decodeBothWaysInto(t, data, func() anp.ProposeBody { return anp.ProposeBody{} })
	decodeBothWaysInto(t, data, func() anp.ProposeBody { return anp.ProposeBody{Terms: map[string]string{"a": "old"}, Item: "kept"} })
	decodeBothWaysInto(t, data, func() anp.OfferBody { return anp.OfferBody{} })
	decodeBothWaysInto(t, data, func() anp.OfferBody { return anp.OfferBody{Message: "kept", Final: true} })
	decodeBothWaysInto(t, data, func() anp.ConfirmBody { return anp.ConfirmBody{} })
	decodeBothWaysInto(t, data, func() anp.Money { return anp.Money{} })
}

var flatSeeds = []string{
	`{"name":"a\u00e9\ud83d\ude00\ud800","mode":"B","small":-128,"port":65535,"count":9007199254740991,"on":true,` +
		`"price":{"amount":-5,"currency":"EUR"},"offer":{"amount":1,"currency":"\/"},"inner":{"deep":{"amount":2,"currency":""},"n":-2147483648},` +
		`"note":{"reason":"r","message":"\n"}}`,
	`{"inner":{"deep":{"amount":2}},"offer":{"currency":"USD"}}`,
	`{"small":128}`,
	`{"small":-129}`,
	`{"port":65536}`,
	`{"count":-1}`,
	`{"on":1}`,
	`{"name":1}`,
	`{"price":"x"}`,
	`{"offer":{"amount":"1"}}`,
	`{"inner":{"n":2147483648}}`,
	`{"inner":{"deep":{"amount":1.5}}}`,
	`{"Skip":"x"}`,
	`{"price":{"amount":12,"currency":"USD"},"turn":3,"message":"\u00e9","final":false}`,
	`{"price":{"amount":12,"currency":"USD"},"turn":3,"final":true}`,
	`{"seller_sig":"\u0041bc"}`,
	`{"amount":1000000000000000,"currency":"JPY"}`,
	`{ "amount" : -0 , "currency" : "" }`,
	`{"terms":{"a":"1","b":"\u00e9\ud800","":"","\u00e9":"x"},"tags":{"x":"z","w":""}}`,
	`{"terms":{"a":"1","a":"2"}}`,
	`{"terms":{"a":1}}`,
	`{"terms":{"a":null}}`,
	`{"terms":null}`,
	`{"terms":[]}`,
	`{"terms":{}, "tags":{}}`,
	"{\"terms\":{\"\xff\":\"x\"}}",
	"{\"terms\":{\"a\":\"\xff\"}}",
	`{"mode":"ANP/A","item":"i","quantity":2,"currency":"USD","terms":{"colour":"red","size":"L"},"offer":{"amount":5,"currency":"USD"}}`,
}

func TestFlatFastDecode(t *testing.T) {
	for _, s := range flatSeeds {
		flatSamples(t, []byte(s))
	}
	var offer anp.OfferBody
	if !anp.DecodeFlatFast([]byte(`{"price":{"amount":12,"currency":"USD"},"turn":3,"final":true}`), &offer) || offer.Price.Amount != 12 || !offer.Final {
		t.Fatalf("fast path declined or misread an offer body: %#v", offer)
	}
	var got flatSample
	if !anp.DecodeFlatFast([]byte(flatSeeds[0]), &got) {
		t.Fatal("fast path declined a flat struct")
	}
	want := flatSample{Name: "aé😀\ufffd", Mode: "B", Small: -128, Port: 65535, Count: 1<<53 - 1, On: true,
		Price: anp.Money{Amount: -5, Currency: "EUR"}, Offer: &anp.Money{Amount: 1, Currency: "/"},
		Inner: &flatInner{Deep: &anp.Money{Amount: 2}, N: -2147483648}, Note: anp.NoteBody{Reason: "r", Message: "\n"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %#v\nwant %#v", got, want)
	}
}

// TestFlatFastDecodeTerms: the propose body, with its map of terms, is
// read by the fast path: a nil map is made, a map already there is added
// to (as encoding/json does), and a key with an escape or a value that is
// not a string is declined without touching the value.
func TestFlatFastDecodeTerms(t *testing.T) {
	data := []byte(`{"mode":"ANP/A","item":"i","quantity":2,"currency":"USD","terms":{"colour":"red","size":"L\u00e9"}}`)
	got := anp.ProposeBody{Terms: map[string]string{"kept": "k", "size": "S"}}
	if !anp.DecodeFlatFast(data, &got) {
		t.Fatal("fast path declined a propose body")
	}
	want := anp.ProposeBody{Mode: "ANP/A", Item: "i", Quantity: 2, Currency: "USD", Terms: map[string]string{"kept": "k", "colour": "red", "size": "Lé"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %#v\nwant %#v", got, want)
	}
	var fresh anp.ProposeBody
	if !anp.DecodeFlatFast([]byte(`{"terms":{}}`), &fresh) || fresh.Terms == nil || len(fresh.Terms) != 0 {
		t.Fatalf("an empty object of terms: got %#v, want an empty map", fresh.Terms)
	}
	for _, s := range []string{`{"item":"x","terms":{"\u0061":"1"}}`, `{"item":"x","terms":{"a":1}}`, `{"item":"x","terms":{"a":"1"},"offer":{"amount":1.5}}`} {
		var v anp.ProposeBody
		if anp.DecodeFlatFast([]byte(s), &v) || !reflect.DeepEqual(v, anp.ProposeBody{}) {
			t.Fatalf("fast path read %s: %#v", s, v)
		}
	}
}

// What the fast path is not sure of leaves the value as it was.
func TestFlatFastDecodeDeclines(t *testing.T) {
	for _, s := range []string{`{"small":128}`, `{"count":-1}`, `{"offer":{"amount":"1"}}`, `{"name":"x","on":1}`, `{"inner":{"deep":{"amount":1.5}}}`} {
		v := flatSample{Name: "kept"}
		if anp.DecodeFlatFast([]byte(s), &v) {
			t.Fatalf("fast path read %s", s)
		}
		if !reflect.DeepEqual(v, flatSample{Name: "kept"}) {
			t.Fatalf("a declined read of %s changed the value: %#v", s, v)
		}
	}
	type withMap struct {
		Terms map[string]int `json:"terms"`
	}
	type withFloat struct {
		F float64 `json:"f"`
	}
	for _, v := range []any{&withMap{}, &withFloat{}, &anp.CommitBody{}, &anp.Envelope{}, new(int)} {
		if anp.DecodeFlatFast([]byte(`{}`), v) {
			t.Fatalf("fast path read a %T", v)
		}
	}
}

// FuzzFlatFastDecode: DecodeStrict with the flat fast path and with
// encoding/json alone give the same verdict, error and value.
func FuzzFlatFastDecode(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	for _, s := range escapeHeavyStrings {
		f.Add([]byte(`{"name":` + s + `,"message":` + s + `,"price":{"currency":` + s + `}}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flatSamples(t, data)
	})
}
