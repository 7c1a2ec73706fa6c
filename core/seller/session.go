package seller

import (
	"container/list"
	"maps"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// session is the seller's state of one negotiation. Every field is guarded
// by mu.
type session struct {
	mu sync.Mutex

	id         string
	buyerKey   string          // the buyer's ephemeral session key (From of the PROPOSE)
	propose    anp.ProposeBody // as proposed, without the sealed credential
	credential string          // opened blind credential, "" when none

	state      State
	turn       int        // the buyer turn answered last (PROPOSE is 1)
	lastAsk    *anp.Money // the seller's latest ask
	lastOffer  *anp.Money // the buyer's latest offer
	finalGiven bool       // the seller has made a Final offer
	accepted   *anp.Money // the price of the seller's ACCEPT
	acceptEnv  *anp.Envelope
	acceptHash string
	signedSig  string // seller signature returned in CONFIRM

	transcript anp.Transcript
	// lastBuyer is the hash of the latest buyer envelope and lastReply the
	// reply that followed it (nil while an async answer is outstanding):
	// a byte-identical retransmission gets the same reply again.
	lastBuyer string
	lastReply *anp.Envelope
	pending   bool // an async answer to the latest COUNTER is outstanding

	lastActive time.Time
	until      int64 // unix ms after which the PROPOSE can no longer be accepted
	gone       bool  // removed from the node; lookups treat it as unknown
	bytes      int64 // what the session holds, as the table's limits count it

	// fresh: the buyer has sent only its PROPOSE (table.go). freshElem is
	// the session's element of the node's fresh list, guarded by Node.mu
	// as well; both are changed with both locks held.
	fresh      bool
	freshSince time.Time
	freshElem  *list.Element

	// With a Config.Store (store.go): the stored version the fields hold,
	// 0 before the first save, and whether they may differ from it (a
	// failed save), so that the next message reads the record again.
	version int64
	stale   bool
}

// view returns the policy's snapshot of the session.
func (s *session) view() SessionView {
	return SessionView{
		ID:         s.id,
		Mode:       s.propose.Mode,
		Item:       s.propose.Item,
		Category:   s.propose.Category,
		Quantity:   s.propose.Quantity,
		Currency:   s.propose.Currency,
		Terms:      maps.Clone(s.propose.Terms),
		Credential: s.credential,
		Turn:       s.turn,
		LastAsk:    cloneMoney(s.lastAsk),
		LastOffer:  cloneMoney(s.lastOffer),
		FinalGiven: s.finalGiven,
		State:      s.state,
	}
}

func cloneMoney(m *anp.Money) *anp.Money {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}
