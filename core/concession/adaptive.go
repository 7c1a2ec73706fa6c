package concession

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// The adaptive strategy's constants, chosen on the negotiation benchmark's
// tuned split (see docs/benchmarks.md).
const (
	openLow, openHigh     = 0.53, 0.59   // the opening offer, as a share of the seller's first ask (skewed to the low end)
	probeLow, probeHigh   = 0.07, 0.10   // the first raise, as a share of the gap to the seller's ask
	marginLow, marginHigh = 0.003, 0.015 // offers stay below the budget by a private share of it
	tokenRaise            = 0.001        // a raise that keeps a seller conceding, as a share of its ask
	bluffShare            = 0.92         // a "final" ask at or above this share of the first ask can be a bluff
	ownPace               = 250          // a first concession of at least 1/ownPace of the first ask is the seller's own pace
	adaptiveSeedSize      = 32           // bytes of private seed
	adaptiveLabel         = "clinch adaptive strategy v1"
	minTurns              = 2
)

// Adaptive is the buyer strategy that models its opponent. It reads the
// seller's asks from the session's rounds and decides:
//
//   - the opening offer is anchored to the seller's first ask, at a private
//     share of it (53% to 59%, skewed to the low end, drawn from the
//     strategy's seed and the negotiation's terms), never to the budget:
//     when the budget exceeds the seller's ask the opening does not depend
//     on the budget at all;
//   - the first raise is a probe (7% to 10% of the gap), the next a token
//     raise, and the seller's answers to the two tell how it concedes: on its
//     own (time-based: keep raising by a token and wait for its final
//     offer), in step with the buyer (mirroring, tit-for-tat: close the gap
//     at the point it meets), only after a large enough raise (repeat that
//     raise), or not at all (holding: wait for its deadline);
//   - while the seller's ask is above the budget, a seller whose answers
//     depend on the buyer's raises (mirroring, asking for a step) gets the
//     raise that brings its next answer within the budget when one is
//     affordable, since that answer may be its final offer; a mixed mirror
//     that cannot be brought there yet is waited for, its raise kept for
//     later; once read as mirroring, a seller stays read so;
//   - a price within budget is accepted when it is at or under the offer the
//     strategy would make, when it is a credible final offer, or when no
//     counter is left;
//   - a "final" offer is a claim: one at 92% or more of the seller's first
//     ask from a seller that has not been mirroring is tested with a counter
//     while turns remain, and once a seller has answered a counter below its
//     final with another counter, its finals are tested until the last turn;
//     a final above the budget is always tested while a counter is left;
//   - offers stay below the budget by a private margin (0.3% to 1.5% of it)
//     and never go down, so no offer equals the budget or a fixed share of it.
//
// The engine's guardrails (buyer.Session.PlanDecision) still apply to every
// decision: the strategy proposes, the rules clamp. An Adaptive is
// deterministic for its seed and safe for concurrent use; it keeps no state,
// so any pod with the same seed continues a session the same way.
type Adaptive struct {
	seed []byte
}

// NewAdaptive returns the strategy with a private seed. The same seed makes
// the same decisions; keep it secret, since it draws the opening share.
func NewAdaptive(seed []byte) *Adaptive {
	return &Adaptive{seed: append([]byte(nil), seed...)}
}

