package seller

import (
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file holds the seller's pure negotiation rules: when a buyer COUNTER
// is admitted (SessionView.ForCounter), how a policy's decision becomes the
// reply the protocol allows (Step), what that reply does to the session
// (SessionView.After), and the offer rule of a seller that walks its asks
// down to a floor (AskRule). Nothing here does I/O, takes a lock or reads a
// clock, so a Node and the negotiation benchmark play by exactly these rules.

// Reply is the seller's answer to one buyer move, as Step allows it.
type Reply struct {
	Type    anp.MsgType // COUNTER, ACCEPT, REJECT or ESCALATE
	Price   anp.Money   // COUNTER: the new ask; ACCEPT: the accepted price
	Final   bool        // COUNTER: the seller's last word
	Reason  string      // REJECT and ESCALATE: the reason code
	Message string      // the policy's text, cleaned for a message body
	State   State       // the session's state after the reply
	Held    bool        // the policy raised its ask; the previous ask stands
}

// ForCounter returns the view a policy answers a buyer COUNTER at turn with,
// or why the seller refuses the COUNTER: the session must be OPEN and turn
// the one after v.Turn.
func (v SessionView) ForCounter(turn int) (SessionView, error) {
	if v.State != StateOpen {
		return SessionView{}, anp.Errorf(anp.CodeBadState, "COUNTER is not allowed in state %s", v.State)
	}
	if turn != v.Turn+1 {
		return SessionView{}, anp.Errorf(anp.CodeBadRequest, "offer is for turn %d, expected turn %d", turn, v.Turn+1)
	}
	v.Turn = turn
	return v, nil
}

// Step turns a policy's decision on the buyer's move at turn v.Turn into the
// reply the protocol allows. offer is the buyer's offer being answered (nil:
// a PROPOSE without an opening offer). A policy cannot raise its ask (the
// previous ask is held), accept above the buyer's offer or without one, or
// price in another currency than the session's; an error means the decision
// cannot be sent at all. A REJECT after the seller's final offer has reason
// "stalemate", any other "rejected".
func Step(v SessionView, d Decision, offer *anp.Money) (Reply, error) {
	msg := anp.CleanText(d.Message, anp.MaxMessageLen)
	switch d.Action {
	case ActionCounter:
		p := d.Price
		if err := p.Positive(); err != nil || p.Currency != v.Currency {
			return Reply{}, fmt.Errorf("seller: policy countered with %s, not a positive %s amount", p, v.Currency)
		}
		held := v.LastAsk != nil && p.Amount > v.LastAsk.Amount
		if held {
			p = *v.LastAsk
		}
		return Reply{Type: anp.TypeCounter, Price: p, Final: d.Final, Message: msg, State: StateOpen, Held: held}, nil
	case ActionAccept:
		if offer == nil {
			return Reply{}, fmt.Errorf("seller: policy accepted at turn %d but the buyer made no offer", v.Turn)
		}
		p := d.Price
		if p == (anp.Money{}) {
			p = *offer
		}
		if err := p.Positive(); err != nil || p.Currency != offer.Currency || p.Amount > offer.Amount {
			return Reply{}, fmt.Errorf("seller: policy accepted at %s for a buyer offer of %s", p, offer)
		}
		return Reply{Type: anp.TypeAccept, Price: p, Message: msg, State: StateAccepted}, nil
	case ActionReject:
		reason := "rejected"
		if v.FinalGiven {
			reason = "stalemate" // the buyer did not meet the seller's final offer
		}
		return Reply{Type: anp.TypeReject, Reason: reason, Message: msg, State: StateCancelled}, nil
	case ActionEscalate:
		return Reply{Type: anp.TypeEscalate, Reason: "escalated", Message: msg, State: StateOpen}, nil
	}
	return Reply{}, fmt.Errorf("seller: policy returned unknown action %q", d.Action)
}

// After returns the view once the seller has sent r in answer to offer (nil:
// none) at turn v.Turn: the buyer's offer and the seller's ask as they now
// stand, whether the seller has made its final offer, and the new state.
func (v SessionView) After(r Reply, offer *anp.Money) SessionView {
	if offer != nil {
		v.LastOffer = cloneMoney(offer)
	}
	if r.Type == anp.TypeCounter {
		v.LastAsk = cloneMoney(&r.Price)
		v.FinalGiven = v.FinalGiven || r.Final
	}
	v.State = r.State
	return v
}

// answer is the node's reply for r at turn.
func (r Reply) answer(turn int) answer {
	a := answer{typ: r.Type, state: r.State}
	switch r.Type {
	case anp.TypeCounter:
		a.body, a.ask = anp.OfferBody{Price: r.Price, Turn: turn, Message: r.Message, Final: r.Final}, cloneMoney(&r.Price)
	case anp.TypeAccept:
		a.body, a.accepted = anp.OfferBody{Price: r.Price, Turn: turn, Message: r.Message}, cloneMoney(&r.Price)
	default:
		a.body = anp.NoteBody{Reason: r.Reason, Message: r.Message}
	}
	return a
}

// AskRule is the offer rule of a seller that walks its asks from a list
// price down to a floor within at most MaxTurns turns. CurvePolicy applies it
// to its concession curve; other policies can apply it to asks of their own.
// Amounts are totals in minor units of Currency.
type AskRule struct {
	Currency string
	List     int64 // the first ask; no price above it is ever accepted
	Floor    int64 // the lowest ask; an ask at the floor is the seller's final offer
	MaxTurns int   // past this turn a lower offer is rejected
}

// Answer applies the rule at turn to the buyer's offer (0: none), given the
// policy's ask for the turn and whether the policy makes that ask its final
// offer even above the floor. The ask is kept within [Floor, the latest
// ask] (List before any), and after a final offer the final ask stands. An
// offer at or above the ask is accepted at the offer, but never above the
// latest ask; a lower offer after a final offer or past MaxTurns is
// rejected; anything else gets a counter at the ask, final when it is at the
// floor or final is set.
func (r AskRule) Answer(v SessionView, turn int, offer, ask int64, final bool) Decision {
	ceiling := r.List
	if v.LastAsk != nil && v.LastAsk.Currency == r.Currency && v.LastAsk.Amount < ceiling {
		ceiling = v.LastAsk.Amount
	}
	finalGiven := v.FinalGiven || v.LastAsk != nil && v.LastAsk.Amount <= r.Floor
	ask = min(max(ask, r.Floor), ceiling)
	if finalGiven {
		ask = ceiling // the final offer stands
	}
	money := func(a int64) anp.Money { return anp.Money{Amount: a, Currency: r.Currency} }
	if offer > 0 && offer >= ask {
		m := money(min(offer, ceiling))
		return Decision{Action: ActionAccept, Price: m, Message: fmt.Sprintf("Deal at %s.", m)}
	}
	if offer > 0 && (finalGiven || turn > r.MaxTurns) {
		return Decision{Action: ActionReject, Message: fmt.Sprintf("Our final offer was %s; %s is below what we can accept.", money(ceiling), money(offer))}
	}
	m := money(ask)
	if ask <= r.Floor || final {
		return Decision{Action: ActionCounter, Price: m, Final: true, Message: fmt.Sprintf("Final offer: %s.", m)}
	}
	return Decision{Action: ActionCounter, Price: m, Message: fmt.Sprintf("We can do %s.", m)}
}
