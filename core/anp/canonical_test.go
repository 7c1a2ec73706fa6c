package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var allPurposes = []anp.Purpose{
	anp.PurposeEnvelope, anp.PurposeArtifactBuyer, anp.PurposeArtifactSeller, anp.PurposeArtifactNotary,
	anp.PurposeTreeHead, anp.PurposeKeyChain, anp.PurposeToken, anp.PurposeDomainBinding,
	anp.PurposeEndpointRecord, anp.PurposePoW, anp.PurposeWSAuth, anp.PurposeBlindSeal, anp.PurposeRelay,
	anp.PurposeGrant, anp.PurposeKeyRotation, anp.PurposeKeyRevocation, anp.PurposeOperatorRevocation, anp.PurposeKeyEvent,
	anp.PurposeArbiterKey, anp.PurposeDealEvent,
}

// Canonicalisation refuses every number outside ±(2^53-1): JCS would round
// it to a double, so 2^60 and 2^60+1 would share one signature.
func TestCanonicalRefusesUnsafeNumbers(t *testing.T) {
	for _, v := range []any{
		int64(1 << 53), int64(-(1 << 53)), uint64(1<<60 + 1), int64(-1 << 63), 1e21, -1e300,
		map[string]any{"a": []any{map[string]any{"n": uint64(1 << 53)}}},
	} {
		_, err := anp.Canonical(v)
		if !errors.Is(err, anp.ErrIntegerRange) || anp.CodeOf(err) != anp.CodeBadRequest {
			t.Errorf("Canonical(%v) = %v, want ErrIntegerRange (bad_request)", v, err)
		}
	}
	for _, v := range []any{int64(1<<53 - 1), int64(-(1<<53 - 1)), "9007199254740993", map[string]string{"1e400": "x"}} {
		if _, err := anp.Canonical(v); err != nil {
			t.Errorf("Canonical(%v): %v", v, err)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"keys sorted", map[string]any{"b": 1, "a": 2, "aa": 3}, `{"a":2,"aa":3,"b":1}`},
		{"struct fields sorted", anp.Money{Amount: 8500, Currency: "USD"}, `{"amount":8500,"currency":"USD"}`},
		{"nested", map[string]any{"z": []any{map[string]any{"y": true, "x": nil}}}, `{"z":[{"x":null,"y":true}]}`},
		{"numbers in shortest form", []any{1.0, 1.5, 0.000001, math.Copysign(0, -1), float64(1<<53 - 1)}, `[1,1.5,0.000001,0,9007199254740991]`},
		{"no HTML escaping", map[string]string{"m": "<a&b>"}, `{"m":"<a&b>"}`},
		{"unicode kept", map[string]string{"m": "café €"}, `{"m":"café €"}`},
		{"control escaped", map[string]string{"m": "a\nb\u0001"}, `{"m":"a\nb\u0001"}`},
		// U+1F600 is D83D DE00 in UTF-16 and sorts before U+FF21, unlike in UTF-8.
		{"keys sorted by UTF-16 units", map[string]int{"\uff21": 1, "\U0001F600": 2, "a": 3}, "{\"a\":3,\"\U0001F600\":2,\"\uff21\":1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := anp.Canonical(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonical = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	_, err := anp.Canonical(make(chan int))
	wantMessage(t, err, "anp: encode")
	_, err = anp.Canonical(math.NaN())
	wantMessage(t, err, "anp: encode")
	_, err = anp.Canonical(rawJSON(`{"a":1,"a":2}`))
	wantMessage(t, err, "anp: canonicalise")
}

// rawJSON is a value whose JSON encoding is the given text.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestSigningInputLayout(t *testing.T) {
	v := map[string]int{"b": 2, "a": 1}
	got, err := anp.SigningInput(anp.PurposeEnvelope, v)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("clinch-anp/1\x00envelope\x00{\"a\":1,\"b\":2}")
	if !bytes.Equal(got, want) {
		t.Fatalf("SigningInput = %q, want %q", got, want)
	}
	if _, err := anp.SigningInput(anp.PurposeEnvelope, make(chan int)); err == nil {
		t.Fatal("SigningInput encoded a channel")
	}
}

// The same value signed for one purpose must give different bytes and a
// signature that does not verify for any other purpose.
func TestDomainSeparation(t *testing.T) {
	value := anp.Money{Amount: 8500, Currency: "USD"}
	inputs := map[string]anp.Purpose{}
	for _, p := range allPurposes {
		in, err := anp.SigningInput(p, value)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := inputs[string(in)]; dup {
			t.Fatalf("purposes %q and %q give the same signing input", p, other)
		}
		inputs[string(in)] = p
		if !strings.HasPrefix(string(in), "clinch-anp/1\x00"+string(p)+"\x00") {
			t.Fatalf("signing input for %q has the wrong prefix: %q", p, in)
		}
	}
	key := pub(sellerKey)
	for _, p := range allPurposes {
		sig, err := anp.Sign(sellerKey, p, value)
		if err != nil {
			t.Fatal(err)
		}
		if err := anp.Verify(key, p, value, sig); err != nil {
			t.Fatalf("signature for %q does not verify for itself: %v", p, err)
		}
		for _, q := range allPurposes {
			if q == p {
				continue
			}
			err := anp.Verify(key, q, value, sig)
			if !errors.Is(err, anp.ErrBadSignature) {
				t.Fatalf("signature for %q verified for %q (err %v)", p, q, err)
			}
		}
	}
}

func TestSignVerify(t *testing.T) {
	value := map[string]string{"item": itemName}
	sig, err := anp.Sign(buyerKey, anp.PurposeEnvelope, value)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 128 || strings.ToLower(sig) != sig {
		t.Fatalf("signature %q is not 128 lower-case hex characters", sig)
	}
	msg, _ := anp.SigningInput(anp.PurposeEnvelope, value)
	raw, _ := hex.DecodeString(sig)
	if !ed25519.Verify(buyerKey.Public().(ed25519.PublicKey), msg, raw) {
		t.Fatal("signature is not plain Ed25519 over the signing input")
	}
	other, _ := anp.Sign(buyerKey, anp.PurposeEnvelope, map[string]string{"item": "other"})
	flipped := []byte(sig)
	if flipped[10] == '0' {
		flipped[10] = '1'
	} else {
		flipped[10] = '0'
	}

	tests := []struct {
		name     string
		pub      string
		value    any
		sig      string
		wantCode anp.Code
		wantMsg  string
	}{
		{name: "valid", pub: pub(buyerKey), value: value, sig: sig},
		{name: "same value other key order", pub: pub(buyerKey), value: struct {
			Item string `json:"item"`
		}{itemName}, sig: sig},
		{name: "wrong key", pub: pub(sellerKey), value: value, sig: sig, wantCode: anp.CodeBadSignature, wantMsg: "does not verify"},
		{name: "other value", pub: pub(buyerKey), value: value, sig: other, wantCode: anp.CodeBadSignature},
		{name: "flipped signature", pub: pub(buyerKey), value: value, sig: string(flipped), wantCode: anp.CodeBadSignature},
		{name: "upper-case signature", pub: pub(buyerKey), value: value, sig: strings.ToUpper(sig), wantMsg: "not lower-case hex"},
		{name: "short signature", pub: pub(buyerKey), value: value, sig: sig[:126], wantMsg: "signature must be 128 hex characters, got 126"},
		{name: "empty signature", pub: pub(buyerKey), value: value, sig: "", wantMsg: "signature must be 128 hex characters"},
		{name: "upper-case key", pub: strings.ToUpper(pub(buyerKey)), value: value, sig: sig, wantMsg: "public key has a character that is not lower-case hex"},
		{name: "short key", pub: pub(buyerKey)[:62], value: value, sig: sig, wantMsg: "public key must be 64 hex characters, got 62"},
		{name: "unencodable value", pub: pub(buyerKey), value: make(chan int), sig: sig, wantMsg: "anp: encode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := anp.Verify(tt.pub, anp.PurposeEnvelope, tt.value, tt.sig)
			if tt.wantCode == "" && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify accepted")
			}
			if tt.wantCode != "" && anp.CodeOf(err) != tt.wantCode {
				t.Fatalf("error %v has code %q, want %q", err, anp.CodeOf(err), tt.wantCode)
			}
			wantMessage(t, err, tt.wantMsg)
		})
	}
}