// Default returns the strategy used when none is configured: Adaptive with
// a fresh random seed.
func Default() *Adaptive {
	seed := make([]byte, adaptiveSeedSize)
	if _, err := rand.Read(seed); err != nil {
		panic(fmt.Sprintf("concession: no randomness for the strategy seed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return NewAdaptive(seed)
}

// Name returns "strategy:adaptive".
func (a *Adaptive) Name() string { return "strategy:adaptive" }

// Decide implements buyer.Decider.
func (a *Adaptive) Decide(_ context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("concession: session %s: no seller price to respond to", s.ID)
	}
	return a.plan(s).decision, nil
}

// plan is a decision with the reading behind it.
type plan struct {
	decision buyer.Decision
	reason   string // why, in a few words for a person or a model
	model    opponentModel
	fit      fit
	next     int // the turn the decision makes
	limit    int
	budget   int64
}

// plan decides the next move of s, which has a seller price.
func (a *Adaptive) plan(s buyer.Session) plan {
	p := plan{next: s.Turn + 1, limit: max(s.TurnLimit(), minTurns), budget: s.MaxBudget.Amount}
	if s.LastSellerPrice.Currency != s.MaxBudget.Currency {
		p.decision, p.reason = a.exit("The price is not in our currency."), "the seller prices in another currency"
		return p
	}
	p.model = modelOf(s)
	p.fit = p.model.read(s.MaxBudget.Amount)
	p.decision, p.reason = a.decide(s, p)
	return p
}

// decide applies the rules listed on Adaptive, in that order.
func (a *Adaptive) decide(s buyer.Session, p plan) (buyer.Decision, string) {
	m, budget := p.model, s.MaxBudget.Amount
	within := m.ask <= budget
	switch {
	case p.next > p.limit && within:
		return a.accept(s), "no counter is left and the price is within the budget"
	case p.next > p.limit:
		return a.exit("We could not agree within our turns."), "no counter is left and the price is above the budget"
	case s.SellerFinal && within && !a.testsFinal(p):
		return a.accept(s), "a credible final offer within the budget"
	}
	r := a.draw(s, m.firstAsk)
	target, why := a.target(p, r)
	offer := min(target, budget-r.margin(budget))
	if offer <= m.own { // at the ceiling: the least raise left, or hold
		offer = min(m.own+1, max(budget-r.margin(budget), m.own))
	}
	offer = max(offer, 1)
	if s.SellerFinal {
		why = "the final offer may be a bluff, so it is tested: " + why
	}
	switch {
	case within && offer >= m.ask:
		return a.accept(s), "the price is at or under the offer we would make"
	case offer >= m.ask: // over the budget, and no higher offer is left: hold and let the seller move
		if m.own <= 0 || m.own >= m.ask {
			return a.exit("Your price is above what we can pay."), "the price is above the budget and no offer is left"
		}
		offer, why = m.own, "the offer is at its ceiling; the seller must move"
	}
	return a.counter(anp.Money{Amount: offer, Currency: s.MaxBudget.Currency}), why
}

// testsFinal reports whether a final offer within budget is tested rather
// than accepted: it is high against the seller's first ask and either the
// seller has carried on after a counter below an earlier final, or it has
// not been answering the buyer's raises (mirroring or asking for a step).
func (a *Adaptive) testsFinal(p plan) bool {
	m := p.model
	if float64(m.ask) < bluffShare*float64(m.firstAsk) {
		return false
	}
	return m.finalTested || p.fit.reading != ReadingMirroring && p.fit.reading != ReadingStepNeeded
}

// target is the offer the reading calls for, before the budget cap, and why.
func (a *Adaptive) target(p plan, r draws) (int64, string) {
	m := p.model
	if m.own == 0 {
		return int64(math.Floor(float64(m.ask) * r.open)), "the opening, anchored to the seller's ask"
	}
	gap := m.ask - m.own
	token := max(int64(math.Ceil(float64(m.ask)*tokenRaise)), 1)
	switch {
	case len(m.exchanges) == 0:
		return m.own + max(int64(math.Ceil(float64(gap)*r.probe)), token), "a first raise, to see how the seller answers"
	case len(m.exchanges) == 1 && p.fit.reading != ReadingMirroring:
		if e := m.exchanges[0]; e.concession <= 0 && m.concessions[0] >= m.firstAsk/ownPace {
			return m.own + 2*e.raise, "a larger raise: the seller moved on its own, then held after the first raise"
		}
		if ins, ok := a.earlyInsurance(p, r, token); ok {
			return ins, "a raise that brings a mirroring seller's answer within the budget, in case its deadline is near"
		}
		return m.own + token, "a token raise, to compare the seller's answers"
	}
	switch p.fit.reading {
	case ReadingMirroring:
		return a.mirrorTarget(p, r, token)
	case ReadingStepNeeded:
		return m.own + max(p.fit.step, token), "the seller concedes only after a large enough raise: make that raise"
	case ReadingHolding:
		return m.own + token, "the seller holds: a token raise while waiting for its deadline"
	}
	return m.own + token, "the seller concedes on its own: a token raise while waiting for its final offer"
}

// draws are the strategy's private random shares for one negotiation.
type draws struct {
	open, probe, marginShare float64
}

// margin is how far below the budget offers stay.
func (r draws) margin(budget int64) int64 {
	return max(int64(math.Ceil(float64(budget)*r.marginShare)), 1)
}

// draw derives the negotiation's private shares from the seed and what the
// negotiation is about (seller, item, quantity, terms, the seller's first
// ask), so every decision of one negotiation, on any pod, draws the same.
func (a *Adaptive) draw(s buyer.Session, firstAsk int64) draws {
	mac := hmac.New(sha256.New, a.seed)
	write := func(v string) {
		mac.Write([]byte(strconv.Itoa(len(v))))
		mac.Write([]byte{':'})
		mac.Write([]byte(v))
	}
	write(adaptiveLabel)
	write(s.Seller)
	write(s.Item)
	write(strconv.Itoa(s.Quantity))
	write(s.MaxBudget.Currency)
	write(strconv.FormatInt(firstAsk, 10))
	keys := make([]string, 0, len(s.Terms))
	for k := range s.Terms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		write(k)
		write(s.Terms[k])
	}
	sum := mac.Sum(nil)
	unit := func(i int) float64 { return float64(binary.BigEndian.Uint64(sum[8*i:])>>11) / (1 << 53) }
	return draws{
		open:        openLow + (openHigh-openLow)*unit(0)*unit(0), // mean 0.55: a mirror meets a lower opening lower
		probe:       probeLow + (probeHigh-probeLow)*unit(1),
		marginShare: marginLow + (marginHigh-marginLow)*unit(2),
	}
}

func (a *Adaptive) accept(s buyer.Session) buyer.Decision {
	return buyer.Decision{Action: buyer.ActionAccept, Price: *s.LastSellerPrice, Message: "We accept your price.", Source: a.Name()}
}

func (a *Adaptive) exit(msg string) buyer.Decision {
	return buyer.Decision{Action: buyer.ActionExit, Message: msg, Source: a.Name()}
}

func (a *Adaptive) counter(price anp.Money) buyer.Decision {
	return buyer.Decision{Action: buyer.ActionCounter, Price: price, Message: fmt.Sprintf("We can offer %s.", price), Source: a.Name()}
}

// earlyInsurance is the second raise to a seller whose ask is above the
// budget and whose answer to the first raise looked like a mirror's: it
// conceded at least the raise, and half as much again as it conceded on
// its own before. A token raise would tell a mirror from a time-based
// seller, but if the mirror's deadline is the next turn its answer to a
// token is its final offer, above the budget. So the raise is what brings
// an exact mirror's answer within the budget (the ask's excess over the
// highest offer), when that offer is affordable. A time-based seller,
// whose final offer is its floor, rarely shows this pattern.
func (a *Adaptive) earlyInsurance(p plan, r draws, token int64) (int64, bool) {
	m, e := p.model, p.model.exchanges[0]
	if m.ask <= p.budget || e.concession < e.raise || 2*e.concession < 3*m.concessions[0] {
		return 0, false
	}
	ceiling := p.budget - r.margin(p.budget)
	ins := m.own + m.ask - ceiling
	return ins, ins <= ceiling && ins > m.own+token
}

// mirrorTarget is the offer to a seller that mirrors raises. Where its
// answer meets the offer within the budget, the offer goes there.
// Otherwise the smallest raise whose answer the model puts within the
// budget: a seller's ask never rises, so a deal is then certain, even if
// its next answer is its final offer. When even the highest offer would
// not do that, a seller that concedes partly on its own (a mixed mirror)
// is held with a minimal raise, since its answer to a raise fades turn by
// turn while its own concession keeps working, and the raise is kept for
// later; the last counter, and any to a pure mirror, which gives nothing
// for waiting, go to the ceiling.
func (a *Adaptive) mirrorTarget(p plan, r draws, token int64) (int64, string) {
	m, f := p.model, p.fit
	gap := float64(m.ask - m.own)
	ceiling := p.budget - r.margin(p.budget)
	meet := m.own + max(int64(math.Ceil((gap-f.alpha)/(1+f.beta)+0.01*gap)), token)
	if meet <= ceiling || f.beta <= 0 {
		return meet, "the seller mirrors raises: offer where its answer meets us"
	}
	ins := m.own + max(int64(math.Ceil((float64(m.ask-p.budget)-f.alpha)/f.beta)), token)
	switch {
	case ins <= ceiling:
		return ins, "the seller mirrors raises: raise just enough that its answer comes within the budget"
	case p.next >= p.limit || f.alpha <= 0:
		return ceiling, "the seller mirrors raises: offer the ceiling"
	}
	return m.own + 1, "the seller mirrors raises but cannot be met within the budget yet: hold and let it concede on its own"
}
