package buyer

import (
	"context"
	"fmt"

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
// applies Session.PlanDecision (Guard, then the turn limit) to every
// decision, so a Decider cannot break the budget. The deterministic
// concession deciders live in package concession, the model-backed one in
// package sandbox.
type Decider interface {
	Decide(ctx context.Context, s Session) (Decision, error)
}

// Named is implemented by deciders that can say what they are.
type Named interface{ Name() string }

// DeciderName returns d's name for logs and snapshots.
func DeciderName(d Decider) string {
	if n, ok := d.(Named); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", d)
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
