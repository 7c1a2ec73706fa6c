package buyer

import (
	"context"
	"fmt"
	"math"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Action is what a Decider wants to do next.
type Action string

// Decider actions.
const (
	ActionCounter Action = "counter"
	ActionAccept  Action = "accept"
	ActionExit    Action = "exit"
)

// Decision is a Decider's output. Price matters only for ActionCounter.
type Decision struct {
	Action  Action    `json:"action"`
	Price   anp.Money `json:"price"`
	Message string    `json:"message"`
	Source  string    `json:"source,omitempty"` // which decider produced it (for logs and snapshots)
}

// Decider chooses the buyer's next move from a session snapshot. The engine
// applies Guard to every decision, so a Decider cannot break the budget.
type Decider interface {
	Decide(ctx context.Context, s Session) (Decision, error)
}

// Concession is the deterministic time-dependent concession strategy:
// offer(t) = open + (budget - open) * (t/T)^(1/e), where open = OpenFraction
// of the budget, t the turn and T the max turns. e < 1 concedes late
// (Boulware), e = 1 linearly, e > 1 early (conceder). It accepts a seller
// price at or below its current target.
type Concession struct {
	OpenFraction float64 // default 0.6
	Exponent     float64 // default 0.5 (Boulware)
}

// Target returns the strategy's offer for the session's next turn.
func (k Concession) Target(s Session) int64 {
	open := k.OpenFraction
	if open <= 0 || open > 1 {
		open = 0.6
	}
	e := k.Exponent
	if e <= 0 {
		e = 0.5
	}
	T := float64(max(s.MaxTurns, 2))
	t := math.Min(float64(s.Turn+1), T)
	frac := math.Pow((t-1)/(T-1), 1/e)
	b := float64(s.MaxBudget.Amount)
	return int64(math.Floor(b*open + (b-b*open)*frac))
}

// Decide implements Decider.
func (k Concession) Decide(_ context.Context, s Session) (Decision, error) {
	if s.LastSellerPrice == nil {
		return Decision{}, fmt.Errorf("no seller price to respond to")
	}
	target := k.Target(s)
	seller := s.LastSellerPrice.Amount
	if seller <= s.MaxBudget.Amount && (seller <= target || s.SellerFinal || s.Turn+1 >= max(s.MaxTurns, 2)) {
		return Decision{Action: ActionAccept, Price: *s.LastSellerPrice, Message: "We accept your price.", Source: "strategy"}, nil
	}
	if s.Turn+1 > max(s.MaxTurns, 2) {
		return Decision{Action: ActionExit, Message: "We could not agree within our limits.", Source: "strategy"}, nil
	}
	offer := min(target, seller-1)
	return Decision{Action: ActionCounter, Price: anp.Money{Amount: offer, Currency: s.MaxBudget.Currency},
		Message: fmt.Sprintf("We can offer %s.", anp.Money{Amount: offer, Currency: s.MaxBudget.Currency}), Source: "strategy"}, nil
}

// Guard applies the hard limits to any decision: offers in (0, max_budget],
// never below the previous offer, accept only at or under budget, exit when
// no legal move remains. It returns the decision to carry out and a note
// when it changed anything.
func Guard(s Session, d Decision) (Decision, string) {
	b := s.MaxBudget
	switch d.Action {
	case ActionAccept:
		if s.LastSellerPrice == nil || s.LastSellerPrice.Amount > b.Amount || s.LastSellerPrice.Currency != b.Currency {
			return Decision{Action: ActionExit, Message: "The price is above our budget.", Source: d.Source}, "accept refused: the seller's price is above max_budget"
		}
		d.Price = *s.LastSellerPrice
		return d, ""
	case ActionExit:
		return d, ""
	case ActionCounter:
	default:
		return Decision{Action: ActionExit, Source: d.Source}, fmt.Sprintf("unknown action %q treated as exit", d.Action)
	}
	note := ""
	p := d.Price.Amount
	if d.Price.Currency != b.Currency {
		p, note = 0, "offer currency replaced by the budget currency"
	}
	if p > b.Amount {
		p, note = b.Amount, "offer clamped to max_budget"
	}
	if s.LastOwnOffer != nil && p < s.LastOwnOffer.Amount {
		p, note = s.LastOwnOffer.Amount, "offer raised to the previous offer (offers never go down)"
	}
	if p <= 0 {
		p, note = max(1, b.Amount/2), "non-positive offer replaced"
	}
	if s.LastSellerPrice != nil && p >= s.LastSellerPrice.Amount && s.LastSellerPrice.Amount <= b.Amount {
		return Decision{Action: ActionAccept, Price: *s.LastSellerPrice, Message: d.Message, Source: d.Source}, "offer at or above the seller's price turned into accept"
	}
	d.Price = anp.Money{Amount: p, Currency: b.Currency}
	return d, note
}
