package reputation

import (
	"slices"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// refBook computes the formula afresh from every deal of a party, the way
// docs/reputation.md §3 writes it: no state kept between scores. Tests
// compare the Book's incremental figures with it bit for bit.
type refBook struct {
	deals   map[string]*deal
	byParty map[Party][]*deal // each party's deals in log order
}

func newRefBook(facts []Fact) *refBook {
	b := &refBook{deals: map[string]*deal{}, byParty: map[Party][]*deal{}}
	for _, f := range facts {
		b.apply(f)
	}
	return b
}

// apply applies f as Book.Apply does, or skips it.
func (b *refBook) apply(f Fact) {
	if d, ok := f.(DealSigned); ok {
		b.addDeal(d)
		return
	}
	r := f.Where()
	d, ok := b.deals[r.Session]
	if !ok || r.At < d.At || d.resolvedAt != 0 {
		return
	}
	_ = applyEvent(d, f)
}

func (b *refBook) addDeal(f DealSigned) {
	if _, dup := b.deals[f.Session]; dup {
		return
	}
	scale, err := anp.CurrencyScale(f.Value.Currency)
	if err != nil || f.Value.Amount < 0 || f.Value.Amount > anp.MaxAmount || f.Seller == "" || f.Buyer == "" || f.Seller == f.Buyer || f.Session == "" {
		return
	}
	d := &deal{DealSigned: f, value: valueWeight(f.Value.Amount, scale)}
	b.deals[f.Session] = d
	b.byParty[f.Seller] = append(b.byParty[f.Seller], d)
	b.byParty[f.Buyer] = append(b.byParty[f.Buyer], d)
}

// refAgg is the time-free part of a party's figures.
type refAgg struct {
	cps   []Party
	pair  map[Party]float64
	total float64
	raw   float64
	last  int64
	ev    Evidence
}

func (b *refBook) agg(p Party) *refAgg {
	a := &refAgg{pair: map[Party]float64{}}
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
	return a
}

func (b *refBook) penalty(p Party, now int64) float64 {
	var w penaltyWeights
	for _, d := range b.byParty[p] {
		w.add(d, d.role(p), now)
	}
	return w.factor()
}

func (b *refBook) baseWeight(c, p Party, now int64) float64 {
	a := b.agg(c)
	m0 := max(0, a.total-min(PairCap, a.pair[p]))
	m0 = float64(m0 * decay(now, a.last, halfLifeMs))
	return weight(standing(m0, b.penalty(c, now)))
}

func (b *refBook) Score(p Party, now time.Time) Score {
	if len(b.byParty[p]) == 0 {
		return Score{Party: p, Score: round6(100 * Prior), Penalty: 1}
	}
	m, pen := b.figures(p, now.UnixMilli())
	return Score{Party: p, Score: round6(100 * standing(m, pen)), Mass: round6(m), Penalty: round6(pen), Evidence: b.agg(p).ev}
}

// figures returns p's mass and penalty at ms, unrounded.
func (b *refBook) figures(p Party, ms int64) (m, pen float64) {
	a := b.agg(p)
	vouched := 0.0
	for _, c := range a.cps {
		vouched += float64(a.pair[c] * b.baseWeight(c, p, ms))
	}
	m = float64((min(NewcomerAllowance, a.raw) + vouched) * decay(ms, a.last, halfLifeMs))
	return m, b.penalty(p, ms)
}

func (b *refBook) Pair(from, to Party, now time.Time) PairScore {
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

// counterparty returns the other side of d than p.
func (d *deal) counterparty(p Party) Party {
	if d.Seller == p {
		return d.Buyer
	}
	return d.Seller
}
