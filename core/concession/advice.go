package concession

import (
	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Advice is the strategy's suggestion for a session's next move, with the
// signals behind it, for a host's model negotiating turn by turn. It has
// passed the engine's guardrails (buyer.Session.PlanDecision), so Price is
// never above the budget.
type Advice struct {
	Action   buyer.Action // counter, accept or exit
	Price    *anp.Money   // the offer to counter with, or the seller's price to accept; nil for exit
	Reason   string       // why, in a few words
	Strategy string       // the strategy's name
	Signals  Signals
}

// Signals are what the opponent model read from the seller's asks.
type Signals struct {
	Reading Reading
	// Concessions is the seller's concession at each of its answers after
	// its first ask (0: it held its price), in turn order.
	Concessions []anp.Money
	// FloorLow and FloorHigh bound the lowest price the seller is likely
	// to take: its ask, down to its ask less its recent pace of concession
	// over the turns left (never below the buyer's own offer); a credible
	// final offer closes the range.
	FloorLow, FloorHigh anp.Money
	// FinalContradicted: the seller called an ask final and later went
	// below it, so its "final" offers are claims, not facts.
	FinalContradicted bool
}

// Adviser suggests the next move of a session.
type Adviser interface {
	// Advise returns the advice for s, or false when s has no move to
	// decide (not COUNTERED, or waiting for the seller).
	Advise(s buyer.Session) (Advice, bool)
}

// Advise implements Adviser: the move Decide makes, after the engine's
// guardrails, with the signals behind it.
func (a *Adaptive) Advise(s buyer.Session) (Advice, bool) {
	if s.State != buyer.StateCountered || s.AwaitingSeller || s.LastSellerPrice == nil {
		return Advice{}, false
	}
	p := a.plan(s)
	d, _ := s.PlanDecision(p.decision)
	adv := Advice{Action: d.Action, Reason: p.reason, Strategy: a.Name(), Signals: a.signals(s, p)}
	if d.Action != buyer.ActionExit {
		price := d.Price
		adv.Price = &price
	}
	return adv, true
}

// signals gathers the signals of plan p for session s.
func (a *Adaptive) signals(s buyer.Session, p plan) Signals {
	cur := s.MaxBudget.Currency
	m := p.model
	sig := Signals{Reading: p.fit.reading, FinalContradicted: m.contradicted, Concessions: []anp.Money{}}
	if m.ask == 0 { // another currency: nothing was read
		sig.Reading = ReadingUnknown
		return sig
	}
	for _, c := range m.concessions {
		sig.Concessions = append(sig.Concessions, anp.Money{Amount: c, Currency: cur})
	}
	low, high := m.floorRange(s.SellerFinal && !a.testsFinal(p), max(p.limit-s.Turn, 0))
	sig.FloorLow, sig.FloorHigh = anp.Money{Amount: low, Currency: cur}, anp.Money{Amount: high, Currency: cur}
	return sig
}

// floorRange estimates the lowest price the seller takes: a credible final
// offer is it; otherwise between its ask and the ask less its largest
// concession of the last two answers for each turn left, never below the
// buyer's own offer (a lower floor would not lower the price).
func (m opponentModel) floorRange(credibleFinal bool, turnsLeft int) (low, high int64) {
	high = m.ask
	if credibleFinal {
		return high, high
	}
	pace := int64(0)
	for i := max(len(m.concessions)-2, 0); i < len(m.concessions); i++ {
		pace = max(pace, m.concessions[i])
	}
	low = high
	if pace > 0 && turnsLeft > 0 {
		low = high - min(pace, high/int64(turnsLeft+1))*int64(turnsLeft)
	}
	low = max(low, m.own, 0)
	return min(low, high), high
}
