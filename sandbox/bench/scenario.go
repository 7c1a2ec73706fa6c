// Package bench measures how well buyer deciders negotiate: each decider
// plays a set of seeded scenarios against seller policies with hidden
// floors, in an in-memory simulation that runs the engine's own rules on
// both sides (the buyer's session rules and the seller node's step, see
// Simulate), and the results are reported per decider.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SellerPolicy names a simulated seller's behaviour.
type SellerPolicy string

// Simulated seller policies.
const (
	SellerBoulware   SellerPolicy = "boulware"    // concession curve e = 0.3: firm, concedes late
	SellerLinear     SellerPolicy = "linear"      // e = 1
	SellerConceder   SellerPolicy = "conceder"    // e = 3: concedes early
	SellerTitForTat  SellerPolicy = "tit-for-tat" // mirrors the buyer's concessions
	SellerHardLiner  SellerPolicy = "hard-liner"  // holds the list price, then a final offer at the floor
	defaultBuyerTurn              = 8             // buyer max turns (the engine's default)
)

// SellerPolicies lists the simulated policies in a fixed order.
var SellerPolicies = []SellerPolicy{SellerBoulware, SellerLinear, SellerConceder, SellerTitForTat, SellerHardLiner}

// Currency is the scenarios' currency; amounts are in its minor units.
const Currency = "USD"

// Scenario is one negotiation: what the seller asks first, the lowest price it
// will take (hidden from the buyer), the buyer's budget, how the seller
// concedes and how many turns each side allows.
type Scenario struct {
	Index       int
	List        int64 // the seller's first price (minor units)
	Floor       int64 // the seller's hidden floor
	Budget      int64 // the buyer's max budget
	Policy      SellerPolicy
	SellerTurns int // the seller's max turns: its final offer comes at this turn
	MaxTurns    int // the buyer's max turns
}

// Zone reports whether a zone of agreement exists: the budget reaches the floor.
func (sc Scenario) Zone() bool { return sc.Budget >= sc.Floor }

// String describes the scenario for test failures.
func (sc Scenario) String() string {
	return fmt.Sprintf("scenario %d: %s seller (T=%d), list %d, floor %d, budget %d, buyer T=%d",
		sc.Index, sc.Policy, sc.SellerTurns, sc.List, sc.Floor, sc.Budget, sc.MaxTurns)
}

// Scenarios generates n scenarios from seed. Policies rotate so each gets a
// fifth of the scenarios, and in every block of twenty three quarters have a
// zone of agreement. List prices run from 50.00 to 2000.00, floors from 55% to
// 90% of the list price; with a zone the budget lies between just above the
// floor and 115% of the list price, without one between 60% and 97% of the
// floor. The seller's max turns are 4 to 8; the buyer's are 8.
func Scenarios(seed int64, n int) []Scenario {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	out := make([]Scenario, 0, n)
	for i := range n {
		sc := Scenario{Index: i, Policy: SellerPolicies[i%len(SellerPolicies)], MaxTurns: defaultBuyerTurn}
		sc.List = 5000 + r.Int64N(195001)
		sc.Floor = int64(math.Round(float64(sc.List) * uniform(r, 0.55, 0.90)))
		sc.SellerTurns = 4 + r.IntN(5)
		if (i/len(SellerPolicies))%4 != 3 {
			hi := float64(sc.List) * 1.15
			sc.Budget = sc.Floor + 1 + int64(math.Round((hi-float64(sc.Floor))*uniform(r, 0.05, 1)))
		} else {
			sc.Budget = int64(math.Round(float64(sc.Floor) * uniform(r, 0.60, 0.97)))
		}
		out = append(out, sc)
	}
	return out
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }
