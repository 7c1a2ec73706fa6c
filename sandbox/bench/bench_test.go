package bench

import (
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

// The seller simulation uses the real seller.CurvePolicy curve.
func TestCurveAskMatchesCurvePolicy(t *testing.T) {
	for _, sc := range Scenarios(3, 60) {
		e := map[SellerPolicy]float64{SellerBoulware: 0.3, SellerLinear: 1, SellerConceder: 3}[sc.Policy]
		if e == 0 {
			continue
		}
		p := seller.CurvePolicy{List: anp.Money{Amount: sc.List, Currency: Currency}, Floor: anp.Money{Amount: sc.Floor, Currency: Currency},
			Exponent: e, MaxTurns: sc.SellerTurns}
		for turn := 1; turn <= sc.SellerTurns+1; turn++ {
			want, err := p.AskAt(turn, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := curveAsk(sc, turn, e); got != want.Amount {
				t.Errorf("%v turn %d: simulated ask %d, CurvePolicy asks %d", sc, turn, got, want.Amount)
			}
		}
	}
}

func TestSellerRules(t *testing.T) {
	sc := Scenario{List: 10000, Floor: 6000, Budget: 9000, Policy: SellerHardLiner, SellerTurns: 4, MaxTurns: 8}
	st := newSeller(sc)
	steps := []struct {
		turn  int
		offer int64
		want  sellerReply
	}{
		{2, 5000, sellerReply{kind: replyCounter, price: 10000}},
		{3, 5500, sellerReply{kind: replyCounter, price: 10000}},
		{4, 5600, sellerReply{kind: replyCounter, price: 6000, final: true}},
		{5, 5900, sellerReply{kind: replyReject}},
	}
	for _, s := range steps {
		if got := st.respond(s.turn, s.offer); got != s.want {
			t.Fatalf("hard-liner turn %d offer %d: %+v, want %+v", s.turn, s.offer, got, s.want)
		}
	}
	tft := newSeller(Scenario{List: 10000, Floor: 6000, Policy: SellerTitForTat, SellerTurns: 5})
	for _, s := range []struct {
		turn  int
		offer int64
		want  sellerReply
	}{
		{2, 5000, sellerReply{kind: replyCounter, price: 9800}}, // opening step: 5% of the span
		{3, 5300, sellerReply{kind: replyCounter, price: 9500}}, // mirrors +300
		{4, 5300, sellerReply{kind: replyCounter, price: 9500}}, // no concession, none back
		{5, 5400, sellerReply{kind: replyCounter, price: 9400, final: true}},
		{6, 9000, sellerReply{kind: replyReject}}, // the final offer stands
	} {
		if got := tft.respond(s.turn, s.offer); got != s.want {
			t.Fatalf("tit-for-tat turn %d offer %d: %+v, want %+v", s.turn, s.offer, got, s.want)
		}
	}
	meet := newSeller(Scenario{List: 10000, Floor: 6000, Policy: SellerTitForTat, SellerTurns: 5})
	meet.respond(2, 5000)
	if got := meet.respond(3, 7400); got != (sellerReply{kind: replyAccept, price: 7400}) { // 9800-2400 = 7400 meets the offer
		t.Fatalf("tit-for-tat meeting the midpoint: %+v", got)
	}
	// An offer above the current ask is accepted, but never above the last ask.
	lin := newSeller(Scenario{List: 10000, Floor: 6000, Policy: SellerLinear, SellerTurns: 5})
	if got := lin.respond(2, 12000); got != (sellerReply{kind: replyAccept, price: 10000}) {
		t.Fatalf("offer above the ask: %+v", got)
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

// The concession deciders capture more of the zone than every baseline, and
// their memory (first price, tit-for-tat detection) is worth having.
func TestConcessionBeatsBaselines(t *testing.T) {
	buyers := DefaultBuyers()
	buyers["ablation:boulware-without-memory"] = concession.Decider{Curve: concession.Boulware}
	rep := RunBenchmark(1, 400, buyers)
	best := rowOf(t, rep, "strategy:boulware")
	for _, base := range []string{"baseline:accept-first", "baseline:clinch-guideline", "ablation:boulware-without-memory"} {
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
