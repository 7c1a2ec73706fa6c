package opponent

import (
	"context"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

func usd(minor int64) anp.Money { return anp.Money{Amount: minor, Currency: "USD"} }

// step is a buyer offer (0: the PROPOSE without one) and the reply the
// seller node sends for it.
type step struct {
	offer int64
	want  seller.Reply
}

func counter(minor int64, final bool) seller.Reply {
	return seller.Reply{Type: anp.TypeCounter, Price: usd(minor), Final: final, State: seller.StateOpen}
}

func accept(minor int64) seller.Reply {
	return seller.Reply{Type: anp.TypeAccept, Price: usd(minor), State: seller.StateAccepted}
}

func reject(reason string) seller.Reply {
	return seller.Reply{Type: anp.TypeReject, Reason: reason, State: seller.StateCancelled}
}

// play runs p the way a seller node does (seller.Step, SessionView.After)
// and compares every reply, messages aside.
func play(t *testing.T, p seller.Policy, steps []step) {
	t.Helper()
	ctx := context.Background()
	v := seller.SessionView{ID: "s", Mode: anp.ModeC, Item: "x", Quantity: 1, Currency: "USD", Turn: 1, State: seller.StateOpen}
	for i, st := range steps {
		var d seller.Decision
		var err error
		var offer *anp.Money
		if st.offer > 0 {
			o := usd(st.offer)
			offer = &o
		}
		if i == 0 {
			d, err = p.Open(ctx, v, anp.ProposeBody{Mode: anp.ModeC, Item: "x", Quantity: 1, Currency: "USD", Offer: offer})
		} else {
			if v, err = v.ForCounter(v.Turn + 1); err != nil {
				t.Fatalf("turn %d: %v", i+1, err)
			}
			d, err = p.Respond(ctx, v, *offer)
		}
		if err != nil {
			t.Fatalf("turn %d: %v", i+1, err)
		}
		r, err := seller.Step(v, d, offer)
		if err != nil {
			t.Fatalf("turn %d: %v", i+1, err)
		}
		v = v.After(r, offer)
		r.Message = ""
		if r != st.want {
			t.Fatalf("turn %d offer %d: %+v, want %+v", i+1, st.offer, r, st.want)
		}
	}
}

func TestOpponents(t *testing.T) {
	base := func(turns int) Base { return Base{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: turns} }
	cases := []struct {
		name  string
		p     seller.Policy
		steps []step
	}{
		{"linear time-dependent: list, equal steps, the floor as final", TimeDependent{Base: base(5), E: 1},
			[]step{{0, counter(10000, false)}, {5000, counter(9000, false)}, {5000, counter(8000, false)}, {5000, counter(7000, false)}, {5000, counter(6000, true)}, {5500, reject("stalemate")}}},
		{"boulware holds longer than a conceder", TimeDependent{Base: base(5), E: 0.3},
			[]step{{0, counter(10000, false)}, {5000, counter(9961, false)}, {5000, counter(9604, false)}, {5000, counter(8467, false)}}},
		{"an offer at the ask is taken", TimeDependent{Base: base(5), E: 1},
			[]step{{0, counter(10000, false)}, {9000, accept(9000)}}},
		{"absolute tit-for-tat mirrors the raise", TitForTat{Base: base(5), OpenStep: 0.05},
			[]step{{0, counter(10000, false)}, {5000, counter(9800, false)}, {5300, counter(9500, false)}, {5300, counter(9500, false)}, {5400, counter(9400, true)}, {9000, reject("stalemate")}}},
		{"relative tit-for-tat mirrors the proportion", TitForTat{Base: base(8), Relative: true, OpenStep: 0.05},
			[]step{{0, counter(10000, false)}, {5000, counter(9800, false)}, {5500, counter(8910, false)}}},
		{"tit-for-tat mixed with time", TitForTat{Base: base(5), OpenStep: 0.05, Weight: 0.5},
			[]step{{0, counter(10000, false)}, {5000, counter(9400, false)}}},
		{"MiCRO steps only for a new offer", MiCRO{Base: base(8), Steps: 4},
			[]step{{0, counter(10000, false)}, {5000, counter(9000, false)}, {5000, counter(9000, false)}, {5001, counter(8000, false)}, {5002, counter(7000, false)}, {5003, counter(6000, true)}, {5004, reject("stalemate")}}},
		{"a step-demanding seller holds after a small raise", StepDemanding{Base: base(5), E: 1, MinRaise: 0.02},
			[]step{{0, counter(10000, false)}, {5000, counter(9000, false)}, {5100, counter(9000, false)}, {5400, counter(7000, false)}, {5401, counter(7000, true)}}},
		{"walk-away on a low opening", WalkAway{TimeDependent: TimeDependent{Base: base(5), E: 1}, Threshold: 0.5, OpeningOnly: true},
			[]step{{0, counter(10000, false)}, {4999, reject("rejected")}}},
		{"walk-away spares an opening at its threshold", WalkAway{TimeDependent: TimeDependent{Base: base(5), E: 1}, Threshold: 0.5, OpeningOnly: true},
			[]step{{0, counter(10000, false)}, {5000, counter(9000, false)}, {1000 + 5000, counter(8000, false)}}},
		{"walk-away on any insulting offer", WalkAway{TimeDependent: TimeDependent{Base: base(5), E: 1}, Threshold: 0.7},
			[]step{{0, counter(10000, false)}, {7000, counter(9000, false)}, {6000, reject("rejected")}}},
		{"a bluffer holds a 'final' and drops at its deadline", Bluffer{Base: base(5), Level: 0.95, At: 2},
			[]step{{0, counter(10000, false)}, {5000, counter(9500, true)}, {5100, counter(9500, true)}, {5200, counter(9500, true)}, {5300, counter(6000, true)}, {5400, reject("stalemate")}}},
		{"a bluffer takes an offer at its bluff", Bluffer{Base: base(5), Level: 0.95, At: 2},
			[]step{{0, counter(10000, false)}, {9600, accept(9600)}}},
		{"a bluffer bluffs twice", Bluffer{Base: base(6), Level: 1, At: 2, Twice: true},
			[]step{{0, counter(10000, false)}, {5000, counter(10000, true)}, {5000, counter(10000, true)}, {5000, counter(8000, true)}, {5000, counter(8000, true)}, {5000, counter(6000, true)}}},
		{"a take-it-or-leave-it final is real", TakeItOrLeaveIt{Base: base(8), E: 1, At: 3},
			[]step{{0, counter(10000, false)}, {5000, counter(9429, false)}, {5000, counter(6000, true)}, {5900, reject("stalemate")}}},
		{"another currency is refused", TimeDependent{Base: Base{Currency: "EUR", List: 10000, Floor: 6000, MaxTurns: 5}, E: 1},
			[]step{{0, reject("rejected")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { play(t, tc.p, tc.steps) })
	}
}

// A PROPOSE with an offer is answered like a counter at turn 1.
func TestOpeningOfferInThePropose(t *testing.T) {
	play(t, TimeDependent{Base: Base{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: 5}, E: 1}, []step{{10000, accept(10000)}})
	play(t, WalkAway{TimeDependent: TimeDependent{Base: Base{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: 5}, E: 1}, Threshold: 0.5}, []step{{100, reject("rejected")}})
}

func TestBaseValidate(t *testing.T) {
	good := Base{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: 5}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Base{{List: 1, Floor: 1, MaxTurns: 1}, {Currency: "USD", List: 5, Floor: 6, MaxTurns: 1}, {Currency: "USD", List: 5, Floor: 0, MaxTurns: 1}, {Currency: "USD", List: 5, Floor: 5}} {
		if bad.Validate() == nil {
			t.Errorf("%+v passed", bad)
		}
	}
}

// Noise moves asks either way but never to the floor before the deadline:
// the floor comes as the final offer.
func TestNoiseStaysAboveTheFloor(t *testing.T) {
	below, above := false, false
	for seed := range uint64(200) {
		p := TimeDependent{Base: Base{Currency: "USD", List: 10000, Floor: 6000, MaxTurns: 6}, E: 1, Noise: 0.5, Seed: seed}
		for turn := 2; turn < 6; turn++ {
			a, plain := p.ask(turn), p.timeAsk(turn, 1)
			if a <= p.Floor || a > plain+2000 {
				t.Fatalf("seed %d turn %d: ask %d", seed, turn, a)
			}
			below, above = below || a < plain, above || a > plain
		}
		if p.ask(6) != 6000 {
			t.Fatalf("seed %d: ask %d at the deadline", seed, p.ask(6))
		}
	}
	if !below || !above {
		t.Error("noise went one way only")
	}
}
