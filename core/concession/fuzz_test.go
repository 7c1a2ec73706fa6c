package concession

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

func FuzzDecide(f *testing.F) {
	f.Add(int64(10000), int64(12000), int64(0), 1, 8, false, uint8(0), 0.5)
	f.Add(int64(10000), int64(9000), int64(8999), 7, 8, false, uint8(2), 0.9)
	f.Add(int64(1), int64(1), int64(0), 1, 0, true, uint8(1), 0.0)
	f.Add(int64(500), int64(100000), int64(499), 12, 3, true, uint8(0), 1.5)
	f.Fuzz(func(t *testing.T, budget, ask, own int64, turn, maxTurns int, final bool, curve uint8, open float64) {
		if budget <= 0 || ask <= 0 || own < 0 || budget > 1e15 || ask > 1e15 || own >= ask || own > budget || turn < 1 || turn > 1000 || maxTurns < 0 || maxTurns > 50 {
			return
		}
		s := buyer.Session{ID: "f", State: buyer.StateCountered, Turn: turn, MaxTurns: maxTurns, MaxBudget: anptest.USD(budget), LastSellerPrice: ptr(anptest.USD(ask)), SellerFinal: final}
		if own > 0 {
			s.LastOwnOffer = ptr(anptest.USD(own))
		}
		d, err := New(Curve(curve%3), open).Decide(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkDecision(s, d); err != nil {
			t.Fatal(err)
		}
	})
}
