package anp

import (
	"fmt"
	"unicode/utf8"
)

// Limits on body fields.
const (
	MaxItemLen    = 200
	MaxMessageLen = 1000
	MaxTerms      = 16
	MaxTermLen    = 200
	MaxQuantity   = 1_000_000
)

// ProposeBody opens a session. It never carries the buyer's budget.
type ProposeBody struct {
	Mode     Mode              `json:"mode"`
	Item     string            `json:"item"`
	Category string            `json:"category,omitempty"`
	Quantity int               `json:"quantity"`
	Currency string            `json:"currency"`
	Terms    map[string]string `json:"terms,omitempty"`
	// Offer is an optional opening offer by the buyer.
	Offer *Money `json:"offer,omitempty"`
	// Credential is a blind per-domain credential sealed to the seller's
	// published encryption key (base64); only the seller can open it.
	Credential string `json:"credential,omitempty"`
	// BuyerIdentity is the buyer's permanent identity key (hex), presented
	// by a buyer who wants this deal to count toward its reputation and
	// the seller to see that reputation (docs/reputation.md). The registry
	// relays the PROPOSE only when it is the identity that authenticated.
	// Absent, the session stays unlinkable and the buyer is a newcomer.
	BuyerIdentity string `json:"buyer_identity,omitempty"`
}

// Validate checks the propose body.
func (b *ProposeBody) Validate() error {
	if !b.Mode.Valid() {
		return fmt.Errorf("mode %q is not ANP/A, ANP/B or ANP/C", b.Mode)
	}
	if err := checkText("item", b.Item, MaxItemLen, true); err != nil {
		return err
	}
	if err := checkText("category", b.Category, 64, false); err != nil {
		return err
	}
	if b.Quantity < 1 || b.Quantity > MaxQuantity {
		return fmt.Errorf("quantity %d must be between 1 and %d", b.Quantity, MaxQuantity)
	}
	if _, err := CurrencyScale(b.Currency); err != nil {
		return err
	}
	if err := checkTerms(b.Terms); err != nil {
		return err
	}
	if b.Offer != nil {
		if err := b.Offer.Positive(); err != nil {
			return fmt.Errorf("offer: %w", err)
		}
		if b.Offer.Currency != b.Currency {
			return fmt.Errorf("offer currency %s differs from session currency %s", b.Offer.Currency, b.Currency)
		}
	}
	if len(b.Credential) > MaxSealedCredentialLen {
		return fmt.Errorf("credential is %d bytes, at most %d allowed", len(b.Credential), MaxSealedCredentialLen)
	}
	if b.BuyerIdentity != "" {
		if err := checkPublicKey(b.BuyerIdentity); err != nil {
			return fmt.Errorf("buyer_identity: %w", err)
		}
	}
	return nil
}

// OfferBody carries a price: the body of COUNTER and ACCEPT.
// Turn is the buyer's turn number the offer belongs to (PROPOSE is turn 1).
type OfferBody struct {
	Price   Money  `json:"price"`
	Turn    int    `json:"turn"`
	Message string `json:"message,omitempty"`
	Final   bool   `json:"final,omitempty"`
}

// Validate checks the offer body.
func (b *OfferBody) Validate() error {
	if err := b.Price.Positive(); err != nil {
		return fmt.Errorf("price: %w", err)
	}
	if b.Turn < 1 || b.Turn > 1000 {
		return fmt.Errorf("turn %d out of range", b.Turn)
	}
	return checkText("message", b.Message, MaxMessageLen, false)
}

// NoteBody is the body of REJECT, CANCEL, INFORM, QUERY and ESCALATE.
type NoteBody struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Validate checks the note body.
func (b *NoteBody) Validate() error {
	if err := checkText("reason", b.Reason, 64, false); err != nil {
		return err
	}
	return checkText("message", b.Message, MaxMessageLen, false)
}

// CommitBody carries the buyer-signed artifact to the seller.
type CommitBody struct {
	Artifact *Artifact `json:"artifact"`
}

// Validate checks the commit body.
func (b *CommitBody) Validate() error {
	if b.Artifact == nil {
		return fmt.Errorf("artifact is missing")
	}
	return b.Artifact.Terms.validate()
}

// ConfirmBody carries the seller's signature over the buyer-signed artifact.
type ConfirmBody struct {
	SellerSig string `json:"seller_sig"`
}

// Validate checks the confirm body.
func (b *ConfirmBody) Validate() error {
	if err := checkHexLen(b.SellerSig, 64, "seller_sig"); err != nil {
		return err
	}
	return nil
}

func checkText(field, s string, max int, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes, at most %d allowed", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if isTextControl(r) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

func checkTerms(t map[string]string) error {
	if len(t) > MaxTerms {
		return fmt.Errorf("terms has %d entries, at most %d allowed", len(t), MaxTerms)
	}
	for k, v := range t {
		if err := checkText("terms key", k, 64, true); err != nil {
			return err
		}
		if err := checkText("terms["+k+"]", v, MaxTermLen, false); err != nil {
			return err
		}
	}
	return nil
}
