package reputation

import (
	"math"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Evidence is what a score rests on: counts over the party's deals.
type Evidence = anp.ReputationEvidence

// Score is a party's reputation at a time, with its evidence. Score, Mass
// and Penalty are rounded to 6 decimals.
type Score struct {
	Party    Party    `json:"party"`
	Score    float64  `json:"score"`   // [0, 100]; a newcomer has 100·Prior
	Mass     float64  `json:"mass"`    // m: decayed, weighted credit
	Penalty  float64  `json:"penalty"` // the factor of breaches and lost disputes, (0, 1]
	Evidence Evidence `json:"evidence"`
}

// PairScore is the directed score of To as From experienced it: from their
// deals with each other only, with To's evidence in those deals.
type PairScore struct {
	From     Party    `json:"from"`
	To       Party    `json:"to"`
	Score    float64  `json:"score"`
	Evidence Evidence `json:"evidence"`
}

// activity is the latest time the party on side r acted in d.
func (d *deal) activity(r Role) int64 {
	t := d.At
	switch r {
	case RoleSeller:
		t = max(t, d.fulfilled)
	case RoleBuyer:
		t = max(t, d.received)
	}
	if d.disputeBy == r {
		t = max(t, d.disputeAt)
	}
	return t
}

// add counts d, in which the party is on side r.
func addEvidence(e *Evidence, d *deal, r Role) {
	e.Deals++
	if d.credit(r) > 0 {
		e.Completed++
	}
	addDelivery(e, d, r)
	if d.breachBy == r {
		e.Breaches++
	}
	addDispute(e, d, r)
}

// addDelivery counts the delivery side of d for side r.
func addDelivery(e *Evidence, d *deal, r Role) {
	if r == RoleBuyer && d.received != 0 {
		e.Received++
	}
	switch {
	case d.Deadline == 0:
	case d.fulfilled == 0:
		if d.breachBy == "" && d.disputeBy == "" {
			e.Awaiting++
		}
	case r != RoleSeller:
	case d.fulfilled <= d.Deadline:
		e.OnTime++
	default:
		e.Late++
	}
}

// addDispute counts d's dispute for side r.
func addDispute(e *Evidence, d *deal, r Role) {
	switch d.disputeBy {
	case "":
		return
	case r:
		e.DisputesOpened++
	default:
		e.DisputesAgainst++
	}
	switch d.winner {
	case "":
	case Split:
		e.DisputesSplit++
	case Outcome(r):
		e.DisputesWon++
	default:
		e.DisputesLost++
	}
}

// The penalty is LostFactor^L · BreachFactor^B · LateFactor^D for p at now,
// where L, B and D sum 2^(−age/PenaltyHalfLife) over p's lost disputes,
// breaches and late deliveries, in the log order of their deals.

// penaltyWeights sums the decayed weights of a party's penalties.
type penaltyWeights struct{ lost, breach, late float64 }

// add adds d's penalties of side r at now.
func (w *penaltyWeights) add(d *deal, r Role, now int64) {
	if d.breachBy == r {
		w.breach += decay(now, d.breachAt, penaltyHalfLifeMs)
	}
	if d.winner != "" && d.winner != Split && d.winner != Outcome(r) {
		w.lost += decay(now, d.resolvedAt, penaltyHalfLifeMs)
	}
	if r == RoleSeller && d.Deadline != 0 && d.fulfilled > d.Deadline {
		w.late += decay(now, d.fulfilled, penaltyHalfLifeMs)
	}
}

func (w *penaltyWeights) factor() float64 {
	f := float64(math.Pow(LostFactor, w.lost) * math.Pow(BreachFactor, w.breach))
	return float64(f * math.Pow(LateFactor, w.late))
}

// baseWeight is the weight of voucher c as p's counterparty: from c's standing on
// its base mass without p, m0 = decay·max(0, T(c) − min(PairCap, A(c, p))).
func baseWeight(v voucher, now int64) float64 {
	l := v.ledger
	m0 := max(0, l.capped()-min(PairCap, v.theirs.total()))
	m0 = float64(m0 * decay(now, l.last, halfLifeMs))
	return weight(standing(m0, l.penalty(now)))
}

// Score returns p's reputation at now. A party without deals is a
// newcomer: score 100·Prior, no evidence.
func (b *Book) Score(p Party, now time.Time) Score {
	l, ok := b.parties[p]
	if !ok {
		return Score{Party: p, Score: round6(100 * Prior), Penalty: 1}
	}
	m, pen := b.figures(l, now.UnixMilli())
	return Score{Party: p, Score: round6(100 * standing(m, pen)), Mass: round6(m), Penalty: round6(pen), Evidence: l.evidence()}
}

// figures returns the mass and penalty of l's party at now, unrounded.
// Only vouchers can weigh: every other counterparty adds exactly 0.
func (b *Book) figures(l *ledger, ms int64) (m, pen float64) {
	vouched := 0.0
	for _, v := range l.vouchers {
		vouched += float64(v.mine.total() * baseWeight(v, ms))
	}
	m = float64((l.allowance() + vouched) * decay(ms, l.last, halfLifeMs))
	return m, l.penalty(ms)
}

// Pair returns the directed score of to as from experienced it.
func (b *Book) Pair(from, to Party, now time.Time) PairScore {
	ms := now.UnixMilli()
	var ps *pairSums
	if l, ok := b.parties[to]; ok {
		if i, found := l.find(from); found {
			ps = l.cps[i].pair
		}
	}
	if ps == nil {
		return PairScore{From: from, To: to, Score: round6(100 * Prior)}
	}
	var ev Evidence
	var credit float64
	var w penaltyWeights
	var last int64
	for _, pd := range ps.deals {
		d := pd.deal
		r := d.role(to)
		credit += float64(d.value * d.credit(r))
		last = max(last, d.activity(RoleSeller), d.activity(RoleBuyer))
		addEvidence(&ev, d, r)
		w.add(d, r, ms)
	}
	ev.Counterparties, ev.LastActivity = 1, last
	m := float64(credit * decay(ms, last, halfLifeMs))
	pen := w.factor()
	return PairScore{From: from, To: to, Score: round6(100 * standing(m, pen)), Evidence: ev}
}

// Pairs returns the directed scores between p and each of its
// counterparties, both ways, ordered by counterparty (p's view of it first).
func (b *Book) Pairs(p Party, now time.Time) []PairScore {
	l, ok := b.parties[p]
	if !ok {
		return nil
	}
	out := make([]PairScore, 0, 2*len(l.cps))
	for _, c := range l.cps {
		out = append(out, b.Pair(p, c.ledger.name, now), b.Pair(c.ledger.name, p, now))
	}
	return out
}

// Report is every party's score and every directed pair's at one time.
type Report struct {
	Formula string      `json:"formula"`
	At      int64       `json:"at"` // unix ms the scores are computed for
	Facts   uint64      `json:"facts"`
	Skipped uint64      `json:"skipped"`
	LogSize uint64      `json:"log_size"` // the leaves read, set by the caller
	Parties []Score     `json:"parties"`
	Pairs   []PairScore `json:"pairs"`
}

// Report computes every score at now, parties sorted, and each pair as
// seller's view of buyer then buyer's view of seller, in the sellers' order.
func (b *Book) Report(now time.Time) Report {
	r := Report{Formula: FormulaVersion, At: now.UnixMilli(), Facts: b.applied, Skipped: b.skipped, Parties: []Score{}}
	for _, p := range b.Parties() {
		r.Parties = append(r.Parties, b.Score(p, now))
	}
	r.Pairs = b.sellerPairs(now)
	return r
}

// sellerPairs lists the pairs of every seller with its buyers.
func (b *Book) sellerPairs(now time.Time) []PairScore {
	out := []PairScore{}
	for _, p := range b.Parties() {
		if IsBuyer(p) {
			continue
		}
		out = append(out, b.Pairs(p, now)...)
	}
	return out
}

// IsBuyer reports whether p names a buyer ("id:…" or "key:…").
func IsBuyer(p Party) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == ':' {
			return true
		}
	}
	return false
}

// Compute applies facts in order to a new Book and returns its report at
// now: the pure function of the formula.
func Compute(facts []Fact, now time.Time) Report {
	b := NewBook()
	for _, f := range facts {
		_ = b.Apply(f) // a fact that does not apply is counted in Skipped
	}
	return b.Report(now)
}

// PartyReport is one party's score and its directed pairs at one time.
type PartyReport struct {
	Formula string      `json:"formula"`
	At      int64       `json:"at"`
	LogSize uint64      `json:"log_size"` // the leaves read, set by the caller
	Score   Score       `json:"score"`
	Pairs   []PairScore `json:"pairs"`
}

// PartyReport computes p's score and pairs at now.
func (b *Book) PartyReport(p Party, now time.Time) PartyReport {
	pairs := b.Pairs(p, now)
	if pairs == nil {
		pairs = []PairScore{}
	}
	return PartyReport{Formula: FormulaVersion, At: now.UnixMilli(), Score: b.Score(p, now), Pairs: pairs}
}

// Public returns the score as listings carry it.
func (s Score) Public() anp.Reputation {
	return anp.Reputation{Formula: FormulaVersion, Score: s.Score, Evidence: s.Evidence}
}
