package bench

import "math"

// sellerReply is the simulated seller's answer to a buyer offer.
type sellerReply struct {
	kind  replyKind
	price int64 // the accepted price or the new ask
	final bool  // a counter marked as the seller's last word
}

type replyKind int

const (
	replyCounter replyKind = iota
	replyAccept
	replyReject
)

// sellerState is what a simulated seller knows during a negotiation.
type sellerState struct {
	sc         Scenario
	lastAsk    int64
	lastOffer  int64 // the buyer's previous offer (0: none)
	finalGiven bool
}

// newSeller opens a negotiation at the list price (turn 1).
func newSeller(sc Scenario) *sellerState {
	return &sellerState{sc: sc, lastAsk: sc.List}
}

// respond answers a buyer offer at turn with the protocol's seller rules (the
// rules of seller.CurvePolicy): an offer at or above the current ask is
// accepted at the offer, never above the previous ask; after the final offer
// (which then stands as the ask), or past the seller's max turns, a lower
// offer is rejected; otherwise the seller counters with its new ask, which
// never rises and never falls below the floor.
func (st *sellerState) respond(turn int, offer int64) sellerReply {
	ceiling := st.lastAsk
	ask := ceiling // a final offer stands
	if !st.finalGiven {
		ask = max(min(policyAsk(st.sc, turn, st.lastAsk, st.lastOffer, offer), ceiling), st.sc.Floor)
	}
	st.lastOffer = offer
	if offer >= ask {
		return sellerReply{kind: replyAccept, price: min(offer, ceiling)}
	}
	if st.finalGiven || turn > st.sc.SellerTurns {
		return sellerReply{kind: replyReject}
	}
	final := ask <= st.sc.Floor || (st.sc.Policy == SellerTitForTat && turn >= st.sc.SellerTurns)
	st.lastAsk, st.finalGiven = ask, final
	return sellerReply{kind: replyCounter, price: ask, final: final}
}

// policyAsk is the seller policy's ask at turn (2 or later) before the
// protocol's clamps. Each policy is a pure function of the scenario, the
// turn and the offers seen.
func policyAsk(sc Scenario, turn int, lastAsk, prevOffer, offer int64) int64 {
	switch sc.Policy {
	case SellerBoulware:
		return curveAsk(sc, turn, 0.3)
	case SellerLinear:
		return curveAsk(sc, turn, 1)
	case SellerConceder:
		return curveAsk(sc, turn, 3)
	case SellerTitForTat:
		return titForTatAsk(sc, lastAsk, prevOffer, offer)
	case SellerHardLiner:
		if turn >= sc.SellerTurns {
			return sc.Floor
		}
		return sc.List
	}
	return sc.List
}

// curveAsk is seller.CurvePolicy's concession curve: the list price at turn
// 1, the floor at the seller's max turns, rounded up to a minor unit.
func curveAsk(sc Scenario, turn int, e float64) int64 {
	T := sc.SellerTurns
	if turn >= T {
		return sc.Floor
	}
	if turn <= 1 {
		return sc.List
	}
	x := float64(turn-1) / float64(T-1)
	span := sc.List - sc.Floor
	v := float64(span) * (1 - math.Pow(x, 1/e))
	c := int64(math.Ceil(v - 1e-9*math.Max(1, v)))
	return sc.Floor + max(0, min(c, span))
}

// titForTatAsk concedes what the buyer conceded since its previous offer
// (an opening step of 5% of the list-to-floor span answers the first offer).
func titForTatAsk(sc Scenario, lastAsk, prevOffer, offer int64) int64 {
	step := (sc.List - sc.Floor) / 20
	if prevOffer > 0 {
		step = max(0, offer-prevOffer)
	}
	return lastAsk - step
}
