// Package bench measures how well buyer deciders negotiate: each decider
// plays a set of seeded scenarios against an opponent suite of seller
// policies with hidden floors (package opponent, from the automated
// negotiation literature), in an in-memory simulation that runs the
// engine's own rules on both sides (the buyer's session rules and the
// seller node's step, see Simulate), and the results are reported per
// decider and per opponent family.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/sandbox/bench/opponent"
)

// defaultBuyerTurns is the buyer's max turns (the engine's default).
const defaultBuyerTurns = 8

// Currency is the scenarios' currency; amounts are in its minor units.
const Currency = "USD"

// Scenario is one negotiation: the opponent (a seller.Policy of the suite),
// what it asks first, the lowest price it will take (hidden from the
// buyer), the buyer's budget and how many turns each side allows.
type Scenario struct {
	ID          string // split and index, unique across splits
	Index       int
	Split       Split
	Family      string // the opponent family (Family.Name)
	Params      string // the opponent's parameters (Variant.Params)
	List        int64  // the seller's first price (minor units)
	Floor       int64  // the seller's reservation price, hidden from the buyer
	Budget      int64  // the buyer's max budget
	SellerTurns int    // the seller's deadline
	MaxTurns    int    // the buyer's max turns
	Seller      seller.Policy
}

// Zone reports whether a zone of agreement exists: the budget reaches the floor.
func (sc Scenario) Zone() bool { return sc.Budget >= sc.Floor }

// String describes the scenario for test failures.
func (sc Scenario) String() string {
	return fmt.Sprintf("scenario %s: %s seller (%s, T=%d), list %d, floor %d, budget %d, buyer T=%d",
		sc.ID, sc.Family, sc.Params, sc.SellerTurns, sc.List, sc.Floor, sc.Budget, sc.MaxTurns)
}

// Terms are the proposal terms of the scenario's negotiation; they name the
// scenario, so a seller node serving many scenarios can tell them apart.
func (sc Scenario) Terms() map[string]string {
	return map[string]string{"scenario": sc.ID}
}

// Scenarios generates n scenarios of split from seed. Families rotate, so
// each gets an equal share, and each scenario draws one of its family's
// variants of the split. In every four rounds of the families three have a
// zone of agreement. List prices run from 50.00 to 2000.00, floors from 55%
// to 90% of the list price; with a zone the budget lies between just above
// the floor and 115% of the list price, without one between 60% and 97% of
// the floor. The seller's deadline is the variant's (4 to 8 turns unless it
// says otherwise); the buyer's max turns are 8.
func Scenarios(seed int64, n int, split Split) []Scenario {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	suite := Suite()
	out := make([]Scenario, 0, n)
	for i := range n {
		f := suite[i%len(suite)]
		vs := f.variants(split)
		v := vs[r.IntN(len(vs))]
		sc := Scenario{ID: fmt.Sprintf("%s-%d", split, i), Index: i, Split: split, Family: f.Name, Params: v.Params, MaxTurns: defaultBuyerTurns}
		sc.List = 5000 + r.Int64N(195001)
		sc.Floor = int64(math.Round(float64(sc.List) * uniform(r, 0.55, 0.90)))
		lo, hi := v.Turns[0], v.Turns[1]
		if lo == 0 {
			lo, hi = 4, 8
		}
		sc.SellerTurns = lo + r.IntN(hi-lo+1)
		if (i/len(suite))%4 != 3 {
			top := float64(sc.List) * 1.15
			sc.Budget = sc.Floor + 1 + int64(math.Round((top-float64(sc.Floor))*uniform(r, 0.05, 1)))
		} else {
			sc.Budget = int64(math.Round(float64(sc.Floor) * uniform(r, 0.60, 0.97)))
		}
		sc.Seller = v.New(opponent.Base{Currency: Currency, List: sc.List, Floor: sc.Floor, MaxTurns: sc.SellerTurns}, r.Uint64())
		out = append(out, sc)
	}
	return out
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }
