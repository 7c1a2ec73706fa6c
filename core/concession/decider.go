// Package concession holds the buyer's deterministic deciders: Adaptive,
// the strategy that models its opponent (the default of cascades,
// `negotiate --auto` and the autonomous mode's fallback, see Default), and
// Decider, a time-dependent concession curve (Boulware, Linear or
// Conceder) towards the budget over the session's max turns, kept as a
// baseline. They use no model and no I/O, so the server runs them as its
// deterministic deciders, the sandbox falls back to them, and the
// negotiation benchmark measures them. Adaptive also advises a host's model
// (Advise): the move it would make and the signals behind it.
//
// The package implements buyer.Decider; the engine (buyer.Core.Negotiate)
// applies buyer.Session.PlanDecision to every decision it makes.
package concession

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Curve is the shape of a Decider's concession over the turns.
type Curve int

// Concession curves. The exponent e shapes target(t) = open + (reserve -
// open) * x^(1/e), x running from 0 at the first counter to 1 at the last.
const (
	Boulware Curve = iota // e = 0.3: holds firm, concedes late
	Linear                // e = 1: equal steps
	Conceder              // e = 3: concedes early
)

// String returns the curve's name as ParseCurve accepts it.
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

// Decider is the deterministic buyer decider: a time-dependent concession
// curve towards the budget over the session's turn limit as the engine
// enforces it (buyer.Session.TurnLimit: max turns, or the engine's default
// when unset).
//
// Its rules, in order:
//   - no legal move left (the turn limit reached), or the seller's final price is
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
// A Decider reads the seller's asks from the rounds the engine records in
// the session (buyer.Session.Rounds), so any engine sharing the session
// store continues a session the same way. Given a snapshot whose rounds do
// not reach its turn (one built by hand), a Decider made by New, Default or
// Parse falls back on its own per-session memory
// (to see the seller's first price and whether it mirrors the buyer); a
// Decider literal then decides from the snapshot alone, taking the seller's
// price at turn 1 as its first and, later on, the budget as the reserve.
// Either is safe for concurrent sessions.
type Decider struct {
	Curve        Curve
	OpenFraction float64 // opening offer as a fraction of the reserve; 0 means DefaultOpenFraction

	mem *askMemory
}

// New returns a Decider with per-session memory.
func New(c Curve, openFraction float64) *Decider {
	return &Decider{Curve: c, OpenFraction: openFraction, mem: newAskMemory()}
}

// Parse returns the Decider whose curve is named "boulware", "linear" or
// "conceder" (case-insensitive), with the default opening fraction.
func Parse(name string) (*Decider, error) {
	c, err := ParseCurve(name)
	if err != nil {
		return nil, err
	}
	return New(c, 0), nil
}

// ParseCurve returns the curve named "boulware", "linear" or "conceder"
// (case-insensitive, surrounding spaces ignored).
func ParseCurve(name string) (Curve, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "boulware":
		return Boulware, nil
	case "linear":
		return Linear, nil
	case "conceder":
		return Conceder, nil
	}
	return 0, fmt.Errorf("concession: unknown curve %q (want boulware, linear or conceder)", name)
}

// Name returns "strategy:<curve>".
func (k Decider) Name() string { return "strategy:" + k.Curve.String() }

// Decide implements buyer.Decider. It applies the rules listed on Decider,
// in that order; a price in another currency than the budget is an exit.
func (k Decider) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("concession: session %s: no seller price to respond to", s.ID)
	}
	if s.LastSellerPrice.Currency != s.MaxBudget.Currency {
		return k.exit(s, "The price is not in our currency."), nil
	}
	p := k.positionOf(s)
	if reason := p.exitReason(); reason != "" {
		return k.exit(s, reason), nil
	}
	target := k.target(p.next, p.limit, p.reserve)
	if p.accepts(target) {
		return k.accept(s), nil
	}
	offer := p.counterOffer(target)
	if offer >= p.ask { // a counter at or above the seller's price is an accept
		return k.accept(s), nil
	}
	return k.counter(anp.Money{Amount: offer, Currency: s.MaxBudget.Currency}), nil
}

// position is what a Decider weighs in one decision; amounts are in minor
// units of the budget's currency.
type position struct {
	budget, ask int64 // the buyer's budget and the seller's price
	own         int64 // the buyer's standing offer; 0: none
	reserve     int64 // the most it plans to pay: the budget, or the seller's first price when lower
	final       bool  // the seller's price is final
	next, limit int   // the turn this decision makes and the last turn allowed
	h           askHistory
}

