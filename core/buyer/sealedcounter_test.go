package buyer

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestSealedCounterSpeaksOnlyForItsEnvelope: appendOwn takes the offer of
// the COUNTER the record sealed from the sealing, and the offer of any other
// COUNTER (another envelope at the same place, with another price) from
// that envelope's own body.
func TestSealedCounterSpeaksOnlyForItsEnvelope(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fresh := func() *record {
		return &record{Session: Session{ID: "0123456789abcdef0123456789abcdef", Seller: "seller.example"}}
	}
	sealed := anp.OfferBody{Price: anp.Money{Amount: 100, Currency: "USD"}, Turn: 2}
	other := anp.OfferBody{Price: anp.Money{Amount: 200, Currency: "USD"}, Turn: 3}

	r := fresh()
	if _, err := r.seal(key, anp.TypeCounter, &sealed, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	forged, err := anp.Seal(key, anp.EnvelopeSpec{Type: anp.TypeCounter, Session: r.Session.ID, Seq: r.Transcript.NextSeq(),
		Prev: r.Transcript.Head, To: r.Session.Seller, Body: &other, Now: now, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.appendOwn(key, forged, now); err != nil {
		t.Fatal(err)
	}
	if got := r.Session.LastOwnOffer; got == nil || *got != other.Price || r.Session.Turn != other.Turn {
		t.Fatalf("another COUNTER applied as offer %v turn %d, want its own %v turn %d", got, r.Session.Turn, other.Price, other.Turn)
	}

	r = fresh()
	env, err := r.seal(key, anp.TypeCounter, &sealed, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.appendOwn(key, env, now); err != nil {
		t.Fatal(err)
	}
	if got := r.Session.LastOwnOffer; got == nil || *got != sealed.Price || r.Session.Turn != sealed.Turn {
		t.Fatalf("the sealed COUNTER applied as offer %v turn %d, want %v turn %d", got, r.Session.Turn, sealed.Price, sealed.Turn)
	}
}
