package reputation

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Party names a party of the log. A seller is its domain
// ("kitchen-outlet.example"); a buyer is "id:" and its identity key (hex)
// when the registry named it in the deal, else "key:" and the session key
// that signed the deal (a buyer who keeps its sessions unlinkable is a
// newcomer in every deal). A domain never contains ':', so the two kinds
// cannot collide.
type Party string

// ErrPartyName: a party name that is neither a domain nor id:KEY / key:KEY.
var ErrPartyName = errors.New("not a party name")

// ParseParty checks a party name: a seller domain (normalised), or "id:"
// or "key:" and a hex public key.
func ParseParty(v string) (Party, error) {
	if kind, key, ok := strings.Cut(v, ":"); ok {
		if kind != "id" && kind != "key" {
			return "", fmt.Errorf("%w: %q: a buyer is id:KEY or key:KEY", ErrPartyName, v)
		}
		if _, err := anp.ParsePublicKey(key); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrPartyName, v, err)
		}
		return Party(v), nil
	}
	d, err := anp.NormalizeDomain(v)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrPartyName, v, err)
	}
	return Party(d), nil
}

// Role is the side of a party in a deal.
type Role string

// The roles of a deal.
const (
	RoleSeller Role = "seller"
	RoleBuyer  Role = "buyer"
)

// Outcome is the decision of a dispute.
type Outcome string

// The outcomes of a dispute.
const (
	ForBuyer  Outcome = "buyer"
	ForSeller Outcome = "seller"
	Split     Outcome = "split"
)

// Fact is one typed fact read from the log. Every fact names the log leaf
// it was read from and the deal (session) it is about; its time is the
// registry's clock when it logged the entry (unix ms).
type Fact interface {
	// Where returns the leaf index, the session id and the time of the fact.
	Where() Ref
}

// Ref locates a fact: its log leaf, its deal's session and its time.
type Ref struct {
	Leaf    uint64 `json:"leaf"`
	Session string `json:"session"`
	At      int64  `json:"at"` // unix ms, registry clock
}

// Where returns r itself; the fact types embed it.
func (r Ref) Where() Ref { return r }

// DealSigned is a notarised deal: seller, buyer, value and, when the deal
// carries a commitment, the seller's delivery deadline. A deal without a
// deadline has no obligation after its signature and is complete when it
// is signed.
type DealSigned struct {
	Ref
	Seller   Party     `json:"seller"`
	Buyer    Party     `json:"buyer"`
	Value    anp.Money `json:"value"`
	Deadline int64     `json:"deadline,omitempty"` // unix ms; 0: no commitment
}

// Fulfilled is the seller's delivery (FULFILL); on time when At is not
// after the deal's deadline.
type Fulfilled struct{ Ref }

// Received is the buyer's receipt (RECEIPT): received as agreed.
type Received struct{ Ref }

// Breached is a missed obligation the registry recorded: by the seller, a
// delivery deadline passed without FULFILL.
type Breached struct {
	Ref
	By Role `json:"by"`
}

// DisputeOpened is a dispute filed by one side of the deal.
type DisputeOpened struct {
	Ref
	By Role `json:"by"`
}

// DisputeResolved is the arbiter's decision of the deal's dispute.
type DisputeResolved struct {
	Ref
	Winner Outcome `json:"winner"`
}
