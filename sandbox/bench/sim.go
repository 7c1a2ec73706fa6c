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
	id := fmt.Sprintf("sim-%06d", sc.Index)
	budget := money(sc.Budget)
	prop := anp.ProposeBody{Mode: anp.ModeC, Item: simItem, Quantity: 1, Currency: Currency, Terms: sc.Terms()}
	s := buyer.Session{ID: id, Seller: simSeller, Address: anp.Address{Mode: anp.ModeC, Domain: simSeller}.String(), Mode: anp.ModeC,
		State: buyer.StateProposed, Turn: 1, MaxTurns: sc.MaxTurns, Item: prop.Item, Quantity: prop.Quantity, Terms: prop.Terms, MaxBudget: budget}
	ss := &sellerSide{policy: sc.Seller()}
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
