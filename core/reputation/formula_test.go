package reputation

import (
	"errors"
	"math"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func anp0() anp.Money { return anp.Money{Amount: 100, Currency: "USD"} }

func TestNewcomerHasThePrior(t *testing.T) {
	b := NewBook()
	s := b.Score("new.example", at(0))
	if s.Score != 50 || s.Mass != 0 || s.Penalty != 1 || s.Evidence.Deals != 0 {
		t.Fatalf("newcomer = %+v, want score 50, no mass, penalty 1, no evidence", s)
	}
}

// TestScoresByHand checks the formula against hand computations for a
// seller whose buyers are all newcomers (counterparty weight 0): the
// mass is min(NewcomerAllowance, Σ credit·value weight), undecayed as the
// score is taken at the last activity.
func TestScoresByHand(t *testing.T) {
	const s = Party("shop.example")
	deadline := ms(5)
	tests := []struct {
		name string
		// build adds deals of s to h and returns the time to score at.
		build func(h *history) float64
		mass  float64
		pen   float64
		check func(t *testing.T, e Evidence)
	}{
		{"one legacy deal of 10.00", func(h *history) float64 {
			h.deal(s, buyer(1), 1000, ms(0), 0)
			return 0
		}, hv(1000), 1, func(t *testing.T, e Evidence) {
			wantEv(t, e, Evidence{Deals: 1, Completed: 1, Counterparties: 1, LastActivity: ms(0)})
		}},
		{"three legacy deals reach the newcomer allowance", func(h *history) float64 {
			for i := range 3 {
				h.deal(s, buyer(i), 1000, ms(0), 0)
			}
			return 0
		}, 2, 1, nil},
		{"on time, late, awaiting", func(h *history) float64 {
			a := h.deal(s, buyer(1), 100, ms(0), deadline)
			b := h.deal(s, buyer(2), 100, ms(0), deadline)
			h.deal(s, buyer(3), 100, ms(0), deadline)
			h.add(Fulfilled{h.ref(a, ms(1))})
			h.add(Fulfilled{h.ref(b, ms(6))})
			return 6
		}, 1.5 * hv(100), 0.9, func(t *testing.T, e Evidence) {
			wantEv(t, e, Evidence{Deals: 3, Completed: 2, OnTime: 1, Late: 1, Awaiting: 1, Counterparties: 3, LastActivity: ms(6)})
		}},
		{"breach", func(h *history) float64 {
			a := h.deal(s, buyer(1), 100, ms(0), deadline)
			h.deal(s, buyer(2), 100, ms(0), 0)
			h.add(Breached{h.ref(a, ms(5)), RoleSeller})
			return 5
		}, hv(100), 0.6, func(t *testing.T, e Evidence) {
			wantEv(t, e, Evidence{Deals: 2, Completed: 1, Breaches: 1, Counterparties: 2, LastActivity: ms(0)})
		}},
		{"lost dispute, scored 365 days later: half a penalty, mass decayed", func(h *history) float64 {
			a := h.deal(s, buyer(1), 100, ms(0), deadline)
			h.add(Fulfilled{h.ref(a, ms(1))})
			h.add(DisputeOpened{h.ref(a, ms(2)), RoleBuyer})
			h.add(DisputeResolved{h.ref(a, ms(3)), ForBuyer})
			return 368
		}, 0, math.Pow(0.5, 0.5), func(t *testing.T, e Evidence) {
			wantEv(t, e, Evidence{Deals: 1, OnTime: 1, DisputesAgainst: 1, DisputesLost: 1, Counterparties: 1, LastActivity: ms(1)})
		}},
		{"won and split disputes", func(h *history) float64 {
			a := h.deal(s, buyer(1), 100, ms(0), deadline)
			b := h.deal(s, buyer(2), 100, ms(0), deadline)
			h.add(Fulfilled{h.ref(a, ms(1))})
			h.add(Fulfilled{h.ref(b, ms(1))})
			h.add(DisputeOpened{h.ref(a, ms(2)), RoleBuyer})
			h.add(DisputeOpened{h.ref(b, ms(2)), RoleBuyer})
			h.add(DisputeResolved{h.ref(a, ms(3)), ForSeller})
			h.add(DisputeResolved{h.ref(b, ms(3)), Split})
			return 1
		}, 1.5 * hv(100), 1, func(t *testing.T, e Evidence) {
			wantEv(t, e, Evidence{Deals: 2, Completed: 2, OnTime: 2, DisputesAgainst: 2, DisputesWon: 1, DisputesSplit: 1, Counterparties: 2, LastActivity: ms(1)})
		}},
		{"open dispute holds the credit", func(h *history) float64 {
			a := h.deal(s, buyer(1), 100, ms(0), deadline)
			h.add(Fulfilled{h.ref(a, ms(1))})
			h.add(DisputeOpened{h.ref(a, ms(2)), RoleBuyer})
			return 1
		}, 0, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{}
			now := tc.build(h)
			b := h.book(t)
			got := b.Score(s, at(now))
			last := got.Evidence.LastActivity
			wantMass := tc.mass * math.Exp2(-float64(max(0, ms(now)-last))/float64(90*day))
			if !near(got.Mass, wantMass) || !near(got.Penalty, tc.pen) {
				t.Fatalf("mass %v penalty %v, want %v and %v", got.Mass, got.Penalty, wantMass, tc.pen)
			}
			if want := hscore(wantMass, tc.pen); !near(got.Score, want) {
				t.Fatalf("score %v, want %v", got.Score, want)
			}
			if tc.check != nil {
				tc.check(t, got.Evidence)
			}
		})
	}
}

