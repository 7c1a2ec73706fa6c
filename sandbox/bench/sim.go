package bench

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
)

// End says how a simulated negotiation ended.
type End string

// Negotiation ends.
const (
	EndDeal         End = "deal"
	EndBuyerExit    End = "buyer exit"
	EndSellerReject End = "seller reject"
	EndRefused      End = "engine refused" // the engine refused to send the decided move (Session.NextOffer)
	EndError        End = "error"          // the decider failed, or a side broke the protocol
)

// Outcome is the result of one simulated negotiation.
type Outcome struct {
	End    End
	Price  int64 // the agreed price when End is EndDeal
	Rounds int   // the session's turn when it ended
	Guard  int   // decisions Session.PlanDecision changed (what the engine logs as guardrail notes)
	Err    error // why, when End is EndError or EndRefused
}

// Simulate plays one scenario with decider d, in memory, by the engine's own
// rules. The buyer side is buyer.Core.Negotiate's loop over the pure session
// rules: each decision passes Session.PlanDecision, an exit ends the
// session, Session.NextOffer gives the price sent (or the engine's refusal),
// and Session.ApplyOwnCounter and Session.ApplySellerMove keep the session.
// The seller side is the scenario's seller.Policy (Scenario.Seller) run the
// way a seller node runs it: SessionView.ForCounter admits each COUNTER,
// seller.Step turns the policy's decision into the reply, SessionView.After
// keeps the seller's session. Only the transport is left out: no envelopes,
// signatures or registry.
func Simulate(ctx context.Context, sc Scenario, d buyer.Decider) Outcome {
	id := "sim-" + sc.ID
	budget := money(sc.Budget)
	prop := anp.ProposeBody{Mode: anp.ModeC, Item: simItem, Quantity: 1, Currency: Currency, Terms: sc.Terms()}
	s := buyer.Session{ID: id, Seller: simSeller, Address: anp.Address{Mode: anp.ModeC, Domain: simSeller}.String(), Mode: anp.ModeC,
		State: buyer.StateProposed, Turn: 1, MaxTurns: sc.MaxTurns, Item: prop.Item, Quantity: prop.Quantity, Terms: prop.Terms, MaxBudget: budget}
	ss := &sellerSide{policy: sc.Seller}
	r, err := ss.open(ctx, id, prop)
	out := Outcome{}
	for {
		if err == nil {
			err = s.ApplySellerMove(sellerMove(r))
		}
		if err != nil {
			out.End, out.Rounds, out.Err = EndError, s.Turn, err
			return out
		}
		switch {
		case s.State == buyer.StateConfirmed:
			out.End, out.Price, out.Rounds = EndDeal, s.AgreedPrice.Amount, s.Turn
			return out
		case s.State == buyer.StateCancelled || s.State == buyer.StateStalemate:
			out.End, out.Rounds = EndSellerReject, s.Turn
			return out
		case s.State != buyer.StateCountered || s.AwaitingSeller:
			out.End, out.Rounds, out.Err = EndError, s.Turn, fmt.Errorf("session %s, awaiting the seller %v: not simulated", s.State, s.AwaitingSeller)
			return out
		}
		dec, err := d.Decide(ctx, s)
		if err != nil {
			out.End, out.Rounds, out.Err = EndError, s.Turn, err
			return out
		}
		dec, note := s.PlanDecision(dec)
		if note != "" {
			out.Guard++
		}
		if dec.Action == buyer.ActionExit {
			out.End, out.Rounds = EndBuyerExit, s.Turn
			return out
		}
		price, err := s.NextOffer(dec.Price)
		if err != nil {
			out.End, out.Rounds, out.Err = EndRefused, s.Turn, err
			return out
		}
		turn := s.Turn + 1
		r, err = ss.counter(ctx, turn, price)
		if err == nil {
			s.ApplyOwnCounter(price, turn)
		}
	}
}

// The simulated negotiation's item and seller domain.
const (
	simItem   = "simulated item"
	simSeller = "sim-seller.anp"
)

// sellerMove is the buyer's reading of a seller reply, as the engine
// decodes it from the envelope.
func sellerMove(r seller.Reply) buyer.SellerMove {
	return buyer.SellerMove{Type: r.Type, Price: r.Price, Final: r.Final, Message: r.Message, Reason: r.Reason}
}

func money(minor int64) anp.Money { return anp.Money{Amount: minor, Currency: Currency} }

// sellerSide is a scenario's seller as a node runs it: the policy answers,
// and seller.Step, SessionView.ForCounter and SessionView.After (the node's
// own rules) turn its answers into replies and keep the session.
type sellerSide struct {
	policy seller.Policy
	view   seller.SessionView
}

// open answers the buyer's PROPOSE (turn 1), like a node's PROPOSE handler.
func (ss *sellerSide) open(ctx context.Context, id string, prop anp.ProposeBody) (seller.Reply, error) {
	ss.view = seller.SessionView{ID: id, Mode: prop.Mode, Item: prop.Item, Category: prop.Category, Quantity: prop.Quantity,
		Currency: prop.Currency, Terms: prop.Terms, Turn: 1, State: seller.StateOpen}
	d, err := ss.policy.Open(ctx, ss.view, prop)
	if err != nil {
		return seller.Reply{}, err
	}
	return ss.reply(ss.view, d, prop.Offer)
}

// counter answers a buyer COUNTER of offer at turn, like a node's COUNTER
// handler.
func (ss *sellerSide) counter(ctx context.Context, turn int, offer anp.Money) (seller.Reply, error) {
	v, err := ss.view.ForCounter(turn)
	if err != nil {
		return seller.Reply{}, err
	}
	d, err := ss.policy.Respond(ctx, v, offer)
	if err != nil {
		return seller.Reply{}, err
	}
	return ss.reply(v, d, &offer)
}

func (ss *sellerSide) reply(v seller.SessionView, d seller.Decision, offer *anp.Money) (seller.Reply, error) {
	r, err := seller.Step(v, d, offer)
	if err != nil {
		return seller.Reply{}, err
	}
	ss.view = v.After(r, offer)
	return r, nil
}
