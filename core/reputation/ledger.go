package reputation

import (
	"cmp"
	"slices"
)

// ledger is one party's figures (docs/reputation.md §3.3), kept up to date
// as the facts of its deals are applied. Each sum is the formula's fold in
// the order the formula states, so a figure is the one a computation from
// scratch gives, bit for bit:
//   - A(p, c) is a running sum over the pair's deals in log order; a change
//     to a deal recomputes the sums from that deal on (usually the last);
//   - R(p) and T(p) are running sums over the counterparties in name order,
//     brought up to date when asked for, from the first one that changed;
//     min(C, R(p)) stops at the first running sum that reaches C, since the
//     rest only adds terms that are not negative;
//   - the penalty sums only the deals that carry a penalty of p, in log
//     order: the others add nothing to its sums;
//   - the counterparty weights are summed over the counterparties that
//     deal with somebody else too (vouchers): one that deals with p only has
//     T(c) = min(Q, A(c, p)), so m₀(c∖p) = 0 and its weight is exactly 0.
type ledger struct {
	name      Party
	cps       []counterparty // sorted by name
	rawValid  int            // cps[:rawValid].raw are up to date
	capValid  int            // cps[:capValid].capped are up to date
	vouchers  []voucher      // the counterparties with another counterparty, sorted by name
	penalized []*deal        // the deals with a penalty of p, in log order
	ev        Evidence       // counts, without Counterparties and LastActivity
	last      int64          // last activity, unix ms
}

// counterparty is one of a party's counterparties, with the running sums
// over the party's counterparties up to it.
type counterparty struct {
	ledger *ledger
	pair   *pairSums // the party's deals with it
	raw    float64   // A(p, c) summed over the counterparties up to this one
	capped float64   // min(Q, A(p, c)) summed likewise
}

// voucher is a counterparty c that can weigh for p.
type voucher struct {
	ledger *ledger
	mine   *pairSums // A(p, c)
	theirs *pairSums // A(c, p)
}

// pairSums is one party's deals with one counterparty and the running sum
// of the party's credit in them.
type pairSums struct {
	owner  Party
	mirror *pairSums  // the counterparty's deals with the party
	deals  []pairDeal // log order
	first  [1]pairDeal
}

// newPair returns the two sides of a new pair, in one allocation, with
// room for their first deal.
func newPair(seller, buyer Party) (*pairSums, *pairSums) {
	both := &[2]pairSums{{owner: seller}, {owner: buyer}}
	mine, theirs := &both[0], &both[1]
	mine.mirror, theirs.mirror = theirs, mine
	mine.deals, theirs.deals = mine.first[:0], theirs.first[:0]
	return mine, theirs
}

// pairDeal is a deal of a pair and the owner's credit summed up to it.
type pairDeal struct {
	deal *deal
	sum  float64
}

// total is A(p, c).
func (ps *pairSums) total() float64 { return ps.deals[len(ps.deals)-1].sum }

// refresh recomputes the running sums of the owner's credit from deal k on.
func (ps *pairSums) refresh(k int) {
	sum := 0.0
	if k > 0 {
		sum = ps.deals[k-1].sum
	}
	for i := k; i < len(ps.deals); i++ {
		d := ps.deals[i].deal
		sum += float64(d.value * d.credit(d.role(ps.owner)))
		ps.deals[i].sum = sum
	}
}

// ledger returns p's ledger, creating it.
func (b *Book) ledger(p Party) *ledger {
	l, ok := b.parties[p]
	if !ok {
		l = &ledger{name: p}
		b.parties[p] = l
	}
	return l
}

// addToLedgers enters a new deal in its two parties' ledgers.
func (b *Book) addToLedgers(d *deal) {
	seller, buyer := b.ledger(d.Seller), b.ledger(d.Buyer)
	d.ledgers = [2]*ledger{seller, buyer}
	i, known := seller.find(d.Buyer)
	if !known {
		mine, theirs := newPair(d.Seller, d.Buyer)
		seller.cps = slices.Insert(seller.cps, i, counterparty{ledger: buyer, pair: mine})
		j, _ := buyer.find(d.Seller)
		buyer.cps = slices.Insert(buyer.cps, j, counterparty{ledger: seller, pair: theirs})
		seller.vouchFor(mine)
		buyer.vouchFor(theirs)
	}
	d.pairs[sellerSide] = seller.cps[i].pair
	d.pairs[buyerSide] = d.pairs[sellerSide].mirror
	seller.addDeal(d, sellerSide)
	buyer.addDeal(d, buyerSide)
}

// vouchFor records that l's party has a new pair: it vouches for the new
// counterparty when it has another one, and for its first one once it has
// a second.
func (l *ledger) vouchFor(pair *pairSums) {
	switch len(l.cps) {
	case 1:
	case 2:
		for _, c := range l.cps {
			c.ledger.addVoucher(voucher{ledger: l, mine: c.pair.mirror, theirs: c.pair})
		}
	default:
		c := pair.mirror.owner
		i, _ := l.find(c)
		l.cps[i].ledger.addVoucher(voucher{ledger: l, mine: pair.mirror, theirs: pair})
	}
}

