package buyer

import (
	"fmt"
	"slices"
)

// State is the buyer-side state of one session.
type State string

// Session states. Terminal states never change again.
const (
	StateProposed  State = "PROPOSED"  // PROPOSE sent; waiting for the seller's first answer
	StateCountered State = "COUNTERED" // the seller made an offer; the buyer moves next
	StateEscalated State = "ESCALATED" // the seller asked a person on its side to review; the buyer waits or cancels
	StateConfirmed State = "CONFIRMED" // the seller accepted a price; the buyer's approval is required
	StateSigned    State = "SIGNED"    // artifact signed by all three parties
	StateCancelled State = "CANCELLED" // either side withdrew
	StateStalemate State = "STALEMATE" // max turns reached without agreement
	StateExpired   State = "EXPIRED"   // the session deadline passed
	StateError     State = "ERROR"     // the seller broke the protocol; nothing can be signed
)

// Terminal reports whether no move can change the session any more.
func (s State) Terminal() bool {
	switch s {
	case StateSigned, StateCancelled, StateStalemate, StateExpired, StateError:
		return true
	}
	return false
}

// Move is a buyer action on a session.
type Move string

// Buyer moves, as reported in Session.AllowedMoves.
const (
	MoveCounter Move = "counter"
	MoveAccept  Move = "accept" // counter at the seller's price (the seller then confirms)
	MoveApprove Move = "approve_and_sign"
	MoveCancel  Move = "cancel"
	MoveWait    Move = "wait" // the seller answers asynchronously
)

// transitions lists, per state, the states a session may move to.
var transitions = map[State][]State{
	StateProposed:  {StateCountered, StateConfirmed, StateEscalated, StateCancelled, StateStalemate, StateExpired, StateError},
	StateCountered: {StateCountered, StateConfirmed, StateEscalated, StateCancelled, StateStalemate, StateExpired, StateError},
	StateEscalated: {StateCountered, StateConfirmed, StateCancelled, StateStalemate, StateExpired, StateError},
	StateConfirmed: {StateSigned, StateCancelled, StateExpired, StateError},
}

// checkTransition enforces the state machine's from-state guards.
func checkTransition(from, to State) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	return fmt.Errorf("session cannot move from %s to %s", from, to)
}
