package bench

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// End says how a simulated negotiation ended.
type End string

// Negotiation ends.
const (
	EndDeal         End = "deal"
	EndBuyerExit    End = "buyer exit"
	EndSellerReject End = "seller reject"
	EndMaxTurns     End = "max turns" // the decider moved when the engine allows no more moves
	EndError        End = "decider error"
)

// Outcome is the result of one simulated negotiation.
type Outcome struct {
	End    End
	Price  int64 // the agreed price when End is EndDeal
	Rounds int   // the session's turn when it ended
	Guard  int   // decisions buyer.Guard changed
	Err    error // the decider's error when End is EndError
}

// Simulate plays one scenario with decider d, mirroring the buyer engine
// (buyer.Core.Negotiate): the seller opens at its list price at turn 1; each
// decision passes buyer.Guard; a counter past max turns becomes an exit; an
// accept is a counter at the seller's price; any counter or accept that would
// exceed max turns is refused by the engine and ends the session.
func Simulate(ctx context.Context, sc Scenario, d buyer.Decider) Outcome {
	seller := newSeller(sc)
	ask := anp.Money{Amount: sc.List, Currency: Currency}
	s := buyer.Session{
		ID: fmt.Sprintf("sim-%06d", sc.Index), Seller: "sim-seller.anp", Address: "ANP/C.sim-seller.anp", Mode: anp.ModeC,
		State: buyer.StateCountered, Turn: 1, MaxTurns: sc.MaxTurns, Item: "simulated item", Quantity: 1,
		MaxBudget: anp.Money{Amount: sc.Budget, Currency: Currency}, LastSellerPrice: &ask,
		SellerMessage: fmt.Sprintf("Our price is %s.", ask),
	}
	out := Outcome{}
	for {
		dec, err := d.Decide(ctx, s)
		if err != nil {
			out.End, out.Rounds, out.Err = EndError, s.Turn, err
			return out
		}
		dec, note := buyer.Guard(s, dec)
		if note != "" {
			out.Guard++
		}
		if dec.Action == buyer.ActionCounter && s.Turn+1 > s.MaxTurns {
			dec = buyer.Decision{Action: buyer.ActionExit}
		}
		if dec.Action == buyer.ActionExit {
			out.End, out.Rounds = EndBuyerExit, s.Turn
			return out
		}
		if s.Turn+1 > s.MaxTurns { // Core.Counter refuses any move past max turns
			out.End, out.Rounds = EndMaxTurns, s.Turn
			return out
		}
		turn := s.Turn + 1
		offer := dec.Price
		rep := seller.respond(turn, offer.Amount)
		s.Turn, s.LastOwnOffer = turn, &offer
		switch rep.kind {
		case replyAccept:
			out.End, out.Price, out.Rounds = EndDeal, rep.price, turn
			return out
		case replyReject:
			out.End, out.Rounds = EndSellerReject, turn
			return out
		}
		p := anp.Money{Amount: rep.price, Currency: Currency}
		s.LastSellerPrice, s.SellerFinal = &p, rep.final
		s.SellerMessage = fmt.Sprintf("We can do %s.", p)
		if rep.final {
			s.SellerMessage = fmt.Sprintf("Final offer: %s.", p)
		}
	}
}
