package concession

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

func ptr[T any](v T) *T { return &v }

// sess is a COUNTERED session of at most 8 turns with a budget of 100.00.
func sess(turn int, ask int64, own int64, final bool) buyer.Session {
	s := buyer.Session{ID: "s", State: buyer.StateCountered, Turn: turn, MaxTurns: 8, MaxBudget: anptest.USD(10000),
		LastSellerPrice: ptr(anptest.USD(ask)), SellerFinal: final}
	if own > 0 {
		s.LastOwnOffer = ptr(anptest.USD(own))
	}
	return s
}

func TestDeciderRules(t *testing.T) {
	counter := func(cents int64) buyer.Decision {
		return buyer.Decision{Action: buyer.ActionCounter, Price: anptest.USD(cents)}
	}
	accept := func(cents int64) buyer.Decision {
		return buyer.Decision{Action: buyer.ActionAccept, Price: anptest.USD(cents)}
	}
	exit := buyer.Decision{Action: buyer.ActionExit}
	cases := []struct {
		name string
		st   Decider
		s    buyer.Session
		want buyer.Decision
	}{
		{"opens at half the budget", Decider{Curve: Boulware}, sess(1, 12000, 0, false), counter(5000)},
		{"opening fraction is configurable", Decider{Curve: Boulware, OpenFraction: 0.7}, sess(1, 12000, 0, false), counter(7000)},
		{"opens at half the seller's price when it is under the budget", Decider{Curve: Linear}, func() buyer.Session {
			s := sess(1, 8000, 0, false)
			s.MaxBudget = anptest.USD(20000)
			return s
		}(), counter(4000)},
		{"accepts a price at or under its target", Decider{Curve: Linear}, sess(5, 8000, 7000, false), accept(8000)},
		{"accepts a final price within budget", Decider{Curve: Boulware}, sess(3, 9900, 5000, true), accept(9900)},
		{"exits on a final price above budget", Decider{Curve: Conceder}, sess(3, 10100, 5000, true), exit},
		{"accepts on its last move", Decider{Curve: Boulware}, sess(7, 9900, 5200, false), accept(9900)},
		{"offers the budget on its last move", Decider{Curve: Boulware}, sess(7, 10500, 5200, false), counter(10000)},
		{"exits when no move is left", Decider{Curve: Linear}, sess(8, 9000, 8000, false), exit},
		{"boulware concedes little at mid-game", Decider{Curve: Boulware}, sess(4, 11500, 5000, false), counter(5496)},
		{"linear concedes evenly", Decider{Curve: Linear}, sess(4, 11500, 5000, false), counter(7500)},
		{"conceder concedes early", Decider{Curve: Conceder}, sess(4, 11500, 5000, false), counter(8968)},
		{"never goes below its previous offer", Decider{Curve: Boulware}, sess(2, 11000, 6000, false), counter(6000)},
		{"splits the difference when the seller is close", Decider{Curve: Boulware}, sess(3, 9500, 9000, false), counter(9250)},
		{"never offers at or above the seller's price", Decider{Curve: Conceder}, sess(6, 9000, 8999, false), accept(9000)},
		{"exits on another currency", Decider{Curve: Linear}, func() buyer.Session {
			s := sess(2, 5000, 4000, false)
			s.LastSellerPrice = &anp.Money{Amount: 5000, Currency: "EUR"}
			return s
		}(), exit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range []buyer.Decider{tc.st, New(tc.st.Curve, tc.st.OpenFraction)} {
				got, err := st.Decide(context.Background(), tc.s)
				if err != nil {
					t.Fatal(err)
				}
				if got.Action != tc.want.Action || (got.Action != buyer.ActionExit && got.Price != tc.want.Price) {
					t.Errorf("%T: decision = %s %s, want %s %s", st, got.Action, got.Price, tc.want.Action, tc.want.Price)
				}
				if got.Source != "strategy:"+tc.st.Curve.String() || got.Message == "" {
					t.Errorf("source %q, message %q", got.Source, got.Message)
				}
			}
		})
	}
}

