package sandbox

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Curve is the shape of a Strategy's concession over the turns.
type Curve int

// Concession curves. The exponent e shapes target(t) = open + (reserve -
// open) * x^(1/e), x running from 0 at the first counter to 1 at the last.
const (
	Boulware Curve = iota // e = 0.3: holds firm, concedes late
	Linear                // e = 1: equal steps
	Conceder              // e = 3: concedes early
)

// String returns the curve's name as ParseStrategy accepts it.
func (c Curve) String() string {
	switch c {
	case Boulware:
		return "boulware"
	case Linear:
		return "linear"
	case Conceder:
		return "conceder"
	}
	return fmt.Sprintf("curve(%d)", int(c))
}

// Exponent returns the curve's concession exponent e.
func (c Curve) Exponent() float64 {
	switch c {
	case Linear:
		return 1
	case Conceder:
		return 3
	}
	return 0.3
}

// DefaultOpenFraction is the opening offer as a fraction of the reserve
// (the budget, or the seller's first price when that is lower).
const DefaultOpenFraction = 0.5

// Strategy is a deterministic buyer decider with a time-dependent concession
// curve towards the budget over the session's max turns.
//
// Its rules, in order:
//   - no legal move left (max turns reached), or the seller's final price is
//     above the budget: exit;
//   - the seller's price is within the budget and at or below the current
//     target, or final, or this is the last move allowed: accept;
//   - otherwise counter at the target, where the reserve is the budget or the
//     seller's first price when that is lower (it never plans to pay more than
//     was asked), never at or above the seller's price and never below its own
//     previous offer;
//   - when the seller's price is within the budget and close (within a tenth
//     of the reserve) to its own last offer, it offers the midpoint instead,
//     and when the seller has mirrored its concessions twice in a row
//     (tit-for-tat) it offers the midpoint, which such a seller meets;
//   - on the last move, with the seller still above the budget, it makes its
//     best offer: the budget.
//
// A Strategy made by NewStrategy or ParseStrategy remembers the seller's asks
// per session (to see its first price and whether it mirrors the buyer); a
// Strategy literal decides from the snapshot alone, taking the seller's price
// at turn 1 as its first and, later on, the budget as the reserve. Either is
// safe for concurrent sessions.
type Strategy struct {
	Curve        Curve
	OpenFraction float64 // opening offer as a fraction of the reserve; 0 means DefaultOpenFraction

	mem *askMemory
}

// NewStrategy returns a Strategy with per-session memory.
func NewStrategy(c Curve, openFraction float64) *Strategy {
	return &Strategy{Curve: c, OpenFraction: openFraction, mem: newAskMemory()}
}

// ParseStrategy returns the Strategy named "boulware", "linear" or
// "conceder" (case-insensitive), with the default opening fraction.
func ParseStrategy(name string) (buyer.Decider, error) {
	c, err := parseCurve(name)
	if err != nil {
		return nil, err
	}
	return NewStrategy(c, 0), nil
}

func parseCurve(name string) (Curve, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "boulware":
		return Boulware, nil
	case "linear":
		return Linear, nil
	case "conceder":
		return Conceder, nil
	}
	return 0, fmt.Errorf("sandbox: unknown strategy %q (want boulware, linear or conceder)", name)
}

// Name returns "strategy:<curve>".
func (st Strategy) Name() string { return "strategy:" + st.Curve.String() }

// Decide implements buyer.Decider.
func (st Strategy) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("sandbox: session %s: no seller price to respond to", s.ID)
	}
	b, ask := s.MaxBudget.Amount, s.LastSellerPrice.Amount
	if s.LastSellerPrice.Currency != s.MaxBudget.Currency {
		return st.exit(s, "The price is not in our currency."), nil
	}
	own := int64(0)
	if s.LastOwnOffer != nil {
		own = s.LastOwnOffer.Amount
	}
	h := askHistory{turns: []int{s.Turn}, asks: []int64{ask}, offers: []int64{own}}
	switch {
	case len(s.Rounds) > 0 && s.Rounds[len(s.Rounds)-1].Turn == s.Turn:
		h = historyOf(s.Rounds) // the engine's record: the same on every pod and after restarts
	case st.mem != nil:
		h = st.mem.observe(s)
	}
	reserve := min(b, h.firstAsk())
	if h.offers[0] != 0 { // joined mid-session: the seller's first price is unknown
		reserve = b
	}
	T := max(s.MaxTurns, 2)
	next := s.Turn + 1
	switch {
	case next > T:
		return st.exit(s, "We have reached the maximum number of turns."), nil
	case ask > b && s.SellerFinal:
		return st.exit(s, "Your final price is above what we can pay."), nil
	}
	target := st.target(next, T, reserve)
	if ask <= b && (ask <= target || s.SellerFinal || next == T) {
		return st.accept(s), nil
	}
	offer := max(target, own)
	if own > 0 && (ask <= b && ask-own <= reserve/10 || h.mirrorsBuyer(1)) {
		offer = max(offer, own+(ask-own+1)/2) // rounded up, so a mirroring seller meets it
	}
	if next == T {
		offer = b
	}
	offer = max(min(offer, b), 1)
	if offer >= ask { // a counter at or above the seller's price is an accept
		return st.accept(s), nil
	}
	p := anp.Money{Amount: offer, Currency: s.MaxBudget.Currency}
	return buyer.Decision{Action: buyer.ActionCounter, Price: p, Message: fmt.Sprintf("We can offer %s.", p), Source: st.Name()}, nil
}

// target is the curve's offer for turn next of at most T, towards reserve.
// The first counter is turn 2 (PROPOSE is turn 1).
func (st Strategy) target(next, T int, reserve int64) int64 {
	open := st.OpenFraction
	if open <= 0 || open > 1 {
		open = DefaultOpenFraction
	}
	x := 1.0
	if T > 2 {
		x = math.Min(math.Max(float64(next-2)/float64(T-2), 0), 1)
	}
	r := float64(reserve)
	return int64(math.Floor(r*open + (r-r*open)*math.Pow(x, 1/st.Curve.Exponent())))
}

func (st Strategy) accept(s buyer.Session) buyer.Decision {
	if st.mem != nil {
		st.mem.forget(s.ID)
	}
	return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice, Message: "We accept your price.", Source: st.Name()}
}

func (st Strategy) exit(s buyer.Session, msg string) buyer.Decision {
	if st.mem != nil {
		st.mem.forget(s.ID)
	}
	return buyer.Decision{Action: buyer.ActionExit, Message: msg, Source: st.Name()}
}
