package reputation

import (
	"math"
	"slices"
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

// agg is the time-free part of a party's figures, cached between changes.
type agg struct {
	cps   []Party           // counterparties, sorted
	pair  map[Party]float64 // A(p, c): credit earned with c, summed in log order
	total float64           // T(p) = Σ over cps of min(PairCap, A(p, c))
	raw   float64           // R(p) = Σ over cps of A(p, c)
	last  int64             // last activity, unix ms
	ev    Evidence
}

// agg returns p's cached sums, computing them when needed.
func (b *Book) agg(p Party) *agg {
	if a, ok := b.aggs[p]; ok {
		return a
	}
	a := &agg{pair: map[Party]float64{}}
	for _, d := range b.byParty[p] {
		r, c := d.role(p), d.counterparty(p)
		if _, seen := a.pair[c]; !seen {
			a.cps = append(a.cps, c)
		}
		a.pair[c] += float64(d.value * d.credit(r))
		a.last = max(a.last, d.activity(r))
		addEvidence(&a.ev, d, r)
	}
	slices.Sort(a.cps)
	for _, c := range a.cps {
		a.total += min(PairCap, a.pair[c])
		a.raw += a.pair[c]
	}
	a.ev.Counterparties, a.ev.LastActivity = len(a.cps), a.last
	b.aggs[p] = a
	return a
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

// penalty is LostFactor^L · BreachFactor^B · LateFactor^D for p at now,
// where L, B and D sum 2^(−age/PenaltyHalfLife) over p's lost disputes,
// breaches and late deliveries, in the log order of their deals.
func (b *Book) penalty(p Party, now int64) float64 {
	var w penaltyWeights
	for _, d := range b.byParty[p] {
		w.add(d, d.role(p), now)
	}
	return w.factor()
}

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

// baseWeight is the weight of c as p's counterparty: from c's standing on
// its base mass without p, m0 = decay·max(0, T(c) − min(PairCap, A(c, p))).
func (b *Book) baseWeight(c, p Party, now int64) float64 {
	a := b.agg(c)
	m0 := max(0, a.total-min(PairCap, a.pair[p]))
	m0 = float64(m0 * decay(now, a.last, halfLifeMs))
	return weight(standing(m0, b.penalty(c, now)))
}

// Score returns p's reputation at now. A party without deals is a
// newcomer: score 100·Prior, no evidence.
func (b *Book) Score(p Party, now time.Time) Score {
	ms := now.UnixMilli()
	if len(b.byParty[p]) == 0 {
		return Score{Party: p, Score: round6(100 * Prior), Penalty: 1}
	}
	a := b.agg(p)
	vouched := 0.0
	for _, c := range a.cps {
		vouched += float64(a.pair[c] * b.baseWeight(c, p, ms))
	}
	m := float64((min(NewcomerAllowance, a.raw) + vouched) * decay(ms, a.last, halfLifeMs))
	pen := b.penalty(p, ms)
	return Score{Party: p, Score: round6(100 * standing(m, pen)), Mass: round6(m), Penalty: round6(pen), Evidence: a.ev}
}

// Pair returns the directed score of to as from experienced it.
func (b *Book) Pair(from, to Party, now time.Time) PairScore {
	ms := now.UnixMilli()
	var ev Evidence
	var credit float64
	var w penaltyWeights
	var last int64
	for _, d := range b.byParty[to] {
		if d.counterparty(to) != from {
			continue
		}
		r := d.role(to)
		credit += float64(d.value * d.credit(r))
		last = max(last, d.activity(RoleSeller), d.activity(RoleBuyer))
		addEvidence(&ev, d, r)
		w.add(d, r, ms)
	}
	if ev.Deals == 0 {
		return PairScore{From: from, To: to, Score: round6(100 * Prior)}
	}
	ev.Counterparties, ev.LastActivity = 1, last
	m := float64(credit * decay(ms, last, halfLifeMs))
	pen := w.factor()
	return PairScore{From: from, To: to, Score: round6(100 * standing(m, pen)), Evidence: ev}
}

// Pairs returns the directed scores between p and each of its
// counterparties, both ways, ordered by counterparty (p's view of it first).
func (b *Book) Pairs(p Party, now time.Time) []PairScore {
	if len(b.byParty[p]) == 0 {
		return nil
	}
	a := b.agg(p)
	out := make([]PairScore, 0, 2*len(a.cps))
	for _, c := range a.cps {
		out = append(out, b.Pair(p, c, now), b.Pair(c, p, now))
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
