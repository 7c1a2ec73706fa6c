// Package opponent holds seller policies from the automated-negotiation
// literature, written from their published descriptions for this project's
// single-issue price negotiation: time-dependent concession with noise
// (Faratin, Sierra and Jennings 1998), absolute and relative tit-for-tat
// (the behaviour-dependent tactics of the same paper), MiCRO (de Jonge
// 2022), a hard-headed seller (after the ANAC 2011 winner HardHeaded), and
// the sellers a buyer meets in practice: one that walks away from an
// insulting offer, one that bluffs a "final" offer, one whose final offer is
// real, one that wants a step from the buyer before it concedes, and one
// with a deadline shorter than the buyer's.
//
// Every opponent is a seller.Policy, the contract seller nodes run, so the
// negotiation benchmark (package bench) and the demo market play exactly the
// same sellers. Opponents are stateless: each answer is a function of the
// session view (the turn, the seller's latest ask, the buyer's latest offer)
// and the opponent's parameters, noise included (drawn from a hash of Seed
// and the turn), so one value serves any number of sessions, concurrently.
//
// Amounts are totals in minor units of Base.Currency.
package opponent

import (
	"context"
	"fmt"
	"math"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// Base is what every opponent has: a first ask, a reservation price and a
// deadline.
type Base struct {
	Currency string
	List     int64 // the first ask
	Floor    int64 // the reservation price: the lowest price the seller ever accepts
	MaxTurns int   // the seller's deadline: its ask at this turn is final, and past it a lower offer is rejected
}

// Validate checks the base terms.
func (b Base) Validate() error {
	switch {
	case b.Currency == "":
		return fmt.Errorf("opponent: no currency")
	case b.Floor <= 0 || b.List < b.Floor:
		return fmt.Errorf("opponent: floor %d and list %d must satisfy 0 < floor <= list", b.Floor, b.List)
	case b.MaxTurns < 1:
		return fmt.Errorf("opponent: max turns %d must be at least 1", b.MaxTurns)
	}
	return nil
}

func (b Base) rule() seller.AskRule {
	return seller.AskRule{Currency: b.Currency, List: b.List, Floor: b.Floor, MaxTurns: b.MaxTurns}
}

func (b Base) span() int64 { return b.List - b.Floor }

// answer applies the seller.AskRule at v.Turn to offer with the policy's
// ask; the ask at the deadline is final.
func (b Base) answer(v seller.SessionView, offer, ask int64) seller.Decision {
	return b.rule().Answer(v, v.Turn, offer, ask, v.Turn >= b.MaxTurns)
}

// timeAsk is the time-dependent tactic of Faratin et al.: at turn k (the
// PROPOSE is turn 1) the ask is floor + (list-floor)·(1 - (t/T)^(1/e)),
// t = k-1, T = MaxTurns-1, so the first ask is the list price and the ask at
// the deadline is the floor. e < 1 concedes late (Boulware), e > 1 early
// (Conceder). It is rounded up to a whole minor unit.
func (b Base) timeAsk(turn int, e float64) int64 {
	if turn <= 1 {
		return b.List
	}
	if turn >= b.MaxTurns {
		return b.Floor
	}
	x := float64(turn-1) / float64(b.MaxTurns-1)
	v := float64(b.span()) * (1 - math.Pow(x, 1/e))
	return b.Floor + int64(math.Ceil(v-1e-9*math.Max(1, v)))
}

// offerOf is the buyer's opening offer of a PROPOSE (0: none).
func offerOf(p anp.ProposeBody) int64 {
	if p.Offer == nil {
		return 0
	}
	return p.Offer.Amount
}

// amountOr is m's amount, or def when there is none.
func amountOr(m *anp.Money, def int64) int64 {
	if m == nil {
		return def
	}
	return m.Amount
}

// noise is a deterministic draw in [-1, 1] for seed and turn (splitmix64).
func noise(seed uint64, turn int) float64 {
	z := seed + uint64(turn)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<52) - 1
}

// tactic is an opponent's rule: its answer to the buyer's offer (0: none)
// at turn v.Turn.
type tactic interface {
	base() Base
	respond(v seller.SessionView, offer int64) seller.Decision
}

func (b Base) base() Base { return b }

// open answers a PROPOSE the way every opponent does: the list price, or
// the buyer's opening offer answered like a counter at turn 1.
func open(t tactic, v seller.SessionView, p anp.ProposeBody) (seller.Decision, error) {
	b := t.base()
	if p.Currency != b.Currency {
		return b.wrongCurrency(), nil
	}
	if o := offerOf(p); o > 0 {
		return t.respond(v, o), nil
	}
	return b.answer(v, 0, b.List), nil
}

// respond answers a buyer COUNTER: an offer in another currency is refused.
func respond(t tactic, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	if offer.Currency != t.base().Currency {
		return t.base().wrongCurrency(), nil
	}
	return t.respond(v, offer.Amount), nil
}

func (b Base) wrongCurrency() seller.Decision {
	return seller.Decision{Action: seller.ActionReject, Message: fmt.Sprintf("This seller prices in %s.", b.Currency)}
}

// TimeDependent concedes with time only: the Faratin et al. polynomial
// tactic with exponent E (see Base.timeAsk), plus noise of up to
// Noise·(list-floor) either way on every ask before the deadline. Its ask
// at MaxTurns is the floor, as a final offer.
type TimeDependent struct {
	Base
	E     float64 // concession exponent: < 1 Boulware, 1 linear, > 1 Conceder
	Noise float64 // noise amplitude as a fraction of list-floor
	Seed  uint64
}

// Open implements seller.Policy.
func (p TimeDependent) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p TimeDependent) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p TimeDependent) respond(v seller.SessionView, offer int64) seller.Decision {
	return p.answer(v, offer, p.ask(v.Turn))
}

// ask is the tactic's ask at turn, noise included.
func (p TimeDependent) ask(turn int) int64 {
	a := p.timeAsk(turn, p.E)
	if p.Noise > 0 && turn > 1 && turn < p.MaxTurns {
		a += int64(math.Round(p.Noise * float64(p.span()) * noise(p.Seed, turn)))
		a = max(a, p.Floor+1) // the floor comes at the deadline, as the final offer
	}
	return a
}
