package anp_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestScratchBuffersAreNotShared: Canonical, SigningInput, Hash, Sign,
// Verify and the SigCache write into borrowed buffers; bytes handed out
// stay as they were while other values go through those buffers, from
// many goroutines at once, and every result equals the one computed alone.
func TestScratchBuffersAreNotShared(t *testing.T) {
	key := anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey))
	type result struct {
		canon, input []byte
		hash, sig    string
	}
	bodies := make([]*anp.ProposeBody, 16)
	want := make([]result, len(bodies))
	for i := range bodies {
		bodies[i] = &anp.ProposeBody{Terms: map[string]string{"item": fmt.Sprintf("item-%d", i), "qty": fmt.Sprint(i * 7)}}
		want[i] = resultOf(t, bodies[i])
	}
	cache := anp.NewSigCache(8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 20 {
				i := (g*5 + round) % len(bodies)
				got := resultOf(t, bodies[i])
				if !bytes.Equal(got.canon, want[i].canon) || !bytes.Equal(got.input, want[i].input) || got.hash != want[i].hash || got.sig != want[i].sig {
					t.Errorf("body %d: got %+v, want %+v", i, got, want[i])
				}
				if err := cache.Verify(key, anp.PurposeEnvelope, bodies[i], want[i].sig); err != nil {
					t.Errorf("body %d: %v", i, err)
				}
				other := bodies[(i+1)%len(bodies)]
				if err := cache.Verify(key, anp.PurposeEnvelope, other, want[i].sig); !errors.Is(err, anp.ErrBadSignature) {
					t.Errorf("body %d's signature over another body: got %v, want ErrBadSignature", i, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range bodies {
		if again := resultOf(t, bodies[i]); !bytes.Equal(want[i].canon, again.canon) || !bytes.Equal(want[i].input, again.input) {
			t.Errorf("body %d: bytes handed out changed: %s", i, want[i].canon)
		}
	}
}

func resultOf(t *testing.T, v any) (r struct {
	canon, input []byte
	hash, sig    string
}) {
	t.Helper()
	var err error
	if r.canon, err = anp.Canonical(v); err != nil {
		t.Error(err)
	}
	if r.input, err = anp.SigningInput(anp.PurposeEnvelope, v); err != nil {
		t.Error(err)
	}
	if r.hash, err = anp.Hash(v); err != nil {
		t.Error(err)
	}
	if r.sig, err = anp.Sign(buyerKey, anp.PurposeEnvelope, v); err != nil {
		t.Error(err)
	}
	if err := anp.Verify(anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey)), anp.PurposeEnvelope, v, r.sig); err != nil {
		t.Error(err)
	}
	return r
}

// TestSigCacheKeyIsPartOfTheEntry: a signature remembered for one key
// does not pass for another key over the same bytes.
func TestSigCacheKeyIsPartOfTheEntry(t *testing.T) {
	body := &anp.NoteBody{Message: "hello"}
	sig, err := anp.Sign(buyerKey, anp.PurposeEnvelope, body)
	if err != nil {
		t.Fatal(err)
	}
	c := anp.NewSigCache(8)
	own := anp.PublicKeyHex(buyerKey.Public().(ed25519.PublicKey))
	if err := c.Remember(own, anp.PurposeEnvelope, body, sig); err != nil {
		t.Fatal(err)
	}
	other := anp.PublicKeyHex(sellerKey.Public().(ed25519.PublicKey))
	if err := c.Verify(other, anp.PurposeEnvelope, body, sig); !errors.Is(err, anp.ErrBadSignature) {
		t.Errorf("remembered for one key, verified with another: got %v, want ErrBadSignature", err)
	}
	if err := c.Verify(own, anp.PurposeEnvelope, body, sig); err != nil {
		t.Errorf("the remembered signature: %v", err)
	}
}