// addVoucher adds v to l's vouchers.
func (l *ledger) addVoucher(v voucher) {
	i, found := slices.BinarySearchFunc(l.vouchers, v.ledger.name, func(e voucher, name Party) int { return cmp.Compare(e.ledger.name, name) })
	if !found {
		l.vouchers = slices.Insert(l.vouchers, i, v)
	}
}

// find returns the index of c among l's counterparties, or where it goes.
func (l *ledger) find(c Party) (int, bool) {
	return slices.BinarySearchFunc(l.cps, c, func(e counterparty, name Party) int { return cmp.Compare(e.ledger.name, name) })
}

// addDeal enters d, in which l's party is on side s.
func (l *ledger) addDeal(d *deal, s int) {
	ps := d.pairs[s]
	d.pairAt[s] = len(ps.deals)
	ps.deals = append(ps.deals, pairDeal{deal: d})
	ps.refresh(d.pairAt[s])
	l.invalidate(ps)
	r := sideRole(s)
	addCounts(&l.ev, figuresOf(d, r).ev, 1)
	l.last = max(l.last, d.activity(r))
}

// changed updates l after an event changed d, in which l's party is on
// side s, from the figures it had before.
func (l *ledger) changed(d *deal, s int, before dealFigures) {
	r := sideRole(s)
	after := figuresOf(d, r)
	addCounts(&l.ev, before.ev, -1)
	addCounts(&l.ev, after.ev, 1)
	if after.credit != before.credit {
		d.pairs[s].refresh(d.pairAt[s])
		l.invalidate(d.pairs[s])
	}
	l.last = max(l.last, d.activity(r))
	if !d.penalized[s] && hasPenalty(d, r) {
		d.penalized[s] = true
		i, _ := slices.BinarySearchFunc(l.penalized, d.seq, func(e *deal, seq int) int { return cmp.Compare(e.seq, seq) })
		l.penalized = slices.Insert(l.penalized, i, d)
	}
}

// invalidate marks the running sums over counterparties stale from the
// counterparty of pair on.
func (l *ledger) invalidate(pair *pairSums) {
	if l.rawValid == 0 && l.capValid == 0 {
		return // nothing is up to date
	}
	i, _ := l.find(pair.mirror.owner)
	l.rawValid = min(l.rawValid, i)
	l.capValid = min(l.capValid, i)
}

// allowance is min(C, R(p)).
func (l *ledger) allowance() float64 {
	for ; l.rawValid < len(l.cps); l.rawValid++ {
		i, sum := l.rawValid, 0.0
		if i > 0 {
			sum = l.cps[i-1].raw
			if sum >= NewcomerAllowance {
				return NewcomerAllowance // the rest of R(p) only adds
			}
		}
		l.cps[i].raw = sum + l.cps[i].pair.total()
	}
	return min(NewcomerAllowance, l.cps[len(l.cps)-1].raw)
}

// capped is T(p).
func (l *ledger) capped() float64 {
	for ; l.capValid < len(l.cps); l.capValid++ {
		i, sum := l.capValid, 0.0
		if i > 0 {
			sum = l.cps[i-1].capped
		}
		l.cps[i].capped = sum + min(PairCap, l.cps[i].pair.total())
	}
	return l.cps[len(l.cps)-1].capped
}

// penalty is p's penalty factor at now.
func (l *ledger) penalty(now int64) float64 {
	var w penaltyWeights
	for _, d := range l.penalized {
		w.add(d, d.role(l.name), now)
	}
	return w.factor()
}

// evidence is p's evidence.
func (l *ledger) evidence() Evidence {
	ev := l.ev
	ev.Counterparties, ev.LastActivity = len(l.cps), l.last
	return ev
}

// dealFigures is what one deal gives one side: its credit and its counts.
type dealFigures struct {
	credit float64
	ev     Evidence
}

// figuresOf returns d's figures for side r.
func figuresOf(d *deal, r Role) dealFigures {
	f := dealFigures{credit: d.credit(r)}
	addEvidence(&f.ev, d, r)
	return f
}

// hasPenalty reports whether d carries a penalty of side r: a breach by
// it, a dispute it lost, or (a seller) a late delivery.
func hasPenalty(d *deal, r Role) bool {
	lost := d.winner != "" && d.winner != Split && d.winner != Outcome(r)
	late := r == RoleSeller && d.Deadline != 0 && d.fulfilled > d.Deadline
	return d.breachBy == r || lost || late
}

// addCounts adds sign times the counts of e to dst.
func addCounts(dst *Evidence, e Evidence, sign int) {
	to, from := counts(dst), counts(&e)
	for i := range to {
		*to[i] += sign * *from[i]
	}
}

// counts lists the counts of e that a deal adds to.
func counts(e *Evidence) [12]*int {
	return [12]*int{&e.Deals, &e.Completed, &e.OnTime, &e.Late, &e.Awaiting, &e.Received, &e.Breaches,
		&e.DisputesOpened, &e.DisputesAgainst, &e.DisputesWon, &e.DisputesLost, &e.DisputesSplit}
}
