package bench

import (
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/sandbox/bench/opponent"
)

// Split names one half of the opponent suite's parameters: the benchmark
// is tuned on one and reported on the other.
type Split string

// The splits.
const (
	SplitTuned   Split = "tuned"    // the parameters (and seed 1) strategies were tuned on
	SplitHeldOut Split = "held-out" // parameters (and seed 2) kept out of tuning, for the report
)

// ParseSplit returns the split named "tuned" or "held-out".
func ParseSplit(name string) (Split, error) {
	switch Split(name) {
	case SplitTuned, SplitHeldOut:
		return Split(name), nil
	}
	return "", fmt.Errorf("bench: unknown split %q (want tuned or held-out)", name)
}

// DefaultSeed is the scenario seed each split is published with.
func (s Split) DefaultSeed() int64 {
	if s == SplitHeldOut {
		return 2
	}
	return 1
}

// Variant is one parameter setting of an opponent family.
type Variant struct {
	Params string // the parameters, for people
	Split  Split
	Turns  [2]int // the seller's deadline is drawn from Turns[0]..Turns[1]; zero: 4..8
	// New makes the seller: b holds the scenario's prices, currency and
	// deadline, seed the opponent's private randomness (its noise).
	New func(b opponent.Base, seed uint64) seller.Policy
}

// Family is one kind of seller of the suite, with its parameter sweep.
type Family struct {
	Name     string
	Source   string // where the behaviour is described
	Variants []Variant
}

// variants returns the family's variants of split.
func (f Family) variants(split Split) []Variant {
	var out []Variant
	for _, v := range f.Variants {
		if v.Split == split {
			out = append(out, v)
		}
	}
	return out
}

// timeDependent is a variant of the time-dependent tactic.
func timeDependent(split Split, e, noise float64, turns [2]int) Variant {
	return Variant{Params: fmt.Sprintf("e=%g noise=%g", e, noise), Split: split, Turns: turns,
		New: func(b opponent.Base, seed uint64) seller.Policy {
			return opponent.TimeDependent{Base: b, E: e, Noise: noise, Seed: seed}
		}}
}

// curvePolicy is the project's own seller.CurvePolicy, the policy seller
// nodes run by default.
func curvePolicy(split Split, e float64) Variant {
	return Variant{Params: fmt.Sprintf("seller.CurvePolicy e=%g", e), Split: split,
		New: func(b opponent.Base, _ uint64) seller.Policy {
			return &seller.CurvePolicy{List: anp.Money{Amount: b.List, Currency: b.Currency}, Floor: anp.Money{Amount: b.Floor, Currency: b.Currency},
				Exponent: e, MaxTurns: b.MaxTurns}
		}}
}

func titForTat(split Split, relative bool, openStep, noise, weight float64) Variant {
	return Variant{Params: fmt.Sprintf("first step=%g noise=%g weight=%g", openStep, noise, weight), Split: split,
		New: func(b opponent.Base, seed uint64) seller.Policy {
			return opponent.TitForTat{Base: b, Relative: relative, OpenStep: openStep, Noise: noise, Weight: weight, Seed: seed}
		}}
}

// micro is MiCRO with its steps a function of the seller's deadline.
func micro(split Split, name string, steps func(turns int) int) Variant {
	return Variant{Params: "steps=" + name, Split: split,
		New: func(b opponent.Base, _ uint64) seller.Policy {
			return opponent.MiCRO{Base: b, Steps: max(steps(b.MaxTurns), 1)}
		}}
}

func stepDemanding(split Split, minRaise, e float64) Variant {
	return Variant{Params: fmt.Sprintf("min raise=%g of list, e=%g", minRaise, e), Split: split,
		New: func(b opponent.Base, _ uint64) seller.Policy {
			return opponent.StepDemanding{Base: b, E: e, MinRaise: minRaise}
		}}
}

func walkAway(split Split, threshold float64, openingOnly bool, e float64) Variant {
	scope := "every offer"
	if openingOnly {
		scope = "opening offer"
	}
	return Variant{Params: fmt.Sprintf("below %g of its ask (%s), e=%g", threshold, scope, e), Split: split,
		New: func(b opponent.Base, seed uint64) seller.Policy {
			return opponent.WalkAway{TimeDependent: opponent.TimeDependent{Base: b, E: e, Seed: seed}, Threshold: threshold, OpeningOnly: openingOnly}
		}}
}

func bluffer(split Split, level float64, at int, twice bool) Variant {
	return Variant{Params: fmt.Sprintf("bluff at %g of list from turn %d, twice=%v", level, at, twice), Split: split, Turns: [2]int{max(4, at+2), 8},
		New: func(b opponent.Base, _ uint64) seller.Policy {
			return opponent.Bluffer{Base: b, Level: level, At: at, Twice: twice}
		}}
}

func takeItOrLeaveIt(split Split, at int, e float64) Variant {
	return Variant{Params: fmt.Sprintf("final at its floor at turn %d, e=%g before", at, e), Split: split, Turns: [2]int{max(4, at+1), 8},
		New: func(b opponent.Base, _ uint64) seller.Policy {
			return opponent.TakeItOrLeaveIt{Base: b, E: e, At: at}
		}}
}

