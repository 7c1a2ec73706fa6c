package demomarket_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
)

func usd(major int64) anp.Money { return anp.Money{Amount: major * 100, Currency: "USD"} }

// newBuyer is a buyer engine on m, and its identity key (hex); present
// names the identity in every PROPOSE.
func newBuyer(ctx context.Context, t *testing.T, m *demomarket.Market, present bool) (*buyer.Core, string) {
	t.Helper()
	pub, id, _ := ed25519.GenerateKey(rand.Reader)
	ceiling := usd(1000)
	c, err := buyer.New(buyer.Config{Identity: id, Logger: zerolog.Nop(), AutoApproveBelow: &ceiling, PresentIdentity: present,
		Registry: registry.NewClient(m.RegistryURL, id, registry.ClientOptions{RootKey: m.RootKey, Logger: zerolog.Nop()})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	return c, anp.PublicKeyHex(pub)
}

var pan = buyer.Constraints{Item: "Cast iron pan", Category: "kitchen", Quantity: 1, MaxBudget: usd(200)}

// TestSellerBuyerMinimum: picky-pans.anp requires a buyer reputation of 45.
// A buyer that presents its identity, signs a deal and loses its dispute
// (reputation 25, from the log) is refused with ErrBuyerTrust; a buyer
// that presents no identity (a newcomer, 50) and a fresh identity (50) are
// served.
func TestSellerBuyerMinimum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	specs := append(demomarket.DefaultSellers(), demomarket.SellerSpec{Domain: "picky-pans.anp", DisplayName: "Picky Pans (demo)", Categories: []string{"kitchen"},
		Modes: []anp.Mode{anp.ModeC}, Policy: seller.CurvePolicy{List: usd(120), Floor: usd(80), Exponent: 1, MaxTurns: 6}, MinBuyerTrust: 45})
	m, err := demomarket.Start(ctx, demomarket.Options{Sellers: specs, Difficulty: 4, AsyncDelay: 10 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)

	a, aID := newBuyer(ctx, t, m, true)
	s, err := a.ProposeDeal(ctx, "ANP/C.kitchen-outlet.anp", pan, buyer.ProposeOptions{})
	if err == nil {
		s, err = a.NegotiateAutonomously(ctx, s.ID, concession.Default())
	}
	if err != nil || s.State != buyer.StateSigned {
		t.Fatalf("deal: %v %s", err, s.State)
	}
	if _, err := m.Nodes["kitchen-outlet.anp"].Fulfil(ctx, s.ID, "parcel 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenDispute(ctx, s.ID, buyer.DisputeRequest{Reason: anp.ReasonNotAsDescribed, Severity: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Registry.Resolve(ctx, s.ID, anp.OutcomeForSeller, anp.Decider{Kind: anp.DecidedByPerson, ID: "test-operator"}); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Reputation(ctx, "id:"+aID)
	if err != nil || rep.Score.Score != 25 || rep.Score.Evidence.DisputesLost != 1 {
		t.Fatalf("the buyer's reputation from the log: %+v %v, want 25 with one lost dispute", rep, err)
	}

	refused, err := a.ProposeDeal(ctx, "ANP/C.picky-pans.anp", pan, buyer.ProposeOptions{})
	if err != nil || refused.State != buyer.StateCancelled || !strings.HasPrefix(refused.SellerMessage, seller.ErrBuyerTrust.Error()+": the buyer has reputation 25.00, picky-pans.anp requires 45.00") {
		t.Fatalf("the buyer that lost a dispute: %v, %s %q; want REJECTED with %v", err, refused.State, refused.SellerMessage, seller.ErrBuyerTrust)
	}
	for _, present := range []bool{false, true} {
		b, _ := newBuyer(ctx, t, m, present)
		s, err := b.ProposeDeal(ctx, "ANP/C.picky-pans.anp", pan, buyer.ProposeOptions{})
		if err != nil || s.State == buyer.StateCancelled {
			t.Fatalf("a newcomer (identity presented: %v): %v %s %q", present, err, s.State, s.SellerMessage)
		}
	}
}
