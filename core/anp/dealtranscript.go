package anp

import "maps"

// VerifyDealTranscript checks that envs is the transcript that deal terms d
// bind. transcript_len binds the first TranscriptLen envelopes of the
// session (later ones, COMMIT and CONFIRM, are not bound); envs may be
// longer. The bound envelopes must form a chain (VerifyChain: seq, prev and
// signatures) whose head is d.TranscriptHead; every one must be of session
// d.SessionID and sent either by the buyer (from buyer_key, to
// seller_domain, a type BuyerMayAsk) or by the seller (from seller_key, to
// buyer_key, a type SellerMayAnswer); the first must be the PROPOSE whose
// mode, item, quantity and terms are the deal's and whose currency is the
// price's; the last must be the seller's ACCEPT whose price is d.Price and
// whose ts is d.AgreedAt. Times are not checked against a clock.
func VerifyDealTranscript(d *DealTerms, envs []*Envelope) error {
	n := d.TranscriptLen
	if n < 2 || uint64(len(envs)) < n {
		return Errorf(CodeBadRequest, "transcript has %d envelopes, the deal binds %d", len(envs), n)
	}
	bound := envs[:n]
	head, err := VerifyChain(bound)
	if err != nil {
		return err
	}
	if head != d.TranscriptHead {
		return Errorf(CodeBadSignature, "hash of envelope %d is not the deal's transcript_head", n)
	}
	for _, e := range bound {
		if err := d.checkSender(e); err != nil {
			return err
		}
	}
	if err := d.checkPropose(bound[0]); err != nil {
		return err
	}
	return d.checkAccept(bound[n-1])
}

// checkSender checks e's session and that it goes from one party of the
// deal to the other with a type that party may send.
func (d *DealTerms) checkSender(e *Envelope) error {
	if e.Session != d.SessionID {
		return Errorf(CodeBadRequest, "envelope seq %d is for session %s, the deal's is %s", e.Seq, e.Session, d.SessionID)
	}
	switch e.From {
	case d.BuyerKey:
		if e.To != d.SellerDomain {
			return Errorf(CodeBadRequest, "buyer envelope seq %d is addressed to %q, not the seller domain", e.Seq, e.To)
		}
		if !BuyerMayAsk(e.Type) {
			return Errorf(CodeBadRequest, "envelope seq %d: a buyer does not send %s", e.Seq, e.Type)
		}
	case d.SellerKey:
		if e.To != d.BuyerKey {
			return Errorf(CodeBadRequest, "seller envelope seq %d is addressed to %q, not the buyer key", e.Seq, short(e.To))
		}
		if !SellerMayAnswer(e.Type) {
			return Errorf(CodeBadRequest, "envelope seq %d: a seller does not send %s", e.Seq, e.Type)
		}
	default:
		return Errorf(CodeBadSignature, "envelope seq %d is signed by %s, neither party of the deal", e.Seq, short(e.From))
	}
	return nil
}

// checkPropose checks that e is the PROPOSE of the deal's goods.
func (d *DealTerms) checkPropose(e *Envelope) error {
	if e.Type != TypePropose {
		return Errorf(CodeBadRequest, "envelope 1 is a %s, not a PROPOSE", e.Type)
	}
	var b ProposeBody
	if err := e.DecodeBody(&b); err != nil {
		return err
	}
	switch {
	case b.Mode != d.Mode:
		return Errorf(CodeBadRequest, "deal mode %s differs from the PROPOSE's %s", d.Mode, b.Mode)
	case b.Item != d.Item:
		return Errorf(CodeBadRequest, "deal item differs from the PROPOSE's")
	case b.Quantity != d.Quantity:
		return Errorf(CodeBadRequest, "deal quantity %d differs from the PROPOSE's %d", d.Quantity, b.Quantity)
	case !maps.Equal(b.Terms, d.Terms):
		return Errorf(CodeBadRequest, "deal terms differ from the PROPOSE's")
	case b.Currency != d.Price.Currency:
		return Errorf(CodeBadRequest, "deal currency %s differs from the PROPOSE's %s", d.Price.Currency, b.Currency)
	case b.BuyerIdentity != d.BuyerIdentity:
		return Errorf(CodeBadRequest, "deal buyer_identity differs from the PROPOSE's")
	}
	return nil
}

// checkAccept checks that e is the seller's ACCEPT of the deal's price at
// agreed_at.
func (d *DealTerms) checkAccept(e *Envelope) error {
	if e.Type != TypeAccept || e.From != d.SellerKey {
		return Errorf(CodeBadRequest, "envelope %d is a %s, not the seller's ACCEPT", e.Seq, e.Type)
	}
	var b OfferBody
	if err := e.DecodeBody(&b); err != nil {
		return err
	}
	if b.Price != d.Price {
		return Errorf(CodeBadRequest, "deal price %s differs from the ACCEPT's %s", d.Price, b.Price)
	}
	if e.TS != d.AgreedAt {
		return Errorf(CodeBadRequest, "deal agreed_at %d is not the ACCEPT's ts %d", d.AgreedAt, e.TS)
	}
	return nil
}
