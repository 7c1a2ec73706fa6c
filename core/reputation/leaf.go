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
// its DealSigned, a deal event its Fulfilled, Received, Breached,
// DisputeOpened or DisputeResolved, a key event and a lapse (a receipt
// window that passed in silence) none. The parties' signatures of a deal
// and the signature of an event's envelope are checked, so anybody who
// reads the log decodes the same facts from it. Each leaf is read on its
// own: whether an event is one its deal's lifecycle allows (its signer,
// its order, its deadline) is the Replayer's to check, which a reader who
// does not trust the registry uses.
func FactsFromLeaf(index uint64, data []byte) ([]Fact, error) {
	return factsFromLeaf(index, data, true)
}

// FactsFromOwnLeaf is FactsFromLeaf for the party that wrote the log: the
// registry checked every signature of a leaf before it appended it, so it
// reads its own leaves without checking them again (each party checks a
// signature once). Anybody else reads the log with FactsFromLeaf.
func FactsFromOwnLeaf(index uint64, data []byte) ([]Fact, error) {
	return factsFromLeaf(index, data, false)
}

// FactsFromArtifact returns the facts of leaf index when the leaf is
// a.LeafData() and the registry appended it: what FactsFromOwnLeaf reads
// from those bytes, without decoding them.
func FactsFromArtifact(index uint64, a *anp.Artifact) ([]Fact, error) {
	f, err := dealFact(index, a, false)
	if err != nil {
		return nil, fmt.Errorf("reputation: leaf %d: %w", index, err)
	}
	return []Fact{f}, nil
}

func factsFromLeaf(index uint64, data []byte, checkSigs bool) ([]Fact, error) {
	l, err := parseLeaf(index, data)
	if err != nil {
		return nil, err
	}
	return factsOf(index, &l, checkSigs)
}

func parseLeaf(index uint64, data []byte) (anp.LogLeaf, error) {
	l, err := anp.ParseLogLeaf(data)
	if err != nil {
		return anp.LogLeaf{}, fmt.Errorf("reputation: leaf %d: %w: %v", index, ErrLeafFormat, err)
	}
	return l, nil
}

// factsOf returns the facts of the parsed log leaf index.
func factsOf(index uint64, l *anp.LogLeaf, checkSigs bool) ([]Fact, error) {
	var f Fact
	var err error
	switch {
	case l.KeyEvent != nil:
		return nil, nil
	case l.DealEvent != nil:
		f, err = eventFact(index, l.DealEvent, checkSigs)
	default:
		f, err = dealFact(index, l.Artifact, checkSigs)
	}
	if err != nil {
		return nil, fmt.Errorf("reputation: leaf %d: %w", index, err)
	}
	if f == nil {
		return nil, nil
	}
	return []Fact{f}, nil
}

// eventFact reads the fact of a logged deal event (nil for a lapse).
func eventFact(index uint64, l *anp.DealEventLeaf, checkSigs bool) (Fact, error) {
	ev := &l.Event
	ref := Ref{Leaf: index, Session: ev.Session, At: l.Registry.NotarizedAt}
	switch ev.Kind {
	case anp.EventBreach:
		return Breached{ref, RoleSeller}, nil
	case anp.EventLapse:
		return nil, nil
	}
	if ev.Envelope == nil {
		return nil, fmt.Errorf("%w: %s event without its envelope", ErrLeafFormat, ev.Kind)
	}
	if checkSigs {
		if err := ev.Envelope.VerifySignature(); err != nil {
			return nil, fmt.Errorf("%w: %s envelope: %v", ErrLeafSignature, ev.Kind, err)
		}
	}
	switch ev.Kind {
	case anp.EventFulfill:
		return Fulfilled{ref}, nil
	case anp.EventReceipt:
		return Received{ref}, nil
	case anp.EventDispute:
		return DisputeOpened{ref, Role(ev.By)}, nil
	case anp.EventResolve:
		return resolveFact(ref, ev.Envelope)
	}
	return nil, fmt.Errorf("%w: deal event kind %q", ErrLeafFormat, ev.Kind)
}

// resolveFact reads the decision of a RESOLVE envelope.
func resolveFact(ref Ref, e *anp.Envelope) (Fact, error) {
	b, err := anp.DecodeEventBody(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLeafFormat, err)
	}
	r, ok := b.(*anp.ResolveBody)
	if !ok {
		return nil, fmt.Errorf("%w: a resolve event carries a %s envelope", ErrLeafFormat, e.Type)
	}
	winner, ok := map[string]Outcome{anp.OutcomeForBuyer: ForBuyer, anp.OutcomeForSeller: ForSeller, anp.OutcomeSplit: Split}[r.Outcome]
	if !ok {
		return nil, fmt.Errorf("%w: outcome %q", ErrLeafFormat, r.Outcome)
	}
	return DisputeResolved{ref, winner}, nil
}

// dealFact reads the DealSigned fact of a logged artifact.
func dealFact(index uint64, a *anp.Artifact, checkSigs bool) (DealSigned, error) {
	if a.Registry == nil {
		return DealSigned{}, fmt.Errorf("%w: no registry countersignature", ErrLeafSignature)
	}
	if checkSigs {
		if err := a.VerifyBuyer(); err != nil {
			return DealSigned{}, fmt.Errorf("%w: %v", ErrLeafSignature, err)
		}
		if err := a.VerifySeller(); err != nil {
			return DealSigned{}, fmt.Errorf("%w: %v", ErrLeafSignature, err)
		}
	}
	t := &a.Terms
	return DealSigned{
		Ref:      Ref{Leaf: index, Session: t.SessionID, At: a.Registry.NotarizedAt},
		Seller:   Party(t.SellerDomain),
		Buyer:    BuyerParty(a),
		Value:    t.Price,
		Deadline: t.Obligations().DeliverBy,
	}, nil
}

// BuyerParty names the buyer of a logged deal: "id:" and its identity key
// when the deal names it (buyer_identity), else "key:" and the session key
// that signed it.
func BuyerParty(a *anp.Artifact) Party {
	if a.Terms.BuyerIdentity != "" {
		return Party("id:" + a.Terms.BuyerIdentity)
	}
	return Party("key:" + a.Terms.BuyerKey)
}
