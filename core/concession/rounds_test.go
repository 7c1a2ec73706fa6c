package concession

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// TestRoundsMakeDecidersStateless: a decider that reads the engine's
// recorded rounds decides exactly like one that remembered every turn itself,
// so any pod (or a restarted one) continues a session the same way.
func TestRoundsMakeDecidersStateless(t *testing.T) {
	asks := []int64{12000, 11600, 11000, 10100, 9300, 8800}
	for _, curve := range []Curve{Boulware, Linear, Conceder} {
		remembering := New(curve, DefaultOpenFraction)
		s := buyer.Session{ID: "0123456789abcdef0123456789abcdef", MaxBudget: anptest.USD(10000), MaxTurns: 8, State: buyer.StateCountered}
		for i, a := range asks {
			s.Turn = i + 1
			p := anptest.USD(a)
			s.LastSellerPrice = &p
			s.Rounds = append(s.Rounds, buyer.Round{Turn: s.Turn, SellerPrice: p, OwnOffer: s.LastOwnOffer})
			want, err := remembering.Decide(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			fresh := New(curve, DefaultOpenFraction) // a new pod: no memory at all
			got, err := fresh.Decide(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != want.Action || got.Price != want.Price {
				t.Fatalf("%s turn %d: stateless %s %v, remembering %s %v", curve, s.Turn, got.Action, got.Price, want.Action, want.Price)
			}
			if want.Action != buyer.ActionCounter {
				break
			}
			o := want.Price
			s.LastOwnOffer = &o
		}
	}
}
