package reputation

import (
	"fmt"
	"math"
	"testing"
)

// sybilBound is the highest score a party can reach when none of its
// counterparties has dealt with anybody else: every counterparty weighs 0,
// so the mass is at most NewcomerAllowance (docs/reputation.md §4).
var sybilBound = 100 * (Prior + (1-Prior)*growth(NewcomerAllowance))

// honestMarket returns a history where seller "honest.example" closed 20
// deals of 10.00 USD, each with a buyer who had closed one deal before with
// one of five other sellers.
func honestMarket(h *history) {
	for i := range 20 {
		b := Party(fmt.Sprintf("id:%064x", 1000+i))
		h.deal(Party(fmt.Sprintf("market%d.example", i%5)), b, 1000, ms(0), 0)
		h.deal("honest.example", b, 1000, ms(1), 0)
	}
}

// TestSybilCannotOutrankHonestDeals: 200 fresh identities that trade only
// with one seller (5 deals each, at the highest value weight) leave it at
// exactly the proven bound, below a seller with 20 honest deals.
func TestSybilCannotOutrankHonestDeals(t *testing.T) {
	h := &history{}
	honestMarket(h)
	for i := range 200 {
		b := Party(fmt.Sprintf("id:%064x", 5000+i))
		for range 5 {
			h.deal("pumped.example", b, 1_000_000_000, ms(1), 0)
		}
	}
	book := h.book(t)
	now := at(1)
	pumped, honest := book.Score("pumped.example", now), book.Score("honest.example", now)
	t.Logf("bound %.6f; pumped by 200 identities x 5 deals: %.6f (mass %.6f); honest, 20 deals: %.6f (mass %.6f)",
		sybilBound, pumped.Score, pumped.Mass, honest.Score, honest.Mass)
	if pumped.Score > round6(sybilBound) || pumped.Mass != NewcomerAllowance {
		t.Fatalf("pumped seller scores %v with mass %v, above the bound %v", pumped.Score, pumped.Mass, sybilBound)
	}
	if honest.Score <= pumped.Score {
		t.Fatalf("honest seller %v does not outrank the pumped one %v", honest.Score, pumped.Score)
	}
	// The hand computation of the honest seller: each buyer weighs g(v)
	// (its one other deal, without the honest seller).
	v := hv(1000)
	m := 2 + 20*v*hg(v)
	if !near(honest.Score, hscore(m, 1)) {
		t.Fatalf("honest seller %v, by hand %v", honest.Score, hscore(m, 1))
	}
}

// TestSybilBoundIsIndependentOfCount: the bound holds for any number of
// fresh identities.
func TestSybilBoundIsIndependentOfCount(t *testing.T) {
	for _, n := range []int{1, 2, 10, 500} {
		h := &history{}
		for i := range n {
			h.deal("pumped.example", buyer(i), 1_000_000_000, ms(0), 0)
		}
		got := h.book(t).Score("pumped.example", at(0)).Score
		if got > round6(sybilBound) {
			t.Fatalf("%d identities lift the seller to %v, above %v", n, got, sybilBound)
		}
	}
}

// TestDecayWithAControlledClock: after k HalfLives of inactivity the
// seller's mass is 2^−k of its own, and each buyer's base mass (its weight)
// decays alike; penalties halve every PenaltyHalfLife; the score returns
// to the prior.
func TestDecayWithAControlledClock(t *testing.T) {
	h := &history{}
	honestMarket(h)
	book := h.book(t)
	prev := book.Score("honest.example", at(1)).Score
	v := hv(1000)
	for k := 1; k <= 4; k++ {
		s := book.Score("honest.example", at(1+90*float64(k)))
		f := math.Exp2(-float64(k))
		want := f * (2 + 20*v*hg(v*f))
		if !near(s.Mass, want) || !near(s.Score, hscore(want, 1)) {
			t.Fatalf("after %d half-lives mass %v, want %v", k, s.Mass, want)
		}
		if s.Score >= prev {
			t.Fatalf("score did not decay: %v then %v", prev, s.Score)
		}
		prev = s.Score
	}
	if s := book.Score("honest.example", at(1+90*60)); s.Score != 50 {
		t.Fatalf("after 60 half-lives the score is %v, not the prior 50", s.Score)
	}
	// A breach weighs half after a year.
	h2 := &history{}
	d := h2.deal("late.example", buyer(1), 100, ms(0), ms(1))
	h2.add(Breached{h2.ref(d, ms(1)), RoleSeller})
	b2 := h2.book(t)
	if p := b2.Score("late.example", at(366)).Penalty; !near(p, round6(math.Pow(0.6, 0.5))) {
		t.Fatalf("penalty a year after a breach %v, want 0.6^0.5", p)
	}
}

// TestLostDisputeDropsSharply: one lost dispute takes a seller with 100
// on-time deals below a newcomer.
func TestLostDisputeDropsSharply(t *testing.T) {
	h := &history{}
	var last string
	for i := range 100 {
		b := Party(fmt.Sprintf("id:%064x", i))
		h.deal("other.example", b, 1000, ms(0), 0)
		last = h.deal("busy.example", b, 1000, ms(1), ms(3))
		h.add(Fulfilled{h.ref(last, ms(2))})
	}
	before := h.book(t).Score("busy.example", at(4))
	h.add(DisputeOpened{h.ref(last, ms(3)), RoleBuyer})
	h.add(DisputeResolved{h.ref(last, ms(4)), ForBuyer})
	after := h.book(t).Score("busy.example", at(4))
	t.Logf("100 on-time deals: %.6f; after one lost dispute: %.6f", before.Score, after.Score)
	if before.Score <= 75 || after.Score >= 50 {
		t.Fatalf("before %v after %v: want above 75, then below the prior", before.Score, after.Score)
	}
}
