package anp_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestSigCache(t *testing.T) {
	body := &anp.OfferBody{Price: anp.Money{Amount: 8500, Currency: "USD"}, Turn: 2}
	sig, err := anp.Sign(buyerKey, anp.PurposeEnvelope, body)
	if err != nil {
		t.Fatal(err)
	}
	key := anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey))
	other := &anp.OfferBody{Price: anp.Money{Amount: 8600, Currency: "USD"}, Turn: 2}
	c := anp.NewSigCache(8)
	for _, tc := range []struct {
		name    string
		c       *anp.SigCache
		pub     string
		p       anp.Purpose
		v       any
		sig     string
		want    error
		wantLen int
	}{
		{"good signature", c, key, anp.PurposeEnvelope, body, sig, nil, 1},
		{"again: a hit", c, key, anp.PurposeEnvelope, body, sig, nil, 1},
		{"other value", c, key, anp.PurposeEnvelope, other, sig, anp.ErrBadSignature, 1},
		{"other purpose", c, key, anp.PurposeToken, body, sig, anp.ErrBadSignature, 1},
		{"bad key", c, strings.Repeat("z", 64), anp.PurposeEnvelope, body, sig, anp.ErrKeyFormat, 1},
		{"nil cache", nil, key, anp.PurposeEnvelope, body, sig, nil, 0},
		{"nil cache, other value", nil, key, anp.PurposeEnvelope, other, sig, anp.ErrBadSignature, 0},
	} {
		err := tc.c.Verify(tc.pub, tc.p, tc.v, tc.sig)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if got := tc.c.Len(); got != tc.wantLen {
			t.Errorf("%s: %d remembered, want %d", tc.name, got, tc.wantLen)
		}
		if got, want := tc.c.Verify(tc.pub, tc.p, tc.v, tc.sig), anp.Verify(tc.pub, tc.p, tc.v, tc.sig); (got == nil) != (want == nil) {
			t.Errorf("%s: cache says %v, anp.Verify %v", tc.name, got, want)
		}
	}
}

// TestSigCacheRemembersOwnAndStaysBounded: a remembered signature is not
// verified again (the party made it), and the cache never holds more than
// its size.
func TestSigCacheRemembersOwnAndStaysBounded(t *testing.T) {
	c := anp.NewSigCache(4)
	key := anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey))
	for i := 0; i < 10; i++ {
		body := &anp.OfferBody{Price: anp.Money{Amount: int64(100 + i), Currency: "USD"}, Turn: 1}
		sig, err := anp.Sign(buyerKey, anp.PurposeEnvelope, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Remember(key, anp.PurposeEnvelope, body, sig); err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(key, anp.PurposeEnvelope, body, sig); err != nil {
			t.Fatalf("remembered signature %d: %v", i, err)
		}
		if n := c.Len(); n > 4 {
			t.Fatalf("cache of 4 holds %d", n)
		}
	}
}
