package anp

import "bytes"

// SameDeal reports whether a and b carry the same signed deal: the same
// terms with the same buyer and seller signatures, compared in canonical
// form. The registry's countersignature and receipt are not part of the
// deal, so an artifact and its notarised copy are the same deal. A nil
// artifact is the same deal as nothing.
func SameDeal(a, b *Artifact) (bool, error) {
	if a == nil || b == nil {
		return false, nil
	}
	ca, err := a.dealData()
	if err != nil {
		return false, err
	}
	cb, err := b.dealData()
	if err != nil {
		return false, err
	}
	return bytes.Equal(ca, cb), nil
}

// dealData is the canonical form of what buyer and seller signed.
func (a *Artifact) dealData() ([]byte, error) {
	return Canonical(struct {
		Terms     DealTerms `json:"deal"`
		BuyerSig  string    `json:"buyer_sig"`
		SellerSig string    `json:"seller_sig"`
	}{a.Terms, a.BuyerSig, a.SellerSig})
}
