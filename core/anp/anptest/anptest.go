// Package anptest holds the protocol helpers that tests of several packages
// share: a steppable clock, fixed and fresh keys, money, envelope helpers and
// a Party that plays the buyer side of a session transcript.
//
// Every helper that can fail takes a testing.TB and stops the test.
package anptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Clock is a clock that moves only when told to. It is safe for concurrent
// use; pass its Now method wherever a func() time.Time is configured.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward for a negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// SeedKey returns the Ed25519 key whose 32-byte seed is first, first+1, ...,
// first+31: the same key in every run and in every implementation (the
// protocol vectors under testdata/anp use keys built this way).
func SeedKey(first byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// NewKey returns a fresh random Ed25519 key, for a test that needs one more
// distinct identity.
func NewKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PubHex returns the protocol's hex form of k's public key.
func PubHex(k ed25519.PrivateKey) string { return anp.PublicKeyHex(k.Public().(ed25519.PublicKey)) }

// USD returns amount minor units (cents) of US dollars.
func USD(amount int64) anp.Money { return anp.Money{Amount: amount, Currency: "USD"} }

// Hash returns the envelope hash of env.
func Hash(t testing.TB, env *anp.Envelope) string {
	t.Helper()
	h, err := env.Hash()
	if err != nil {
		t.Fatalf("hash of %s seq %d: %v", env.Type, env.Seq, err)
	}
	return h
}

// Body decodes the body of env as a T.
func Body[T any](t testing.TB, env *anp.Envelope) T {
	t.Helper()
	var v T
	if err := env.DecodeBody(&v); err != nil {
		t.Fatalf("%s seq %d body: %v", env.Type, env.Seq, err)
	}
	return v
}

// SealRaw signs env exactly as given, whatever its seq, prev, nonce or
// times, for tests of what a receiver refuses.
func SealRaw(t testing.TB, key ed25519.PrivateKey, env anp.Envelope) *anp.Envelope {
	t.Helper()
	env.Sig = ""
	sig, err := anp.Sign(key, anp.PurposeEnvelope, env)
	if err != nil {
		t.Fatal(err)
	}
	env.Sig = sig
	return &env
}

// SignDeal signs terms as the buyer and, when seller is not nil, as the
// seller.
func SignDeal(t testing.TB, terms anp.DealTerms, buyer, seller ed25519.PrivateKey) *anp.Artifact {
	t.Helper()
	a := &anp.Artifact{Terms: terms}
	if err := a.SignAsBuyer(buyer); err != nil {
		t.Fatalf("sign the deal as buyer: %v", err)
	}
	if seller != nil {
		sig, err := a.SellerSignature(seller)
		if err != nil {
			t.Fatalf("sign the deal as seller: %v", err)
		}
		a.SellerSig = sig
	}
	return a
}