// Suite is the opponent suite: every family with its tuned and held-out
// parameters. Sellers' deadlines run from 4 to 8 turns unless the variant
// says otherwise; the buyer's is 8.
func Suite() []Family {
	const t, h = SplitTuned, SplitHeldOut
	all := [2]int{}
	short := func(lo, hi int) [2]int { return [2]int{lo, hi} }
	return []Family{
		{Name: "boulware", Source: "Faratin, Sierra & Jennings 1998, time-dependent tactic, e < 1, with noise", Variants: []Variant{
			timeDependent(t, 0.2, 0, all), timeDependent(t, 0.3, 0.05, all), curvePolicy(t, 0.3),
			timeDependent(h, 0.1, 0, all), timeDependent(h, 0.4, 0.1, all), timeDependent(h, 0.25, 0.03, all)}},
		{Name: "linear", Source: "Faratin et al. 1998, time-dependent tactic, e = 1, with noise", Variants: []Variant{
			timeDependent(t, 1, 0, all), timeDependent(t, 1, 0.05, all),
			timeDependent(h, 1, 0.1, all), timeDependent(h, 0.8, 0.02, all), curvePolicy(h, 1)}},
		{Name: "conceder", Source: "Faratin et al. 1998, time-dependent tactic, e > 1, with noise", Variants: []Variant{
			timeDependent(t, 2, 0, all), timeDependent(t, 3, 0.05, all),
			timeDependent(h, 5, 0, all), timeDependent(h, 2.5, 0.1, all)}},
		{Name: "hard-headed", Source: "after HardHeaded (van Krimpen, Looije & Hajizadeh, ANAC 2011): Boulware with e near 0", Variants: []Variant{
			timeDependent(t, 0.05, 0, all),
			timeDependent(h, 0.02, 0, all), timeDependent(h, 0.08, 0.02, all)}},
		{Name: "tit-for-tat", Source: "Faratin et al. 1998, (random) absolute tit-for-tat, alone or mixed with the linear tactic", Variants: []Variant{
			titForTat(t, false, 0.05, 0, 1), titForTat(t, false, 0.05, 0.02, 0.8),
			titForTat(h, false, 0.1, 0, 1), titForTat(h, false, 0.03, 0.04, 0.9), titForTat(h, false, 0.05, 0.02, 0.7)}},
		{Name: "relative-tit-for-tat", Source: "Faratin et al. 1998, relative tit-for-tat, alone or mixed with the linear tactic", Variants: []Variant{
			titForTat(t, true, 0.05, 0, 1), titForTat(t, true, 0.08, 0, 0.8),
			titForTat(h, true, 0.03, 0, 1), titForTat(h, true, 0.05, 0.02, 0.9)}},
		{Name: "micro", Source: "de Jonge 2022, MiCRO: one step down per new offer of the opponent", Variants: []Variant{
			micro(t, "T-1", func(n int) int { return n - 1 }), micro(t, "T/2", func(n int) int { return n / 2 }),
			micro(h, "T-2", func(n int) int { return n - 2 }), micro(h, "3", func(int) int { return 3 })}},
		{Name: "step-demanding", Source: "a time-dependent seller that concedes only after a raise of the buyer of at least a minimum", Variants: []Variant{
			stepDemanding(t, 0, 1), stepDemanding(t, 0.02, 0.5),
			stepDemanding(h, 0.01, 1), stepDemanding(h, 0.03, 0.7)}},
		{Name: "walk-away", Source: "a seller that ends the talk on an insulting offer (below a share of its ask)", Variants: []Variant{
			walkAway(t, 0.5, true, 0.3), walkAway(t, 0.4, false, 1),
			walkAway(h, 0.45, false, 0.5), walkAway(h, 0.52, true, 2)}},
		{Name: "bluffer", Source: "a seller that marks a high ask as final and concedes to its floor at its real deadline", Variants: []Variant{
			bluffer(t, 1, 2, false), bluffer(t, 0.95, 3, false),
			bluffer(h, 0.97, 2, true), bluffer(h, 0.92, 2, false), bluffer(h, 1, 4, false)}},
		{Name: "take-it-or-leave-it", Source: "a real final offer: a jump to its floor before its deadline, lower offers rejected", Variants: []Variant{
			takeItOrLeaveIt(t, 2, 1), takeItOrLeaveIt(t, 3, 0.3),
			takeItOrLeaveIt(h, 4, 0.5), takeItOrLeaveIt(h, 3, 2)}},
		{Name: "short-deadline", Source: "time-dependent sellers whose deadline (2-4 turns) is shorter than the buyer's (8)", Variants: []Variant{
			timeDependent(t, 0.3, 0, short(2, 3)), timeDependent(t, 1, 0.05, short(3, 4)),
			timeDependent(h, 2, 0, short(2, 4)), timeDependent(h, 0.5, 0.05, short(3, 3))}},
	}
}