// positionOf gathers the position of session s. The turn limit is the
// engine's (buyer.Session.TurnLimit), at least 2.
func (k Decider) positionOf(s buyer.Session) position {
	p := position{budget: s.MaxBudget.Amount, ask: s.LastSellerPrice.Amount, final: s.SellerFinal,
		next: s.Turn + 1, limit: max(s.TurnLimit(), 2)}
	if s.LastOwnOffer != nil {
		p.own = s.LastOwnOffer.Amount
	}
	p.h = k.history(s, p.ask, p.own)
	p.reserve = min(p.budget, p.h.firstAsk())
	if p.h.offers[0] != 0 { // joined mid-session: the seller's first price is unknown
		p.reserve = p.budget
	}
	return p
}

// history is what is known of session s's asks and offers: the rounds the
// engine recorded when they reach s's turn (the same on every pod and after
// restarts), else the Decider's memory, which records this ask, else s's
// current ask and own offer alone.
func (k Decider) history(s buyer.Session, ask, own int64) askHistory {
	switch {
	case len(s.Rounds) > 0 && s.Rounds[len(s.Rounds)-1].Turn == s.Turn:
		return historyOf(s.Rounds)
	case k.mem != nil:
		return k.mem.observe(s)
	}
	return askHistory{turns: []int{s.Turn}, asks: []int64{ask}, offers: []int64{own}}
}

// exitReason is the first rule: the message to exit with when no legal move
// is left or the seller's final price is above the budget, else "".
func (p position) exitReason() string {
	switch {
	case p.next > p.limit:
		return "We have reached the maximum number of turns."
	case p.ask > p.budget && p.final:
		return "Your final price is above what we can pay."
	}
	return ""
}

// accepts is the second rule: the seller's price is within the budget and at
// or below target, or final, or this is the last move allowed.
func (p position) accepts(target int64) bool {
	return p.ask <= p.budget && (p.ask <= target || p.final || p.lastMove())
}

// counterOffer is the offer of the remaining rules, from 1 to the budget:
// the curve's target but never below its own previous offer, the midpoint
// when meetsHalfway, and the budget on the last move.
func (p position) counterOffer(target int64) int64 {
	offer := max(target, p.own)
	if p.meetsHalfway() {
		offer = max(offer, p.own+(p.ask-p.own+1)/2) // rounded up, so a mirroring seller meets it
	}
	if p.lastMove() {
		offer = p.budget
	}
	return max(min(offer, p.budget), 1)
}

// meetsHalfway reports whether to offer the midpoint between its own last
// offer and the seller's price: the price is within the budget and within a
// tenth of the reserve of that offer, or the seller mirrors its concessions.
func (p position) meetsHalfway() bool {
	return p.own > 0 && (p.ask <= p.budget && p.ask-p.own <= p.reserve/10 || p.h.mirrorsBuyer(1))
}

// lastMove reports whether this decision makes the last turn allowed.
func (p position) lastMove() bool { return p.next == p.limit }

// target is the curve's offer for turn next of at most T, towards reserve.
// The first counter is turn 2 (PROPOSE is turn 1).
func (k Decider) target(next, T int, reserve int64) int64 {
	open := k.OpenFraction
	if open <= 0 || open > 1 {
		open = DefaultOpenFraction
	}
	x := 1.0
	if T > 2 {
		x = math.Min(math.Max(float64(next-2)/float64(T-2), 0), 1)
	}
	r := float64(reserve)
	return int64(math.Floor(r*open + (r-r*open)*math.Pow(x, 1/k.Curve.Exponent())))
}

func (k Decider) accept(s buyer.Session) buyer.Decision {
	if k.mem != nil {
		k.mem.forget(s.ID)
	}
	return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice, Message: "We accept your price.", Source: k.Name()}
}

func (k Decider) exit(s buyer.Session, msg string) buyer.Decision {
	if k.mem != nil {
		k.mem.forget(s.ID)
	}
	return buyer.Decision{Action: buyer.ActionExit, Message: msg, Source: k.Name()}
}

// counter is the decision to counter at price.
func (k Decider) counter(price anp.Money) buyer.Decision {
	return buyer.Decision{Action: buyer.ActionCounter, Price: price, Message: fmt.Sprintf("We can offer %s.", price), Source: k.Name()}
}
