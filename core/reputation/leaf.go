package reputation

import (
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The named failures of leaf decoding.
var (
	// ErrLeafFormat: the leaf is not one of the log's entry kinds.
	ErrLeafFormat = errors.New("log leaf is not a known entry")
	// ErrLeafSignature: a deal whose buyer or seller signature does not
	// verify, or that lacks the registry countersignature.
	ErrLeafSignature = errors.New("log leaf does not carry valid signatures")
)

// FactsFromLeaf decodes log leaf index into facts: a deal artifact gives
// its DealSigned, a key event gives none. The parties' signatures of a
// deal are checked (the registry's, with its key chain, is the log
// monitor's to check), so anybody who reads the log decodes the same
// facts from it.
func FactsFromLeaf(index uint64, data []byte) ([]Fact, error) {
	a, k, err := anp.ParseLeaf(data)
	if err != nil {
		return nil, fmt.Errorf("reputation: leaf %d: %w: %v", index, ErrLeafFormat, err)
	}
	if k != nil {
		return nil, nil
	}
	f, err := dealFact(index, a)
	if err != nil {
		return nil, fmt.Errorf("reputation: leaf %d: %w", index, err)
	}
	return []Fact{f}, nil
}

// dealFact reads the DealSigned fact of a logged artifact.
func dealFact(index uint64, a *anp.Artifact) (DealSigned, error) {
	if a.Registry == nil {
		return DealSigned{}, fmt.Errorf("%w: no registry countersignature", ErrLeafSignature)
	}
	if err := a.VerifyBuyer(); err != nil {
		return DealSigned{}, fmt.Errorf("%w: %v", ErrLeafSignature, err)
	}
	if err := a.VerifySeller(); err != nil {
		return DealSigned{}, fmt.Errorf("%w: %v", ErrLeafSignature, err)
	}
	t := &a.Terms
	return DealSigned{
		Ref:    Ref{Leaf: index, Session: t.SessionID, At: a.Registry.NotarizedAt},
		Seller: Party(t.SellerDomain),
		Buyer:  BuyerParty(a),
		Value:  t.Price,
	}, nil
}

// BuyerParty names the buyer of a logged deal: "key:" and the session key
// that signed it.
func BuyerParty(a *anp.Artifact) Party {
	return Party("key:" + a.Terms.BuyerKey)
}