func wantEv(t *testing.T, got, want Evidence) {
	t.Helper()
	if got != want {
		t.Fatalf("evidence\n got %+v\nwant %+v", got, want)
	}
}

// TestCounterpartyWeightByHand: a buyer with a deal at another seller
// weighs, as the seller's counterparty, its standing from that other deal.
func TestCounterpartyWeightByHand(t *testing.T) {
	h := &history{}
	b1 := buyer(1)
	h.deal("other.example", b1, 1000, ms(0), 0)
	h.deal("shop.example", b1, 1000, ms(0), 0)
	book := h.book(t)
	v := hv(1000)
	w := hg(v) // (std − 0.5)/0.5 with std = 0.5 + 0.5·g(v)
	m := math.Min(2, v) + v*w
	got := book.Score("shop.example", at(0))
	if !near(got.Mass, m) || !near(got.Score, hscore(m, 1)) {
		t.Fatalf("shop: mass %v score %v, want %v and %v", got.Mass, got.Score, m, hscore(m, 1))
	}
	// Each seller's base mass without the buyer is 0: both weigh 0 for it.
	gb := book.Score(b1, at(0))
	if wantB := math.Min(2, 2*v); !near(gb.Mass, wantB) {
		t.Fatalf("buyer mass %v, want %v (sellers without the buyer have no base mass)", gb.Mass, wantB)
	}
}

func TestPairScoresByHand(t *testing.T) {
	h := &history{}
	s, b1 := Party("shop.example"), buyer(1)
	a := h.deal(s, b1, 100, ms(0), ms(5))
	c := h.deal(s, b1, 100, ms(0), ms(5))
	h.add(Fulfilled{h.ref(a, ms(1))})
	h.add(Breached{h.ref(c, ms(5)), RoleSeller})
	book := h.book(t)
	p := book.Pair(b1, s, at(5))
	wantM := hv(100) * math.Exp2(-4.0/90) // last activity: the FULFILL on day 1
	if want := hscore(wantM, 0.6); !near(p.Score, want) {
		t.Fatalf("buyer's view of the shop %v, want %v", p.Score, want)
	}
	if p.Evidence.Deals != 2 || p.Evidence.OnTime != 1 || p.Evidence.Breaches != 1 {
		t.Fatalf("pair evidence %+v", p.Evidence)
	}
	q := book.Pair(s, b1, at(5))
	// The buyer earns credit for the delivered deal only: the breached one completed nothing.
	if want := hscore(hv(100)*math.Exp2(-4.0/90), 1); !near(q.Score, want) {
		t.Fatalf("shop's view of the buyer %v, want %v", q.Score, want)
	}
	if got := book.Pairs(s, at(5)); len(got) != 2 || got[0] != q || got[1] != p {
		t.Fatalf("pairs %+v", got)
	}
}

