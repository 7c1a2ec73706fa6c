package reputation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// randomHistory is n random facts in log order: deals between a few
// sellers and buyers (so that pairs repeat and parties vouch for each
// other), with and without deadlines, and every kind of event, on time,
// late, repeated, out of order or malformed, on a clock that advances by
// up to two months a fact.
func randomHistory(rng *rand.Rand, n int) []Fact {
	sellers := []Party{"a.example", "b.example", "c.example", "d.example"}
	buyers := []Party{buyer(1), buyer(2), Party(fmt.Sprintf("id:%064x", 3)), Party(fmt.Sprintf("id:%064x", 4)), "e.example"}
	var facts []Fact
	var sessions []string
	clock := ms(0)
	for len(facts) < n {
		clock += rng.Int64N(60 * day)
		ref := Ref{Leaf: uint64(len(facts)), At: clock}
		if len(sessions) == 0 || rng.IntN(3) == 0 {
			d := randomDeal(rng, ref, sellers, buyers, len(sessions))
			sessions = append(sessions, d.Session)
			facts = append(facts, d)
			continue
		}
		ref.Session = sessions[rng.IntN(len(sessions))]
		if rng.IntN(20) == 0 {
			ref.At -= rng.Int64N(90 * day) // perhaps before its deal
		}
		facts = append(facts, randomEvent(rng, ref))
	}
	return facts
}

// randomDeal is a deal between random parties (now and then one party on
// both sides, or a session that repeats, which do not apply).
func randomDeal(rng *rand.Rand, ref Ref, sellers, buyers []Party, n int) DealSigned {
	ref.Session = fmt.Sprintf("%032x", n)
	if rng.IntN(30) == 0 && n > 0 {
		ref.Session = fmt.Sprintf("%032x", rng.IntN(n))
	}
	d := DealSigned{Ref: ref, Seller: sellers[rng.IntN(len(sellers))], Buyer: buyers[rng.IntN(len(buyers))],
		Value: anp.Money{Amount: rng.Int64N(5_000_000), Currency: []string{"USD", "JPY", "EUR"}[rng.IntN(3)]}}
	if rng.IntN(4) != 0 {
		d.Deadline = ref.At + rng.Int64N(120*day)
	}
	if rng.IntN(25) == 0 {
		d.Buyer = Party(d.Seller)
	}
	return d
}

// randomEvent is a random event of the session of ref.
func randomEvent(rng *rand.Rand, ref Ref) Fact {
	roles := []Role{RoleSeller, RoleBuyer, RoleSeller, RoleBuyer, "nobody"}
	switch rng.IntN(6) {
	case 0, 1:
		return Fulfilled{ref}
	case 2:
		return Received{ref}
	case 3:
		return Breached{Ref: ref, By: roles[rng.IntN(len(roles))]}
	case 4:
		return DisputeOpened{Ref: ref, By: roles[rng.IntN(len(roles))]}
	}
	return DisputeResolved{Ref: ref, Winner: []Outcome{ForBuyer, ForSeller, Split, ForBuyer, "nobody"}[rng.IntN(5)]}
}

// scoreTimes are times to score facts at: before the first one, at and
// just after the last, and up to three years later (decay of mass and of
// penalties).
func scoreTimes(rng *rand.Rand, facts []Fact) []int64 {
	last := facts[len(facts)-1].Where().At
	return []int64{ms(-1), last + rng.Int64N(2), last + rng.Int64N(3*365*day), facts[rng.IntN(len(facts))].Where().At}
}

// TestBookMatchesAFreshComputation applies random histories fact by fact
// and compares, after each, every party's mass and penalty (unrounded, bit
// for bit), score, evidence and pairs with a computation from scratch over
// the party's deals (refBook), at several times.
func TestBookMatchesAFreshComputation(t *testing.T) {
	for seed := range 50 {
		rng := rand.New(rand.NewPCG(uint64(seed), 13))
		facts := randomHistory(rng, 30+rng.IntN(90))
		book, ref := NewBook(), newRefBook(nil)
		for i, f := range facts {
			_ = book.Apply(f)
			ref.apply(f)
			for _, now := range scoreTimes(rng, facts[:i+1]) {
				if err := compareBooks(book, ref, now); err != nil {
					t.Fatalf("seed %d, after fact %d (%T), at %d: %v", seed, i, f, now, err)
				}
			}
		}
	}
}

// compareBooks compares every figure of book with ref's at now.
func compareBooks(book *Book, ref *refBook, now int64) error {
	if len(book.parties) != len(ref.byParty) {
		return fmt.Errorf("%d parties, want %d", len(book.parties), len(ref.byParty))
	}
	at := time.UnixMilli(now)
	for p := range ref.byParty {
		m, pen := book.figures(book.parties[p], now)
		wm, wpen := ref.figures(p, now)
		if math.Float64bits(m) != math.Float64bits(wm) || math.Float64bits(pen) != math.Float64bits(wpen) {
			return fmt.Errorf("%s: mass %v penalty %v, want %v %v", p, m, pen, wm, wpen)
		}
		if got, want := book.Score(p, at), ref.Score(p, at); got != want {
			return fmt.Errorf("score %+v, want %+v", got, want)
		}
		for _, got := range book.Pairs(p, at) {
			if want := ref.Pair(got.From, got.To, at); got != want {
				return fmt.Errorf("pair %+v, want %+v", got, want)
			}
		}
	}
	if got, want := book.Score("new.example", at), ref.Score("new.example", at); got != want {
		return fmt.Errorf("newcomer %+v, want %+v", got, want)
	}
	return nil
}

// TestBookReportEqualsCompute: a book fed fact by fact, scored in between
// (its running sums brought up to date at several points), reports what
// Compute reports from the same facts at once.
func TestBookReportEqualsCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	facts := randomHistory(rng, 400)
	book := NewBook()
	for i, f := range facts {
		_ = book.Apply(f)
		if i%13 == 0 {
			_ = book.Report(time.UnixMilli(f.Where().At))
		}
	}
	now := time.UnixMilli(facts[len(facts)-1].Where().At + 30*day)
	if got, want := book.Report(now), Compute(facts, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("report differs from Compute:\n%+v\n%+v", got, want)
	}
}
