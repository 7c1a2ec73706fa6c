package bench

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

func TestScenarios(t *testing.T) {
	scs := Scenarios(1, 200)
	if len(scs) != 200 {
		t.Fatalf("%d scenarios, want 200", len(scs))
	}
	perPolicy := map[SellerPolicy]int{}
	zone := 0
	for i, sc := range scs {
		perPolicy[sc.Policy]++
		if sc.Zone() {
			zone++
			if sc.Budget <= sc.Floor {
				t.Errorf("%v: a zone needs budget > floor for the share to be defined", sc)
			}
		}
		if sc.Index != i || sc.Floor <= 0 || sc.Floor > sc.List || sc.List < 5000 || sc.List > 200000 ||
			sc.SellerTurns < 4 || sc.SellerTurns > 8 || sc.MaxTurns != 8 || sc.Budget <= 0 {
			t.Errorf("%v: out of range", sc)
		}
	}
	for _, p := range SellerPolicies {
		if perPolicy[p] != 40 {
			t.Errorf("%s: %d scenarios, want 40", p, perPolicy[p])
		}
	}
	if zone != 150 {
		t.Errorf("%d scenarios with a zone, want 150", zone)
	}
	if !reflect.DeepEqual(scs, Scenarios(1, 200)) {
		t.Error("the same seed gave different scenarios")
	}
	if reflect.DeepEqual(scs, Scenarios(2, 200)) {
		t.Error("different seeds gave the same scenarios")
	}
}

// The bench's own seller policies, run the way a seller node runs them.
func TestSellerRules(t *testing.T) {
	counter := func(minor int64, final bool) seller.Reply {
		return seller.Reply{Type: anp.TypeCounter, Price: money(minor), Final: final, State: seller.StateOpen}
	}
	accept := func(minor int64) seller.Reply {
		return seller.Reply{Type: anp.TypeAccept, Price: money(minor), State: seller.StateAccepted}
	}
	stalemate := seller.Reply{Type: anp.TypeReject, Reason: "stalemate", State: seller.StateCancelled}
	type step struct {
		offer int64
		want  seller.Reply
	}
	cases := []struct {
		name  string
		sc    Scenario
		steps []step // the buyer's offers from turn 2 on
	}{
		{"hard-liner holds, then a final offer at the floor", Scenario{List: 10000, Floor: 6000, Policy: SellerHardLiner, SellerTurns: 4},
			[]step{{5000, counter(10000, false)}, {5500, counter(10000, false)}, {5600, counter(6000, true)}, {5900, stalemate}}},
		{"tit-for-tat mirrors the buyer", Scenario{List: 10000, Floor: 6000, Policy: SellerTitForTat, SellerTurns: 5},
			[]step{
				{5000, counter(9800, false)}, // opening step: 5% of the span
				{5300, counter(9500, false)}, // mirrors +300
				{5300, counter(9500, false)}, // no concession, none back
				{5400, counter(9400, true)},  // its ask at its max turn is final
				{9000, stalemate},            // the final offer stands
			}},
		{"tit-for-tat meets an offer it mirrors down to", Scenario{List: 10000, Floor: 6000, Policy: SellerTitForTat, SellerTurns: 5},
			[]step{{5000, counter(9800, false)}, {7400, accept(7400)}}}, // 9800-2400 = 7400 meets the offer
		{"tit-for-tat never goes below its floor", Scenario{List: 10000, Floor: 6000, Policy: SellerTitForTat, SellerTurns: 8},
			[]step{{1000, counter(9800, false)}, {5000, counter(6000, true)}, {5500, stalemate}}},
		{"an offer above the ask is accepted at the latest ask", Scenario{List: 10000, Floor: 6000, Policy: SellerLinear, SellerTurns: 5},
			[]step{{12000, accept(10000)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ss := &sellerSide{policy: tc.sc.Seller()}
			r, err := ss.open(t.Context(), "s", anp.ProposeBody{Mode: anp.ModeC, Item: "x", Quantity: 1, Currency: Currency})
			if err != nil || r.Type != anp.TypeCounter || r.Price != money(tc.sc.List) {
				t.Fatalf("open = %+v, %v; want a counter at the list price", r, err)
			}
			for i, st := range tc.steps {
				r, err := ss.counter(t.Context(), i+2, money(st.offer))
				if err != nil {
					t.Fatal(err)
				}
				r.Message = ""
				if r != st.want {
					t.Fatalf("turn %d offer %d: %+v, want %+v", i+2, st.offer, r, st.want)
				}
			}
		})
	}
}

func TestRunBenchmarkInvariants(t *testing.T) {
	for _, seed := range []int64{1, 7} {
		rep := RunBenchmark(seed, 200, DefaultBuyers())
		if rep.Scenarios != 200 || rep.ZoneScenarios != 150 || len(rep.Rows) != 5 {
			t.Fatalf("seed %d: report %+v", seed, rep)
		}
		for _, row := range rep.Rows {
			if row.AboveBudget != 0 || row.NoZoneDeals != 0 || row.Errors != 0 {
				t.Errorf("seed %d %s: %d deals above budget, %d deals without a zone, %d errors", seed, row.Buyer, row.AboveBudget, row.NoZoneDeals, row.Errors)
			}
			if row.ZoneDeals == 0 || row.AgreementRate <= 0 || row.AgreementRate > 1 || row.ShareDeals < 0 || row.ShareDeals > 1 ||
				row.ShareAll > row.ShareDeals || row.MeanRounds < 1 || row.MeanRounds > 8 {
				t.Errorf("seed %d %s: implausible figures %+v", seed, row.Buyer, row)
			}
			ends := 0
			for _, n := range row.Ends {
				ends += n
			}
			if ends != rep.Scenarios || row.Ends[EndDeal] != row.ZoneDeals {
				t.Errorf("seed %d %s: ends %v do not add up", seed, row.Buyer, row.Ends)
			}
			if len(row.PerSeller) != len(SellerPolicies) {
				t.Errorf("seed %d %s: %d seller cells", seed, row.Buyer, len(row.PerSeller))
			}
		}
	}
}

func TestRunBenchmarkIsDeterministic(t *testing.T) {
	buyers := DefaultBuyers()
	a := RunBenchmark(1, 200, buyers)
	b := RunBenchmark(1, 200, buyers) // the same deciders again: their memories start over per session
	c := RunBenchmark(1, 200, DefaultBuyers())
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Fatalf("seed 1 gave different reports:\n%s\n%s\n%s", a.Markdown(), b.Markdown(), c.Markdown())
	}
	if a.Markdown() != c.Markdown() {
		t.Fatal("markdown differs between equal reports")
	}
	if d := RunBenchmark(2, 200, DefaultBuyers()); reflect.DeepEqual(a.Rows, d.Rows) {
		t.Fatal("seed 2 gave the same results as seed 1")
	}
}

func rowOf(t *testing.T, rep Report, name string) Row {
	t.Helper()
	for _, r := range rep.Rows {
		if r.Buyer == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return Row{}
}

// withoutHistory hides the rounds the engine records from a decider: with a
// concession.Decider literal (no memory of its own either) it decides from
// the latest snapshot alone.
type withoutHistory struct{ d buyer.Decider }

func (w withoutHistory) Decide(ctx context.Context, s buyer.Session) (buyer.Decision, error) {
	s.Rounds = nil
	return w.d.Decide(ctx, s)
}

// The concession deciders capture more of the zone than every baseline, and
// the history they read (the seller's first price, tit-for-tat detection)
// is worth having.
func TestConcessionBeatsBaselines(t *testing.T) {
	buyers := DefaultBuyers()
	buyers["ablation:boulware-without-history"] = withoutHistory{concession.Decider{Curve: concession.Boulware}}
	rep := RunBenchmark(1, 400, buyers)
	best := rowOf(t, rep, "strategy:boulware")
	for _, base := range []string{"baseline:accept-first", "baseline:clinch-guideline", "ablation:boulware-without-history"} {
		b := rowOf(t, rep, base)
		if best.ShareAll <= b.ShareAll || best.AgreementRate < b.AgreementRate {
			t.Errorf("strategy:boulware (agreement %.3f, share %.3f) does not beat %s (agreement %.3f, share %.3f)",
				best.AgreementRate, best.ShareAll, base, b.AgreementRate, b.ShareAll)
		}
	}
	for _, name := range []string{"strategy:linear", "strategy:conceder"} {
		for _, base := range []string{"baseline:accept-first", "baseline:clinch-guideline"} {
			if r, b := rowOf(t, rep, name), rowOf(t, rep, base); r.AgreementRate < b.AgreementRate {
				t.Errorf("%s agrees less often (%.3f) than %s (%.3f)", name, r.AgreementRate, base, b.AgreementRate)
			}
		}
	}
}

func TestMarkdown(t *testing.T) {
	rep := RunBenchmark(1, 20, map[string]buyer.Decider{"baseline:accept-first": AcceptFirst{}, "strategy:linear": concession.New(concession.Linear, 0)})
	md := rep.Markdown()
	for _, want := range []string{
		"Seed 1, 20 scenarios (15 with a zone of agreement, 5 without).",
		"| buyer | agreement (zone) | zone share (deals) |",
		"| baseline:accept-first | ", "| strategy:linear | ",
		"| buyer | boulware | linear | conceder | tit-for-tat | hard-liner |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "baseline:accept-first") > strings.Index(md, "strategy:linear") {
		t.Error("rows are not sorted by buyer name")
	}
	if n := strings.Count(md, "\n| strategy:linear |"); n != 2 {
		t.Errorf("strategy:linear has %d rows, want one per table", n)
	}
}

func BenchmarkNegotiationQuality(b *testing.B) {
	const seed, n = 1, 400
	var rep Report
	for b.Loop() {
		rep = RunBenchmark(seed, n, DefaultBuyers())
	}
	for _, row := range rep.Rows {
		name := strings.ReplaceAll(row.Buyer, ":", "-")
		b.ReportMetric(100*row.AgreementRate, name+"-agree%")
		b.ReportMetric(row.ShareAll, name+"-share")
		b.ReportMetric(row.MeanRounds, name+"-rounds")
		b.ReportMetric(float64(row.AboveBudget+row.NoZoneDeals), name+"-violations")
	}
}

func BenchmarkSimulate(b *testing.B) {
	scs := Scenarios(1, 400)
	for name, d := range DefaultBuyers() {
		b.Run(strings.ReplaceAll(name, ":", "-"), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				Simulate(b.Context(), scs[i%len(scs)], d)
				i++
			}
		})
	}
}

func ExampleRunBenchmark() {
	rep := RunBenchmark(1, 100, map[string]buyer.Decider{"strategy:boulware": concession.New(concession.Boulware, 0)})
	r := rep.Rows[0]
	fmt.Printf("%s: %d of %d deals, %d above budget, %d without a zone\n", r.Buyer, r.ZoneDeals, rep.ZoneScenarios, r.AboveBudget, r.NoZoneDeals)
	// Output: strategy:boulware: 73 of 75 deals, 0 above budget, 0 without a zone
}
