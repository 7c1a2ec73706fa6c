package registry

import (
	"context"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
)

// BenchmarkRelay measures one PROPOSE relayed over loopback HTTP to a seller
// stub and its signed COUNTER witnessed on the way back.
func BenchmarkRelay(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.SessionRate = -1 }) // one identity opens b.N sessions
	e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(b))
	ctx := context.Background()
	if _, err := c.Authenticate(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bs := newBuyerSession(b, e.clock, "pans.anp")
		resp, err := c.Relay(ctx, "pans.anp", bs.Seal(anp.TypePropose, proposeBody()))
		if err != nil || resp.Reply == nil {
			b.Fatalf("Relay: %v", err)
		}
	}
}

// BenchmarkNotarize measures the notary: checks against the witnessed
// transcript, countersignature, log append, proof and client-side
// verification of the result.
func BenchmarkNotarize(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.SessionRate = -1 }) // one identity opens b.N sessions
	seller := e.addSeller("pans.anp")
	c := e.client(anptest.NewKey(b))
	ctx := context.Background()
	arts := make([]*anp.Artifact, b.N)
	for i := range arts {
		bs := newBuyerSession(b, e.clock, "pans.anp")
		bs.relay(c, bs.Seal(anp.TypePropose, proposeBody()))
		bs.relay(c, bs.Seal(anp.TypeCounter, anp.OfferBody{Price: agreedPrice, Turn: 2}))
		arts[i] = anptest.SignDeal(b, bs.terms(anptest.PubHex(seller.key), 4), bs.Key, seller.key)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Notarize(ctx, arts[i]); err != nil {
			b.Fatalf("Notarize: %v", err)
		}
	}
}

// BenchmarkMerkleInclusion measures an inclusion proof in a log of 100k leaves.
func BenchmarkMerkleInclusion(b *testing.B) {
	l := newTestMerkleLog(b)
	const n = 100_000
	for i := 0; i < n; i++ {
		if _, _, _, err := l.append(context.Background(), []byte(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.inclusion(context.Background(), uint64(i%n), n); err != nil {
			b.Fatal(err)
		}
	}
}
