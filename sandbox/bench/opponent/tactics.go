package opponent

import (
	"context"
	"fmt"
	"math"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// WalkAway is a time-dependent seller that ends the negotiation when an
// offer insults it: an offer below Threshold times its current ask (the
// list price for the opening offer). With OpeningOnly it judges the
// buyer's first offer only.
type WalkAway struct {
	TimeDependent
	Threshold   float64 // the lowest acceptable offer as a fraction of the seller's current ask
	OpeningOnly bool
}

// Open implements seller.Policy.
func (p WalkAway) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p WalkAway) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p WalkAway) respond(v seller.SessionView, offer int64) seller.Decision {
	first := amountOr(v.LastOffer, 0) == 0
	if (first || !p.OpeningOnly) && float64(offer) < p.Threshold*float64(amountOr(v.LastAsk, p.List)) {
		return seller.Decision{Action: seller.ActionReject, Message: "That offer is not serious; we are done here."}
	}
	return p.TimeDependent.respond(v, offer)
}

// Bluffer concedes on a Boulware curve (exponent 0.3) until turn At, then
// claims a "final" offer at Level times its list price (never below its
// floor) and repeats the claim, and drops to its floor, as a real final
// offer, only at its deadline. With Twice it bluffs again halfway between
// the first bluff and its floor at the middle turn between At and its
// deadline. It accepts an offer at or above its current ask; unlike a seller
// whose final offer is real, it answers a lower offer after its bluff with
// the bluff again, not a rejection.
type Bluffer struct {
	Base
	Level float64 // the bluffed final ask as a fraction of the list price
	At    int     // the turn of the first bluff (at least 1)
	Twice bool
}

// Open implements seller.Policy.
func (p Bluffer) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p Bluffer) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p Bluffer) respond(v seller.SessionView, offer int64) seller.Decision {
	bv := v
	bv.FinalGiven = false // a bluff does not bind it; AskRule still holds a final offer at the floor
	if v.Turn >= p.MaxTurns || v.Turn < p.At {
		return p.rule().Answer(bv, v.Turn, offer, p.timeAsk(v.Turn, 0.3), v.Turn >= p.MaxTurns)
	}
	bluff := max(int64(math.Ceil(p.Level*float64(p.List))), p.Floor+1)
	if p.Twice && v.Turn >= (p.At+p.MaxTurns+1)/2 {
		bluff = max((bluff+p.Floor)/2, p.Floor+1)
	}
	d := p.rule().Answer(bv, v.Turn, offer, bluff, true)
	if d.Action == seller.ActionCounter {
		d.Message = fmt.Sprintf("This is our final offer: %s. Take it or leave it.", d.Price)
	}
	return d
}

// TakeItOrLeaveIt makes a real final offer: it concedes on a time-dependent
// curve with exponent E, and at turn At (before its deadline, at the
// latest at MaxTurns) it jumps to its floor, marks it final and rejects any
// lower offer after it.
type TakeItOrLeaveIt struct {
	Base
	E  float64
	At int
}

// Open implements seller.Policy.
func (p TakeItOrLeaveIt) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p TakeItOrLeaveIt) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p TakeItOrLeaveIt) respond(v seller.SessionView, offer int64) seller.Decision {
	ask := p.timeAsk(v.Turn, p.E)
	if v.Turn >= min(p.At, p.MaxTurns) {
		ask = p.Floor
	}
	return p.answer(v, offer, ask)
}
