package seller

import (
	"context"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Action is what a policy decides to do with a buyer's message.
type Action string

// The policy actions.
const (
	ActionCounter  Action = "counter"  // answer with a new ask (a seller COUNTER)
	ActionAccept   Action = "accept"   // accept the buyer's offer (a seller ACCEPT)
	ActionReject   Action = "reject"   // end the negotiation without a deal (a seller REJECT)
	ActionEscalate Action = "escalate" // ask for human review; the session stays open (a seller ESCALATE)
)

// Decision is a policy's answer.
//
// For ActionCounter, Price is the new ask; the node never lets an ask rise
// above the previous one. For ActionAccept, Price is the accepted price; it
// must not exceed the buyer's offer, and the zero value means "at the
// buyer's offer". Final marks a counter as the seller's last word.
type Decision struct {
	Action  Action
	Price   anp.Money
	Message string
	Final   bool
}

// State is the seller-side state of a session.
type State string

// Session states. OPEN -> ACCEPTED -> SIGNED, or CANCELLED (buyer CANCEL or
// seller REJECT) or EXPIRED (idle longer than Config.SessionTTL).
const (
	StateOpen      State = "OPEN"
	StateAccepted  State = "ACCEPTED"
	StateSigned    State = "SIGNED"
	StateCancelled State = "CANCELLED"
	StateExpired   State = "EXPIRED"
)

// SessionView is a read-only snapshot of a session, as policies see it.
//
// Turn is the buyer turn being answered (PROPOSE is turn 1, each buyer
// COUNTER the next); in a snapshot from Node.Session it is the latest turn.
// LastAsk is the seller's latest ask and LastOffer the buyer's latest offer
// before the one being answered (nil when there is none). Prices are totals
// for Quantity units. Credential is the opened blind credential the buyer
// sealed to this seller, "" when none was sent; it is given to policies only
// and is never logged, echoed or returned by Node.Session. Terms is a copy.
type SessionView struct {
	ID         string
	Mode       anp.Mode
	Item       string
	Category   string
	Quantity   int
	Currency   string
	Terms      map[string]string
	Credential string
	Turn       int
	LastAsk    *anp.Money
	LastOffer  *anp.Money
	FinalGiven bool // the seller has made its final offer (a COUNTER marked Final)
	State      State
}

// Policy decides the seller's answers. A node calls it with the session
// locked, so calls for one session never overlap; calls for different
// sessions may run concurrently.
type Policy interface {
	// Open answers a PROPOSE (turn 1) with the opening ask, or accepts or
	// rejects it. p.Offer is the buyer's optional opening offer;
	// p.Credential is always empty (the opened credential is s.Credential).
	Open(ctx context.Context, s SessionView, p anp.ProposeBody) (Decision, error)
	// Respond answers a buyer COUNTER with offer at turn s.Turn.
	Respond(ctx context.Context, s SessionView, offer anp.Money) (Decision, error)
}

// Answerer is an optional Policy extension that answers buyer QUERY
// messages. The answer travels in a seller INFORM. Policies without it get
// a fixed answer inviting an offer.
type Answerer interface {
	Answer(ctx context.Context, s SessionView, question anp.NoteBody) (string, error)
}

// validator is implemented by policies that can check their own settings.
type validator interface {
	Validate() error
}
