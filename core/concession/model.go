package concession

import (
	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Reading is what the opponent model makes of a seller so far.
type Reading string

// Readings of a seller.
const (
	ReadingUnknown    Reading = "unknown"     // too few answers to tell
	ReadingTimeBased  Reading = "time-based"  // concedes whatever the buyer does: waiting pays
	ReadingHolding    Reading = "holding"     // has not moved since the opening: it waits for its deadline
	ReadingMirroring  Reading = "mirroring"   // concedes in step with the buyer's raises (tit-for-tat)
	ReadingStepNeeded Reading = "step-needed" // concedes only after a large enough raise
)

// exchange is one seller answer to a raise of the buyer: how much the buyer
// raised its offer and how much the seller lowered its ask in reply.
type exchange struct {
	raise, concession int64
	ask, before       int64 // the seller's ask and the buyer's offer before the raise
}

// opponentModel is what the buyer has learnt of the seller from the
// session's rounds. Amounts are minor units of the budget's currency.
type opponentModel struct {
	firstAsk, ask int64   // the seller's first and latest asks
	opening, own  int64   // the buyer's first and latest offers (0: none yet)
	concessions   []int64 // the seller's concession in each answer after its first ask
	exchanges     []exchange
	sawFinal      bool  // the seller has called an ask final
	finalAsk      int64 // the latest ask called final (0: none)
	contradicted  bool  // an ask called final was later undercut
	finalTested   bool  // the buyer countered below a final and the seller answered with another counter
}

// modelOf reads session s. Without rounds reaching s's turn (a snapshot
// built by hand) it knows only the latest ask and offer.
func modelOf(s buyer.Session) opponentModel {
	m := opponentModel{ask: s.LastSellerPrice.Amount, own: amountOf(s.LastOwnOffer), sawFinal: s.SellerFinal}
	rounds := s.Rounds
	if len(rounds) == 0 || rounds[len(rounds)-1].Turn != s.Turn {
		m.firstAsk, m.opening = m.ask, m.own
		return m
	}
	m.firstAsk = rounds[0].SellerPrice.Amount
	for i := range rounds {
		m.observe(i, rounds)
	}
	return m
}

// observe takes round i of rounds into the model.
func (m *opponentModel) observe(i int, rounds []buyer.Round) {
	r := rounds[i]
	own := amountOf(r.OwnOffer)
	if m.opening == 0 && own > 0 {
		m.opening = own
	}
	ask := r.SellerPrice.Amount
	m.contradicted = m.contradicted || m.finalAsk > 0 && ask < m.finalAsk
	if r.Final {
		m.sawFinal, m.finalAsk = true, ask
	}
	if i == 0 {
		return
	}
	prev := rounds[i-1]
	before := amountOf(prev.OwnOffer)
	c := prev.SellerPrice.Amount - ask
	m.concessions = append(m.concessions, c)
	if prev.Final && own > before {
		m.finalTested = true // a counter below the final was answered, not rejected
	}
	if before > 0 && own > before {
		m.exchanges = append(m.exchanges, exchange{raise: own - before, concession: c, ask: prev.SellerPrice.Amount, before: before})
	}
}

// fit is a reading with the response it implies: a mirroring seller
// concedes about alpha + beta·raise in reply to a raise; a seller needing a
// step concedes after a raise of at least step.
type fit struct {
	reading     Reading
	alpha, beta float64
	step        int64
}

// read classifies the seller from its answers to the buyer's raises. A
// seller whose concessions grow with the buyer's raises reads as mirroring
// when the part it concedes on its own is small, or whatever that part when
// its ask is still above the budget: there, waiting risks no deal at all,
// while a conceder taken for a mirror only costs some price.
//
// A seller once read as mirroring stays so: a mixed mirror (one that also
// concedes on its own) answers the buyer's small raises mostly with its own
// concession, which alone reads as time-based, but its final offer is not
// its floor.
func (m opponentModel) read(budget int64) fit {
	f := m.readAll(budget)
	if f.reading == ReadingMirroring || f.reading == ReadingStepNeeded {
		return f
	}
	for n := len(m.exchanges) - 1; n >= 1; n-- {
		early := m
		early.exchanges = m.exchanges[:n]
		if e := early.readAll(budget); e.reading == ReadingMirroring {
			return e
		}
	}
	return f
}

// readAll reads the seller from all its answers so far.
func (m opponentModel) readAll(budget int64) fit {
	switch len(m.exchanges) {
	case 0:
		return fit{reading: m.idleReading()}
	case 1:
		if f, ok := m.exchanges[0].mirror(); ok {
			return f
		}
		return fit{reading: m.idleReading()}
	}
	big, small := m.extremes()
	if big.raise == small.raise {
		return fit{reading: m.idleReading()}
	}
	if small.concession <= 0 && big.concession > 0 {
		return fit{reading: ReadingStepNeeded, step: m.nextStep(m.ask > budget)}
	}
	beta := float64(big.concession-small.concession) / float64(big.raise-small.raise)
	alpha := float64(small.concession) - beta*float64(small.raise)
	if beta >= 0.5 && (alpha <= 0.5*float64(big.concession) || m.ask > budget) {
		return fit{reading: ReadingMirroring, alpha: max(alpha, 0), beta: beta}
	}
	return fit{reading: m.idleReading()}
}

// nextStep is the raise to make to a seller that concedes only after a
// large enough raise: a binary search between the largest raise it held
// after and the smallest it answered, so the buyer spends no more than it
// must; after a held turn, or while the seller's ask is above the budget
// (a held ask at its deadline would be its final offer), the smallest raise
// known to work.
func (m opponentModel) nextStep(insure bool) int64 {
	var held, earned int64
	for _, e := range m.exchanges {
		if e.concession <= 0 {
			held = max(held, e.raise)
		}
	}
	for _, e := range m.exchanges {
		if e.concession > 0 && e.raise > held && (earned == 0 || e.raise < earned) {
			earned = e.raise
		}
	}
	if last := m.exchanges[len(m.exchanges)-1]; insure || last.concession <= 0 || earned <= held*3/2 {
		return earned
	}
	return (held + earned + 1) / 2
}

// idleReading tells a seller that concedes on its own from one that holds.
func (m opponentModel) idleReading() Reading {
	if len(m.concessions) < 2 {
		return ReadingUnknown
	}
	for _, c := range m.concessions[1:] {
		if c > 0 {
			return ReadingTimeBased
		}
	}
	return ReadingHolding
}

// extremes returns the latest exchanges with the largest and the smallest
// raise.
func (m opponentModel) extremes() (big, small exchange) {
	big, small = m.exchanges[0], m.exchanges[0]
	for _, e := range m.exchanges[1:] {
		if e.raise >= big.raise {
			big = e
		}
		if e.raise <= small.raise {
			small = e
		}
	}
	return big, small
}

// mirror reports whether one answer is an exact imitation of the raise it
// answered: the same amount (absolute tit-for-tat) or the same proportion
// (relative tit-for-tat), within a minor unit and 0.5% (rounding).
func (e exchange) mirror() (fit, bool) {
	tol := func(v int64) int64 { return 1 + v/200 }
	if e.raise > 0 && abs64(e.concession-e.raise) <= tol(e.raise) {
		return fit{reading: ReadingMirroring, beta: 1}, true
	}
	rel := int64(float64(e.ask) * float64(e.raise) / float64(e.before+e.raise))
	if rel > 0 && abs64(e.concession-rel) <= tol(rel) {
		return fit{reading: ReadingMirroring, beta: float64(e.ask) / float64(e.before+e.raise)}, true
	}
	return fit{}, false
}

func amountOf(m *anp.Money) int64 {
	if m == nil {
		return 0
	}
	return m.Amount
}
