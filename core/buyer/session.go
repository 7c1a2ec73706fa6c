package buyer

import (
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Constraints describe what the buyer wants. MaxBudget never leaves the buyer:
// it is not part of any message, log line or export in the clear.
type Constraints struct {
	Item      string            `json:"item"`
	Category  string            `json:"category,omitempty"`
	Quantity  int               `json:"quantity"`
	Terms     map[string]string `json:"terms,omitempty"`
	MaxBudget anp.Money         `json:"max_budget"`
	MaxTurns  int               `json:"max_turns,omitempty"` // 0 => engine default
}

// Session is a snapshot of one negotiation, safe to show to a model or a
// person: it holds no key material.
type Session struct {
	ID              string            `json:"id"`
	Seller          string            `json:"seller"`  // domain
	Address         string            `json:"address"` // ANP/x.domain
	Mode            anp.Mode          `json:"mode"`
	State           State             `json:"state"`
	Turn            int               `json:"turn"`
	MaxTurns        int               `json:"max_turns"`
	Item            string            `json:"item"`
	Category        string            `json:"category,omitempty"`
	Quantity        int               `json:"quantity"`
	Terms           map[string]string `json:"terms,omitempty"`
	MaxBudget       anp.Money         `json:"max_budget"`
	LastSellerPrice *anp.Money        `json:"last_seller_price,omitempty"`
	LastOwnOffer    *anp.Money        `json:"last_own_offer,omitempty"`
	AgreedPrice     *anp.Money        `json:"agreed_price,omitempty"`
	SellerMessage   string            `json:"seller_message,omitempty"` // untrusted text from the seller
	SellerFinal     bool              `json:"seller_final,omitempty"`
	AwaitingSeller  bool              `json:"awaiting_seller"`
	Escalated       bool              `json:"escalated,omitempty"`
	Reason          string            `json:"reason,omitempty"` // why the session ended
	Deadline        time.Time         `json:"deadline"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	TranscriptLen   int               `json:"transcript_len"`
	Artifact        *anp.Artifact     `json:"artifact,omitempty"`
	Decider         string            `json:"decider,omitempty"` // autonomous decider that drove the session
	Rounds          []Round           `json:"rounds,omitempty"`  // every seller price, in turn order
	Version         int64             `json:"version"`
}

// Round is one seller counter as the buyer saw it: the turn, the seller's
// price, and the buyer's own offer standing at that moment. Deciders read the
// history from here, so they keep no state of their own between pods.
type Round struct {
	Turn        int        `json:"turn"`
	SellerPrice anp.Money  `json:"seller_price"`
	OwnOffer    *anp.Money `json:"own_offer,omitempty"`
}

// Headroom is MaxBudget minus the last seller price (negative: over budget),
// or nil when the seller has not quoted yet.
func (s *Session) Headroom() *anp.Money {
	if s.LastSellerPrice == nil {
		return nil
	}
	return &anp.Money{Amount: s.MaxBudget.Amount - s.LastSellerPrice.Amount, Currency: s.MaxBudget.Currency}
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
		if s.MaxTurns == 0 || s.Turn < s.MaxTurns {
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

// record is what the engine persists per session. The ephemeral session key
// is sealed under the identity key before it reaches any store.
type record struct {
	Session    Session         `json:"session"`
	SealedKey  []byte          `json:"sealed_key"`
	SellerKey  string          `json:"seller_key"`
	Propose    anp.ProposeBody `json:"propose"`
	Transcript anp.Transcript  `json:"transcript"`
	AcceptSeq  uint64          `json:"accept_seq,omitempty"` // seq of the seller's ACCEPT envelope
	Pending    *anp.Artifact   `json:"pending,omitempty"`    // buyer-signed artifact while approval is in flight
	// Outbox is a sealed buyer move whose delivery is not confirmed (the relay
	// failed without a clear answer). It is re-sent byte for byte before any
	// other move, so the transcript can never fork on a lost answer.
	Outbox *anp.Envelope `json:"outbox,omitempty"`
	// OutboxFailed says the relay call for Outbox returned an error; until
	// then the move may still be in flight on another engine sharing the store.
	OutboxFailed bool `json:"outbox_failed,omitempty"`
	CascadeHold  bool `json:"cascade_hold,omitempty"`
}

// exportedSession is one session inside a sealed export: the record plus the
// session key seed in the clear (the whole export is sealed).
type exportedSession struct {
	Record  record `json:"record"`
	KeySeed []byte `json:"key_seed"`
}