// A snapshot without max turns (MaxTurns 0) has the engine's default turn
// limit, buyer.Session.TurnLimit: the decider plays it exactly as a session
// with that many max turns.
func TestDeciderUsesTheEngineTurnLimit(t *testing.T) {
	unset := sess(4, 11500, 5000, false)
	unset.MaxTurns = 0
	limit := unset.TurnLimit()
	if limit <= 4 {
		t.Fatalf("engine turn limit %d: too low for this test", limit)
	}
	d, err := Decider{Curve: Linear}.Decide(context.Background(), unset)
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != buyer.ActionCounter {
		t.Fatalf("turn 4 of %d with MaxTurns 0: %s %q, want a counter", limit, d.Action, d.Message)
	}
	for turn := 1; turn <= limit; turn++ {
		for _, ask := range []int64{9000, 10500, 11500} {
			own := int64(0)
			if turn > 1 {
				own = 5000
			}
			unset, set := sess(turn, ask, own, false), sess(turn, ask, own, false)
			unset.MaxTurns, set.MaxTurns = 0, limit
			for _, c := range []Curve{Boulware, Linear, Conceder} {
				got, _ := Decider{Curve: c}.Decide(context.Background(), unset)
				want, _ := Decider{Curve: c}.Decide(context.Background(), set)
				if got != want {
					t.Errorf("%s turn %d ask %d: MaxTurns 0 decides %+v, MaxTurns %d decides %+v", c, turn, ask, got, limit, want)
				}
			}
		}
	}
}

func TestDeciderNeedsASellerPrice(t *testing.T) {
	s := sess(1, 1, 0, false)
	s.LastSellerPrice = nil
	if _, err := New(Linear, 0).Decide(context.Background(), s); err == nil {
		t.Fatal("no error without a seller price")
	}
}

