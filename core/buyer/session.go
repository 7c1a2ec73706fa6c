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
	Reason          string            `json:"reason,omitempty"`     // why the session ended
	KeyNotice       string            `json:"key_notice,omitempty"` // the seller's key changed, as the registry's log proves
	Deadline        time.Time         `json:"deadline"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	TranscriptLen   int               `json:"transcript_len"`
	Artifact        *anp.Artifact     `json:"artifact,omitempty"`
	Deal            *DealInfo         `json:"deal,omitempty"`    // a signed deal's commitment and state, as last read from the log
	Decider         string            `json:"decider,omitempty"` // autonomous decider that drove the session
	Rounds          []Round           `json:"rounds,omitempty"`  // every seller price, in turn order
	Version         int64             `json:"version"`
}

// Round is one seller counter as the buyer saw it: the turn, the seller's
// price, whether the seller called it final, and the buyer's own offer
// standing at that moment. Deciders read the history from here, so they keep
// no state of their own between pods.
type Round struct {
	Turn        int        `json:"turn"`
	SellerPrice anp.Money  `json:"seller_price"`
	Final       bool       `json:"final,omitempty"`
	OwnOffer    *anp.Money `json:"own_offer,omitempty"`
}
