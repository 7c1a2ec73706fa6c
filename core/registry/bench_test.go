package registry

import (
	"context"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// BenchmarkRelay measures one PROPOSE relayed over loopback HTTP to a seller
// stub and its signed COUNTER witnessed on the way back.
func BenchmarkRelay(b *testing.B) {
	e := newEnv(b, nil)
	e.addSeller("pans.anp")
	c := e.client(newKey(b))
	ctx := context.Background()
	if _, err := c.Authenticate(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bs := newBuyerSession(b, e.clock, "pans.anp")
		resp, err := c.Relay(ctx, "pans.anp", bs.seal(anp.TypePropose, proposeBody()))
		if err != nil || resp.Reply == nil {
			b.Fatalf("Relay: %v", err)
		}
	}
}

// BenchmarkNotarize measures the notary: checks against the witnessed
// transcript, countersignature, log append, proof and client-side
// verification of the result.
func BenchmarkNotarize(b *testing.B) {
	e := newEnv(b, nil)
	seller := e.addSeller("pans.anp")
	c := e.client(newKey(b))
	ctx := context.Background()
	arts := make([]*anp.Artifact, b.N)
	for i := range arts {
		bs := newBuyerSession(b, e.clock, "pans.anp")
		mustRelay(b, c, bs, bs.seal(anp.TypePropose, proposeBody()))
		mustRelay(b, c, bs, bs.seal(anp.TypeCounter, anp.OfferBody{Price: agreedPrice, Turn: 2}))
		accept := bs.tr.Envelopes[3]
		p := proposeBody()
		a := &anp.Artifact{Terms: anp.DealTerms{
			V: anp.Version, SessionID: bs.id, Mode: p.Mode, SellerDomain: bs.domain, SellerKey: pubHex(seller.key), BuyerKey: pubHex(bs.key),
			Item: p.Item, Quantity: p.Quantity, Terms: p.Terms, Price: agreedPrice,
			TranscriptHead: mustHash(b, accept), TranscriptLen: 4, AgreedAt: accept.TS, CreatedAt: e.clock.Now().UnixMilli(),
		}}
		if err := a.SignAsBuyer(bs.key); err != nil {
			b.Fatal(err)
		}
		sig, err := a.SellerSignature(seller.key)
		if err != nil {
			b.Fatal(err)
		}
		a.SellerSig = sig
		arts[i] = a
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Notarize(ctx, arts[i]); err != nil {
			b.Fatalf("Notarize: %v", err)
		}
	}
}

func mustRelay(b *testing.B, c *Client, bs *buyerSession, env *anp.Envelope) {
	b.Helper()
	resp, err := c.Relay(context.Background(), bs.domain, env)
	if err != nil || resp.Reply == nil {
		b.Fatalf("Relay: %v", err)
	}
	bs.add(env)
	bs.add(resp.Reply)
}

// BenchmarkMerkleInclusion measures an inclusion proof in a log of 100k leaves.
func BenchmarkMerkleInclusion(b *testing.B) {
	l := newMerkleLog()
	const n = 100_000
	for i := 0; i < n; i++ {
		if _, err := l.appendLeaf([]byte(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.inclusion(uint64(i%n), n); err != nil {
			b.Fatal(err)
		}
	}
}