// A seller that mirrors the buyer's concessions is spotted after one
// mirrored step; the decider then offers the midpoint, which that seller
// meets. Without memory the decider cannot see the pattern.
func TestDeciderSpotsTitForTat(t *testing.T) {
	run := func(d buyer.Decider) (deal int64, turns int) {
		s := sess(1, 12000, 0, false)
		s.ID = "tft"
		ask, prevOffer := int64(12000), int64(0)
		for s.Turn < s.MaxTurns {
			dec, err := d.Decide(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Action == buyer.ActionAccept {
				return ask, s.Turn + 1
			}
			if dec.Action != buyer.ActionCounter {
				return 0, s.Turn
			}
			offer := dec.Price.Amount
			step := int64(300)
			if prevOffer > 0 {
				step = offer - prevOffer
			}
			next := ask - step
			if offer >= next {
				return min(offer, ask), s.Turn + 1
			}
			ask, prevOffer = next, offer
			s.Turn++
			s.LastOwnOffer, s.LastSellerPrice = ptr(anptest.USD(offer)), ptr(anptest.USD(ask))
		}
		return 0, s.Turn
	}
	smart, smartTurns := run(New(Boulware, 0))
	plain, plainTurns := run(Decider{Curve: Boulware})
	if smart == 0 || smartTurns != 4 {
		t.Fatalf("with memory: deal %d at turn %d, want a deal at turn 4", smart, smartTurns)
	}
	if plain != 0 && plainTurns <= smartTurns {
		t.Fatalf("without memory: deal %d at turn %d; the memory should close sooner", plain, plainTurns)
	}
}

// Whatever the session, a decider's decision already satisfies buyer.Guard.
func TestDeciderStaysInsideTheGuard(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		s := randomSession(r)
		for _, c := range []Curve{Boulware, Linear, Conceder} {
			d, err := New(c, r.Float64()).Decide(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkDecision(s, d); err != nil {
				t.Fatalf("case %d %s: %v\nsession %+v own %v ask %v", i, c, err, s, s.LastOwnOffer, s.LastSellerPrice)
			}
		}
	}
}

func randomSession(r *rand.Rand) buyer.Session {
	budget := 1 + r.Int64N(1_000_000)
	ask := 1 + r.Int64N(2*budget)
	s := buyer.Session{ID: fmt.Sprint(r.IntN(50)), State: buyer.StateCountered, MaxTurns: r.IntN(12), MaxBudget: anptest.USD(budget),
		LastSellerPrice: ptr(anptest.USD(ask)), SellerFinal: r.IntN(4) == 0}
	s.Turn = 1 + r.IntN(max(s.MaxTurns, 1)+1)
	if s.Turn > 1 && ask > 1 {
		s.LastOwnOffer = ptr(anptest.USD(1 + r.Int64N(min(ask-1, budget))))
	}
	return s
}

// checkDecision is the guardrail contract: Guard has nothing to change.
func checkDecision(s buyer.Session, d buyer.Decision) error {
	if _, note := buyer.Guard(s, d); note != "" {
		return fmt.Errorf("guard had to step in (%s) on %s %s", note, d.Action, d.Price)
	}
	if d.Action == buyer.ActionCounter && (d.Price.Amount <= 0 || d.Price.Amount > s.MaxBudget.Amount || d.Price.Amount >= s.LastSellerPrice.Amount) {
		return fmt.Errorf("counter %s outside (0, min(budget, seller))", d.Price)
	}
	if d.Action == buyer.ActionCounter && s.Turn+1 > max(s.TurnLimit(), 2) {
		return fmt.Errorf("counter past max turns")
	}
	return nil
}

func TestParse(t *testing.T) {
	for name, want := range map[string]Curve{"boulware": Boulware, "Linear": Linear, " CONCEDER ": Conceder} {
		d, err := Parse(name)
		if err != nil {
			t.Fatal(err)
		}
		if d.Curve != want || d.mem == nil || d.OpenFraction != 0 {
			t.Errorf("Parse(%q) = %#v", name, d)
		}
	}
	for _, bad := range []string{"", "tit-for-tat", "boulware2"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if Curve(9).String() != "curve(9)" || Boulware.Exponent() != 0.3 || Linear.Exponent() != 1 || Conceder.Exponent() != 3 {
		t.Error("curve names or exponents changed")
	}
	if d := Default(); d.Name() != "strategy:adaptive" || len(d.seed) != adaptiveSeedSize {
		t.Errorf("Default() = %#v (%s)", d, d.Name())
	}
}

func TestAskMemory(t *testing.T) {
	m := newAskMemory()
	s := sess(1, 12000, 0, false)
	m.observe(s)
	s.Turn, s.LastSellerPrice, s.LastOwnOffer = 2, ptr(anptest.USD(11000)), ptr(anptest.USD(5000))
	h := m.observe(s)
	if len(h.asks) != 2 || h.firstAsk() != 12000 {
		t.Fatalf("history = %+v", h)
	}
	if c, ok := h.lastConcession(); !ok || c != 1000 {
		t.Errorf("last concession = %d %v", c, ok)
	}
	s.Turn = 1 // the same id starting over
	if h := m.observe(s); len(h.asks) != 1 || h.firstAsk() != 11000 {
		t.Errorf("history after a restart = %+v", h)
	}
	for i := range maxRemembered + 10 {
		s.ID = fmt.Sprint("id-", i)
		m.observe(s)
	}
	if n := len(m.sessions); n > maxRemembered {
		t.Errorf("memory holds %d sessions, at most %d allowed", n, maxRemembered)
	}
	if _, ok := m.sessions["id-0"]; ok {
		t.Error("the oldest session was not evicted")
	}
	m.forget(s.ID)
	if _, ok := m.sessions[s.ID]; ok {
		t.Error("forget kept the session")
	}
}