func TestSigner(t *testing.T) {
	sign := anp.Signer(sellerKey)
	got, err := sign(anp.PurposeToken, "x")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := anp.Sign(sellerKey, anp.PurposeToken, "x")
	if got != want {
		t.Fatalf("Signer gave %s, Sign gave %s", got, want)
	}
}

func TestHashAndHashBytes(t *testing.T) {
	v := map[string]int{"b": 2, "a": 1}
	got, err := anp.Hash(v)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(`{"a":1,"b":2}`))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	if got := anp.HashBytes([]byte(`{"a":1,"b":2}`)); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("HashBytes = %s", got)
	}
	// SHA-256 of the empty string.
	if got := anp.HashBytes(nil); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("HashBytes(nil) = %s", got)
	}
	if _, err := anp.Hash(make(chan int)); err == nil {
		t.Fatal("Hash encoded a channel")
	}
}

func TestPublicKeyHex(t *testing.T) {
	pk := buyerKey.Public().(ed25519.PublicKey)
	h := anp.PublicKeyHex(pk)
	if h != hex.EncodeToString(pk) || len(h) != 64 {
		t.Fatalf("PublicKeyHex = %s", h)
	}
	back, err := anp.ParsePublicKey(h)
	if err != nil || !back.Equal(pk) {
		t.Fatalf("ParsePublicKey = %x, %v", back, err)
	}
	for _, bad := range []string{"", h[:63], h + "00", strings.ToUpper(h), "g" + h[1:], " " + h[1:]} {
		if _, err := anp.ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func TestValidHash(t *testing.T) {
	good := anp.HashBytes([]byte("x"))
	if !anp.ValidHash(good) {
		t.Fatalf("ValidHash(%s) = false", good)
	}
	for _, bad := range []string{"", good[:63], good + "0", strings.ToUpper(good), "z" + good[1:]} {
		if anp.ValidHash(bad) {
			t.Errorf("ValidHash(%q) = true", bad)
		}
	}
}
