package anp

import (
	"fmt"
	"strconv"
	"time"
)

// FulfilWithEvidence is what counts as fulfilment of a commitment: the
// seller's FULFILL event, carrying the hash of its delivery evidence (a
// tracking reference, a delivery note), logged by the registry no later
// than deliver_by. A FULFILL logged after deliver_by is a late delivery.
const FulfilWithEvidence = "fulfil_with_evidence"

// Defaults of a commitment, and the terms that set them.
const (
	// DefaultDeliveryWindow is the seller's delivery window after agreed_at
	// when the agreed terms name none.
	DefaultDeliveryWindow = 7 * 24 * time.Hour
	// DefaultReceiptWindow is how long after the FULFILL the buyer has to
	// confirm receipt or dispute when the agreed terms name none; silence
	// past it counts as received.
	DefaultReceiptWindow = 7 * 24 * time.Hour
	// TermDeliveryDays is the term key that sets the delivery window in
	// whole days (1–365).
	TermDeliveryDays = "delivery_days"
	// TermReceiptDays is the term key that sets the receipt window in whole
	// days (1–90).
	TermReceiptDays = "receipt_days"
)

const day = 24 * time.Hour

// Commitment is the obligation a signed deal creates: the seller delivers
// by DeliverBy (unix ms) in the way Fulfilment names, and the buyer confirms
// receipt or disputes within ReceiptWindow (ms) of the seller's FULFILL.
type Commitment struct {
	DeliverBy     int64  `json:"deliver_by"`
	Fulfilment    string `json:"fulfilment"`
	ReceiptWindow int64  `json:"receipt_window"`
}

// CommitmentFor is the one derivation of a deal's commitment from its
// agreed terms and agreed_at: the delivery window of the term delivery_days
// or DefaultDeliveryWindow, the receipt window of the term receipt_days or
// DefaultReceiptWindow. A term that is present but not a whole number of
// days in range is an error.
func CommitmentFor(terms map[string]string, agreedAt int64) (Commitment, error) {
	deliver, err := termDays(terms, TermDeliveryDays, 365, DefaultDeliveryWindow)
	if err != nil {
		return Commitment{}, err
	}
	receipt, err := termDays(terms, TermReceiptDays, 90, DefaultReceiptWindow)
	if err != nil {
		return Commitment{}, err
	}
	return Commitment{DeliverBy: agreedAt + deliver.Milliseconds(), Fulfilment: FulfilWithEvidence, ReceiptWindow: receipt.Milliseconds()}, nil
}

// termDays reads a term of whole days in 1…max, or def when absent.
func termDays(terms map[string]string, key string, max int, def time.Duration) (time.Duration, error) {
	v, ok := terms[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max || strconv.Itoa(n) != v {
		return 0, fmt.Errorf("term %s %q is not a whole number of days from 1 to %d", key, v, max)
	}
	return time.Duration(n) * day, nil
}

// Obligations returns the deal's commitment: the one it carries, or for a
// deal signed before commitments were carried (no commitment member), the
// one CommitmentFor derives from its terms and agreed_at, or the defaults
// when such an old deal's terms set a window out of range.
func (d *DealTerms) Obligations() Commitment {
	if d.Commitment != nil {
		return *d.Commitment
	}
	if c, err := CommitmentFor(d.Terms, d.AgreedAt); err == nil {
		return c
	}
	c, _ := CommitmentFor(nil, d.AgreedAt)
	return c
}

// checkCommitment checks a carried commitment: it must be exactly the one
// CommitmentFor derives, so that buyer, seller and registry agree on it
// without another round.
func (d *DealTerms) checkCommitment() error {
	if d.Commitment == nil {
		return nil
	}
	want, err := CommitmentFor(d.Terms, d.AgreedAt)
	if err != nil {
		return err
	}
	if *d.Commitment != want {
		return fmt.Errorf("commitment is not the one the terms and agreed_at give (deliver_by %d, fulfilment %s, receipt_window %d)",
			want.DeliverBy, want.Fulfilment, want.ReceiptWindow)
	}
	return nil
}
