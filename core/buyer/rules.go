package buyer

import (
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file holds the pure rules of one session: what a seller's move does to
// it, what the buyer may do next, and which offers the budget allows. Nothing
// here does I/O, takes a lock or reads a clock, so the engine, the deciders
// and the negotiation benchmark all play by exactly these rules.

// defaultMaxTurns is the engine's turn limit when neither the session nor the
// configuration sets one.
const defaultMaxTurns = 8

// SellerMove is what one seller envelope says, decoded: the input of
// Session.ApplySellerMove.
type SellerMove struct {
	Type    anp.MsgType
	Price   anp.Money // COUNTER and ACCEPT
	Final   bool      // COUNTER: the seller's last word
	Message string    // untrusted seller text
	Reason  string    // REJECT and CANCEL: the seller's reason code
}

// ApplySellerMove applies a seller's move: the state machine and the checks on
// the seller's prices. An error means the seller broke the protocol; the
// session may then be partly changed and must be marked ERROR.
func (s *Session) ApplySellerMove(m SellerMove) error {
	if !anp.SellerMayAnswer(m.Type) {
		return fmt.Errorf("seller sent %s, which only a buyer may send", m.Type)
	}
	if m.Type == anp.TypeInform { // a note or an answer to a QUERY: no state change
		s.SellerMessage = m.Message
		if s.State != StateEscalated {
			s.AwaitingSeller = false
		}
		return nil
	}
	wasEscalated := s.State == StateEscalated
	s.AwaitingSeller, s.Escalated = false, false
	if err := s.applyMove(m); err != nil {
		return err
	}
	if wasEscalated && s.State != StateEscalated {
		s.Escalation = &Escalation{Status: EscalationResolved, Outcome: escalationOutcome(m.Type)}
	}
	return nil
}

// applyMove applies a seller move other than INFORM.
func (s *Session) applyMove(m SellerMove) error {
	switch m.Type {
	case anp.TypeCounter:
		return s.applySellerCounter(m)
	case anp.TypeAccept:
		return s.applySellerAccept(m)
	case anp.TypeReject, anp.TypeCancel:
		to := StateCancelled
		if m.Reason == "max_turns" || m.Reason == "stalemate" {
			to = StateStalemate
		}
		if err := checkTransition(s.State, to); err != nil {
			return err
		}
		s.State, s.SellerMessage, s.Reason = to, m.Message, "seller ended the negotiation: "+knownReason(m.Reason, m.Type)
	case anp.TypeEscalate:
		if err := checkTransition(s.State, StateEscalated); err != nil {
			return err
		}
		s.State, s.SellerMessage = StateEscalated, m.Message
		s.Escalated = true
		s.AwaitingSeller = true // a person on the seller side answers later
		s.Escalation = &Escalation{Status: EscalationPending}
	case anp.TypeConfirm:
		return fmt.Errorf("seller sent CONFIRM without a COMMIT")
	}
	return nil
}

// applySellerCounter takes the seller's new price.
func (s *Session) applySellerCounter(m SellerMove) error {
	if m.Price.Currency != s.MaxBudget.Currency {
		return fmt.Errorf("seller countered in %s, the session is in %s", m.Price.Currency, s.MaxBudget.Currency)
	}
	if err := checkTransition(s.State, StateCountered); err != nil {
		return err
	}
	p := m.Price
	s.LastSellerPrice, s.SellerMessage, s.SellerFinal, s.State = &p, m.Message, m.Final, StateCountered
	s.Rounds = append(s.Rounds, Round{Turn: s.Turn, SellerPrice: p, Final: m.Final, OwnOffer: s.LastOwnOffer})
	return nil
}

// applySellerAccept takes the seller's acceptance of the buyer's last offer:
// at most that offer and within the budget, or the seller broke the protocol.
func (s *Session) applySellerAccept(m SellerMove) error {
	switch {
	case s.LastOwnOffer == nil:
		return fmt.Errorf("seller accepted before the buyer made any offer")
	case m.Price.Currency != s.LastOwnOffer.Currency:
		return fmt.Errorf("seller accepted in %s, the session is in %s", m.Price.Currency, s.LastOwnOffer.Currency)
	case m.Price.Amount > s.LastOwnOffer.Amount:
		return fmt.Errorf("seller accepted at %s, above the buyer's offer of %s", m.Price, s.LastOwnOffer)
	case m.Price.Amount > s.MaxBudget.Amount:
		return fmt.Errorf("seller accepted at %s, above max_budget", m.Price)
	}
	if err := checkTransition(s.State, StateConfirmed); err != nil {
		return err
	}
	p := m.Price
	s.LastSellerPrice, s.AgreedPrice, s.SellerMessage, s.State = &p, &p, m.Message, StateConfirmed
	return nil
}

// ApplyOwnCounter records a buyer COUNTER the seller received: the new own
// offer and turn.
func (s *Session) ApplyOwnCounter(price anp.Money, turn int) {
	p := price
	s.LastOwnOffer, s.Turn = &p, turn
}

// TurnLimit is the session's max turns as the engine enforces them:
// MaxTurns, or the engine's default (defaultMaxTurns) when MaxTurns is 0.
// Deciders plan within it.
func (s *Session) TurnLimit() int {
	if s.MaxTurns > 0 {
		return s.MaxTurns
	}
	return defaultMaxTurns
}

// AllowedMoves lists what the buyer may do next.
func (s *Session) AllowedMoves() []Move {
	switch {
	case s.State.Terminal():
		return nil
	case s.AwaitingSeller || s.State == StateProposed:
		return []Move{MoveWait, MoveCancel}
	case s.State == StateCountered:
		var mv []Move
		if s.Turn < s.TurnLimit() {
			mv = append(mv, MoveCounter)
		}
		if s.LastSellerPrice != nil && s.LastSellerPrice.Amount <= s.MaxBudget.Amount {
			mv = append(mv, MoveAccept)
		}
		return append(mv, MoveCancel)
	case s.State == StateConfirmed:
		return []Move{MoveApprove, MoveCancel}
	}
	return nil
}

// Headroom is MaxBudget minus the last seller price (negative: over budget),
// or nil when the seller has not quoted yet.
func (s *Session) Headroom() *anp.Money {
	if s.LastSellerPrice == nil {
		return nil
	}
	return &anp.Money{Amount: s.MaxBudget.Amount - s.LastSellerPrice.Amount, Currency: s.MaxBudget.Currency}
}

// CheckOffer is the budget guardrail on an offer the buyer wants to make:
// positive, in the budget's currency, at most max_budget, and never below the
// buyer's previous offer.
func (s *Session) CheckOffer(price anp.Money) error {
	if err := price.Positive(); err != nil {
		return fmt.Errorf("%w: price: %w", ErrInvalidInput, err)
	}
	if price.Currency != s.MaxBudget.Currency {
		return fmt.Errorf("%w: price is in %s, the budget is in %s", ErrInvalidInput, price.Currency, s.MaxBudget.Currency)
	}
	if price.Amount > s.MaxBudget.Amount {
		return fmt.Errorf("%w: %s is above the buyer's max_budget; nothing was sent", ErrOverBudget, price)
	}
	if s.LastOwnOffer != nil && price.Amount < s.LastOwnOffer.Amount {
		return fmt.Errorf("%w: %s is below the previous offer of %s; offers may not go down", ErrInvalidInput, price, s.LastOwnOffer)
	}
	return nil
}

// NextOffer returns the price a counter at price sends at the next turn, or
// why it is refused: the budget guardrail, then a price above the seller's
// ask is lowered to the ask (offering more is accepting it), and past max
// turns only accepting the seller's price is allowed.
func (s *Session) NextOffer(price anp.Money) (anp.Money, error) {
	if err := s.CheckOffer(price); err != nil {
		return anp.Money{}, err
	}
	ask := s.LastSellerPrice
	if ask != nil && price.Currency == ask.Currency && price.Amount > ask.Amount {
		price = *ask
	}
	accepting := ask != nil && price == *ask
	if s.Turn+1 > s.TurnLimit() && !accepting {
		return anp.Money{}, fmt.Errorf("session %s: %w: max turns (%d) reached; accept the seller's price or cancel", s.ID, ErrBadState, s.TurnLimit())
	}
	return price, nil
}

// PlanDecision is what the engine makes of a decider's decision before it
// acts: Guard's hard limits, then a counter past max turns becomes an exit
// (accepting the standing price stays allowed). It returns a note when it
// changed the decision.
func (s *Session) PlanDecision(d Decision) (Decision, string) {
	d, note := Guard(*s, d)
	if d.Action == ActionCounter && s.Turn+1 > s.TurnLimit() {
		return Decision{Action: ActionExit, Message: "Max turns reached.", Source: d.Source}, "counter past max turns turned into exit"
	}
	return d, note
}

// knownReason maps the seller's reason code onto our own words: the field is
// seller-written and must not reach a model outside the untrusted fence.
func knownReason(code string, t anp.MsgType) string {
	switch code {
	case "stalemate", "max_turns":
		return "no agreement within the seller's turns"
	case "rejected":
		return "rejected"
	case "cancelled", "seller_cancel":
		return "cancelled by the seller"
	case "":
		return strings.ToLower(string(t))
	}
	return "other reason (see the seller's message)"
}
