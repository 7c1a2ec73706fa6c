package bench

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
)

// AcceptFirst is a baseline buyer: it accepts the first price within the
// budget and otherwise counters at the budget.
type AcceptFirst struct{}

// Decide implements buyer.Decider.
func (AcceptFirst) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("bench: session %s: no seller price", s.ID)
	}
	if s.LastSellerPrice.Amount <= s.MaxBudget.Amount {
		return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice, Source: "baseline:accept-first"}, nil
	}
	return buyer.Decision{Action: buyer.ActionCounter, Price: s.MaxBudget, Source: "baseline:accept-first"}, nil
}

// ClinchGuideline is a baseline buyer following the original Clinch prompt's
// guideline: accept as soon as the seller's price is within the budget;
// otherwise anchor 25% below the budget on turns 1-2, raise by 4% of the
// budget per turn on turns 3-5, and offer the budget from turn 6 on.
type ClinchGuideline struct{}

// Decide implements buyer.Decider.
func (ClinchGuideline) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("bench: session %s: no seller price", s.ID)
	}
	b := s.MaxBudget.Amount
	if s.LastSellerPrice.Amount > 0 && s.LastSellerPrice.Amount <= b {
		return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice, Source: "baseline:clinch-guideline"}, nil
	}
	offer := b * 75 / 100
	switch {
	case s.Turn >= 6:
		offer = b
	case s.Turn >= 3 && s.LastOwnOffer != nil:
		offer = min(b, s.LastOwnOffer.Amount+b*4/100)
	}
	return buyer.Decision{Action: buyer.ActionCounter, Price: anp.Money{Amount: offer, Currency: s.MaxBudget.Currency}, Source: "baseline:clinch-guideline"}, nil
}

// DefaultBuyers returns the deciders the benchmark compares: the concession
// decider with each of its three curves, and the two baselines. Each call
// returns fresh deciders.
func DefaultBuyers() map[string]buyer.Decider {
	return map[string]buyer.Decider{
		"strategy:adaptive":         concession.NewAdaptive([]byte("bench")),
		"strategy:boulware":         concession.New(concession.Boulware, 0),
		"strategy:linear":           concession.New(concession.Linear, 0),
		"strategy:conceder":         concession.New(concession.Conceder, 0),
		"baseline:accept-first":     AcceptFirst{},
		"baseline:clinch-guideline": ClinchGuideline{},
	}
}