func TestApplyRefuses(t *testing.T) {
	s := Party("shop.example")
	tests := []struct {
		name string
		prep func(h *history) Fact
		want error
	}{
		{"event without deal", func(h *history) Fact { return Fulfilled{h.ref("ab", ms(1))} }, ErrUnknownDeal},
		{"second deal", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), 0)
			return DealSigned{Ref: h.ref(a, ms(1)), Seller: s, Buyer: buyer(2), Value: anp0()}
		}, ErrDuplicate},
		{"second fulfil", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), ms(3))
			h.add(Fulfilled{h.ref(a, ms(1))})
			return Fulfilled{h.ref(a, ms(2))}
		}, ErrDuplicate},
		{"second dispute", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), ms(3))
			h.add(DisputeOpened{h.ref(a, ms(1)), RoleBuyer})
			return DisputeOpened{h.ref(a, ms(2)), RoleSeller}
		}, ErrDuplicate},
		{"resolve without dispute", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), ms(3))
			return DisputeResolved{h.ref(a, ms(2)), ForBuyer}
		}, ErrOutOfOrder},
		{"event before its deal", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(2), ms(3))
			return Fulfilled{h.ref(a, ms(1))}
		}, ErrOutOfOrder},
		{"event after resolution", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), ms(3))
			h.add(DisputeOpened{h.ref(a, ms(1)), RoleBuyer})
			h.add(DisputeResolved{h.ref(a, ms(2)), ForBuyer})
			return Fulfilled{h.ref(a, ms(3))}
		}, ErrOutOfOrder},
		{"unknown winner", func(h *history) Fact {
			a := h.deal(s, buyer(1), 100, ms(0), ms(3))
			h.add(DisputeOpened{h.ref(a, ms(1)), RoleBuyer})
			return DisputeResolved{h.ref(a, ms(2)), "nobody"}
		}, ErrBadFact},
		{"deal with itself", func(h *history) Fact {
			return DealSigned{Ref: h.ref("cd", ms(0)), Seller: s, Buyer: s, Value: anp0()}
		}, ErrBadFact},
		{"unknown currency", func(h *history) Fact {
			return DealSigned{Ref: h.ref("cd", ms(0)), Seller: s, Buyer: buyer(1), Value: anp.Money{Amount: 1, Currency: "XXY"}}
		}, ErrBadFact},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{}
			f := tc.prep(h)
			b := h.book(t)
			before := b.Report(at(10))
			err := b.Apply(f)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			after := b.Report(at(10))
			if b.Skipped() != 1 || len(after.Parties) != len(before.Parties) {
				t.Fatalf("skipped %d; parties %d then %d", b.Skipped(), len(before.Parties), len(after.Parties))
			}
			for i := range after.Parties {
				if after.Parties[i] != before.Parties[i] {
					t.Fatalf("a refused fact changed %s: %+v -> %+v", after.Parties[i].Party, before.Parties[i], after.Parties[i])
				}
			}
		})
	}
}

// TestWorkedExample is the worked example of docs/reputation.md §5.
func TestWorkedExample(t *testing.T) {
	h := &history{}
	b1, b2 := Party("key:b1"), Party("key:b2")
	d0 := h.deal("tools.example", b1, 8000, ms(0), ms(7))
	h.add(Fulfilled{h.ref(d0, ms(1))})
	d1 := h.deal("shop.example", b1, 8000, ms(2), ms(9))
	d2 := h.deal("shop.example", b2, 8000, ms(2), ms(9))
	h.add(Fulfilled{h.ref(d1, ms(3))})
	h.add(Fulfilled{h.ref(d2, ms(10))})
	b := h.book(t)
	s := b.Score("shop.example", at(40))
	if s.Score != 57.246223 || s.Mass != 1.945194 || s.Penalty != 0.905267 {
		t.Fatalf("shop.example on day 40: %+v, the document says 57.246223, mass 1.945194, penalty 0.905267", s)
	}
	if p := b.Pair(b2, "shop.example", at(40)); p.Score != 52.53394 {
		t.Fatalf("pair b2 -> shop: %v, the document says 52.533940", p.Score)
	}
}
