package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// Config chooses the scenarios of a benchmark run.
type Config struct {
	Seed      int64
	Scenarios int
	Split     Split
}

// Report is the result of RunBenchmark.
type Report struct {
	Config
	ZoneScenarios int // scenarios with a zone of agreement (budget >= floor)
	Families      []string
	Rows          []Row
}

// Row is one buyer decider's result.
type Row struct {
	Buyer string
	// Over the scenarios with a zone of agreement.
	ZoneDeals     int
	AgreementRate float64 // ZoneDeals / ZoneScenarios
	ShareDeals    float64 // mean (budget - price) / (budget - floor) over the deals
	ShareAll      float64 // the same over all zone scenarios, a failed negotiation counting 0
	// Over all scenarios.
	MeanRounds  float64 // mean turn at which the session ended
	AboveBudget int     // deals above the budget (must be 0)
	NoZoneDeals int     // deals where no zone exists (must be 0)
	GuardNotes  int     // decisions Session.PlanDecision changed (Guard or the turn limit)
	Errors      int     // negotiations that ended in an error (Outcome.End EndError)
	Ends        map[End]int
	PerFamily   []Cell // by opponent family, in Suite order
}

// Cell is one buyer's result against one opponent family, over its zone
// scenarios.
type Cell struct {
	Family        string
	ZoneScenarios int
	AgreementRate float64
	ShareDeals    float64
	ShareAll      float64
}

// Lowest returns the cell with the lowest agreement rate.
func (r Row) Lowest() Cell {
	low := Cell{AgreementRate: 2}
	for _, c := range r.PerFamily {
		if c.AgreementRate < low.AgreementRate {
			low = c
		}
	}
	return low
}

// RunBenchmark plays the scenarios cfg names with every buyer and reports
// the results, rows sorted by buyer name. It is deterministic for a fixed
// configuration when the deciders are.
func RunBenchmark(cfg Config, buyers map[string]buyer.Decider) Report {
	if cfg.Split == "" {
		cfg.Split = SplitTuned
	}
	scs := Scenarios(cfg.Seed, cfg.Scenarios, cfg.Split)
	rep := Report{Config: cfg}
	for _, f := range Suite() {
		rep.Families = append(rep.Families, f.Name)
	}
	for _, sc := range scs {
		if sc.Zone() {
			rep.ZoneScenarios++
		}
	}
	names := make([]string, 0, len(buyers))
	for name := range buyers {
		names = append(names, name)
	}
	sort.Strings(names)
	ctx := context.Background()
	for _, name := range names {
		outs := make([]Outcome, len(scs))
		for i, sc := range scs {
			outs[i] = Simulate(ctx, sc, buyers[name])
		}
		rep.Rows = append(rep.Rows, summarise(name, rep.Families, scs, outs))
	}
	return rep
}

type tally struct {
	zone, deals int
	share       float64
}

func (t tally) rate() float64 { return ratio(float64(t.deals), t.zone) }

func (t tally) cell(family string) Cell {
	return Cell{Family: family, ZoneScenarios: t.zone, AgreementRate: t.rate(), ShareDeals: ratio(t.share, t.deals), ShareAll: ratio(t.share, t.zone)}
}

func summarise(name string, families []string, scs []Scenario, outs []Outcome) Row {
	row := Row{Buyer: name, Ends: map[End]int{}}
	var all tally
	per := map[string]*tally{}
	rounds := 0
	for i, sc := range scs {
		o := outs[i]
		row.Ends[o.End]++
		rounds += o.Rounds
		row.GuardNotes += o.Guard
		if o.End == EndError {
			row.Errors++
		}
		deal := o.End == EndDeal
		if deal && o.Price > sc.Budget {
			row.AboveBudget++
		}
		if deal && !sc.Zone() {
			row.NoZoneDeals++
		}
		if !sc.Zone() {
			continue
		}
		t := per[sc.Family]
		if t == nil {
			t = &tally{}
			per[sc.Family] = t
		}
		all.zone++
		t.zone++
		if deal {
			share := float64(sc.Budget-o.Price) / float64(sc.Budget-sc.Floor)
			all.deals++
			all.share += share
			t.deals++
			t.share += share
		}
	}
	row.ZoneDeals = all.deals
	row.AgreementRate = all.rate()
	row.ShareDeals = ratio(all.share, all.deals)
	row.ShareAll = ratio(all.share, all.zone)
	row.MeanRounds = ratio(float64(rounds), len(scs))
	for _, f := range families {
		if t := per[f]; t != nil {
			row.PerFamily = append(row.PerFamily, t.cell(f))
		}
	}
	return row
}

func ratio(a float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return a / float64(n)
}

// Markdown renders the report as two tables: the summary per buyer and the
// breakdown per opponent family.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Split %s, seed %d, %d scenarios (%d with a zone of agreement, %d without).\n\n",
		r.Split, r.Seed, r.Scenarios, r.ZoneScenarios, r.Scenarios-r.ZoneScenarios)
	b.WriteString("| buyer | agreement (zone) | zone share (deals) | zone share (all zone scenarios) | lowest family agreement | mean rounds | deals above budget | deals without zone | guard changes | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Rows {
		low := row.Lowest()
		fmt.Fprintf(&b, "| %s | %.1f%% (%d/%d) | %.3f | %.3f | %.0f%% (%s) | %.2f | %d | %d | %d | %d |\n", row.Buyer,
			100*row.AgreementRate, row.ZoneDeals, r.ZoneScenarios, row.ShareDeals, row.ShareAll, 100*low.AgreementRate, low.Family,
			row.MeanRounds, row.AboveBudget, row.NoZoneDeals, row.GuardNotes, row.Errors)
	}
	b.WriteString("\nPer opponent family, scenarios with a zone: agreement rate / mean zone share over all its zone scenarios.\n\n| family |")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, " %s |", row.Buyer)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Rows)) + "\n")
	for _, f := range r.Families {
		fmt.Fprintf(&b, "| %s |", f)
		for _, row := range r.Rows {
			cell := "–"
			for _, c := range row.PerFamily {
				if c.Family == f {
					cell = fmt.Sprintf("%.0f%% / %.2f", 100*c.AgreementRate, c.ShareAll)
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}
