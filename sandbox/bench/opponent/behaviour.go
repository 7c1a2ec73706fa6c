package opponent

import (
	"context"
	"math"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// TitForTat is the behaviour-dependent tactic of Faratin et al. with a
// window of one offer: the seller imitates the buyer's last concession.
// Absolute tit-for-tat concedes the same amount the buyer raised its offer
// by; relative tit-for-tat concedes the same proportion (ask · previous
// offer / offer). Its first counter concedes OpenStep·(list-floor), noise of
// up to Noise·(list-floor) either way makes it the random absolute variant,
// and Weight mixes it with the linear time-dependent tactic as Faratin et al.
// combine tactics: ask = Weight·imitation + (1-Weight)·time ask (Weight 1:
// pure imitation). Its ask at MaxTurns is its final offer, whatever it is.
type TitForTat struct {
	Base
	Relative bool
	OpenStep float64 // the first concession, as a fraction of list-floor
	Noise    float64
	Weight   float64 // share of imitation in the ask (0 means 1)
	Seed     uint64
}

// Open implements seller.Policy.
func (p TitForTat) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p TitForTat) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p TitForTat) respond(v seller.SessionView, offer int64) seller.Decision {
	last := amountOr(v.LastAsk, p.List)
	imitation := float64(last) - p.OpenStep*float64(p.span())
	if prev := amountOr(v.LastOffer, 0); prev > 0 {
		switch {
		case offer <= prev:
			imitation = float64(last) // no concession, none back
		case p.Relative:
			imitation = float64(last) * float64(prev) / float64(offer)
		default:
			imitation = float64(last) - float64(offer-prev)
		}
		if p.Noise > 0 {
			imitation += p.Noise * float64(p.span()) * noise(p.Seed, v.Turn)
		}
	}
	w := p.Weight
	if w <= 0 || w > 1 {
		w = 1
	}
	ask := w*imitation + (1-w)*float64(p.timeAsk(v.Turn, 1))
	return p.answer(v, offer, int64(math.Ceil(ask)))
}

// MiCRO is de Jonge's "Minimal Concession in Reply to Offers" strategy for a
// seller: its possible asks run from the list price to the floor in Steps
// equal steps, and it moves one step down only in reply to a new offer (one
// the buyer has not made before: with offers that never go down, a raise),
// so it has never made more distinct asks than the buyer made distinct
// offers. It accepts an offer at or above the ask it would make next. Its
// ask at MaxTurns is final.
type MiCRO struct {
	Base
	Steps int // how many steps from the list price to the floor (at least 1)
}

// Open implements seller.Policy.
func (p MiCRO) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p MiCRO) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p MiCRO) respond(v seller.SessionView, offer int64) seller.Decision {
	level := p.level(amountOr(v.LastAsk, p.List))
	if offer > amountOr(v.LastOffer, 0) {
		level++ // a new offer earns one step
	}
	return p.answer(v, offer, p.askAt(level))
}

func (p MiCRO) steps() int { return max(p.Steps, 1) }

// askAt is the ask of step level (0: the list price).
func (p MiCRO) askAt(level int) int64 {
	n := p.steps()
	level = min(max(level, 0), n)
	return p.List - p.span()*int64(level)/int64(n)
}

// level is the step an ask stands at: the lowest step whose ask is at or
// above it.
func (p MiCRO) level(ask int64) int {
	for l := 0; l < p.steps(); l++ {
		if p.askAt(l+1) < ask {
			return l
		}
	}
	return p.steps()
}

// StepDemanding asks for a step before it concedes: it follows the
// time-dependent tactic with exponent E, but only in reply to the buyer's
// first offer and to raises of at least MinRaise·List; after a smaller
// raise (or none) it holds its ask ("come up and I will come down"). A
// held turn is not lost: the next qualifying raise brings it to its curve.
// MinRaise 0 asks for any raise at all. Its ask at MaxTurns is final.
type StepDemanding struct {
	Base
	E        float64
	MinRaise float64 // the smallest raise it answers, as a fraction of the list price
}

// Open implements seller.Policy.
func (p StepDemanding) Open(_ context.Context, v seller.SessionView, prop anp.ProposeBody) (seller.Decision, error) {
	return open(p, v, prop)
}

// Respond implements seller.Policy.
func (p StepDemanding) Respond(_ context.Context, v seller.SessionView, offer anp.Money) (seller.Decision, error) {
	return respond(p, v, offer)
}

func (p StepDemanding) respond(v seller.SessionView, offer int64) seller.Decision {
	ask := amountOr(v.LastAsk, p.List)
	prev := amountOr(v.LastOffer, 0)
	need := max(int64(math.Ceil(p.MinRaise*float64(p.List))), 1)
	if prev == 0 || offer-prev >= need {
		ask = p.timeAsk(v.Turn, p.E)
	}
	return p.answer(v, offer, ask)
}
