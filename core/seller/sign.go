package seller

import (
	"context"
	"maps"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// SignAsSeller returns the node's signature over a buyer-signed artifact.
// It refuses unless the session is ACCEPTED (or already SIGNED) and the
// artifact matches exactly what this node accepted: session, seller domain
// and key, buyer session key, mode, item, quantity, terms, currency, price,
// the hash, seq and time of the node's ACCEPT envelope, and a valid buyer
// signature. Each mismatch is an *anp.Error (refused) naming the field.
// SignAsSeller does not change the session; the COMMIT route uses the same
// checks and then moves the session to SIGNED.
func (n *Node) SignAsSeller(a *anp.Artifact) (string, error) {
	if a == nil {
		return "", anp.Errorf(anp.CodeBadRequest, "artifact is missing")
	}
	s, err := n.lockFor(context.Background(), a.Terms.SessionID)
	if err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	if s.state != StateAccepted && s.state != StateSigned {
		return "", anp.Errorf(anp.CodeBadState, "the seller signs only accepted deals; the session is %s", s.state)
	}
	return n.signChecked(s, a, n.now())
}

// signChecked checks a against the locked session's accepted deal and
// returns the seller signature.
func (n *Node) signChecked(s *session, a *anp.Artifact, now time.Time) (string, error) {
	if a == nil {
		return "", anp.Errorf(anp.CodeBadRequest, "artifact is missing")
	}
	if err := n.matchDeal(s, &a.Terms, now); err != nil {
		return "", err
	}
	if err := a.VerifyBuyer(); err != nil {
		return "", err
	}
	sig, err := a.SellerSignature(n.key)
	if err != nil {
		return "", err
	}
	return sig, nil
}

// matchDeal compares deal terms field by field with the accepted deal:
// the parties, then the goods and price, then the ACCEPT they rest on.
func (n *Node) matchDeal(s *session, t *anp.DealTerms, now time.Time) error {
	if s.accepted == nil || s.acceptEnv == nil {
		return anp.Errorf(anp.CodeBadState, "session %s has no accepted price", s.id)
	}
	if err := n.matchParties(s, t); err != nil {
		return err
	}
	if err := matchGoods(s, t); err != nil {
		return err
	}
	return matchAccept(s, t, now)
}

// matchParties compares the version, session and parties of t with this
// node and the session.
func (n *Node) matchParties(s *session, t *anp.DealTerms) error {
	switch {
	case t.V != anp.Version:
		return refuse("artifact version %d is not %d", t.V, anp.Version)
	case t.SessionID != s.id:
		return refuse("artifact session_id %s differs from the session %s", anp.Truncate(t.SessionID, 64), s.id)
	case t.SellerDomain != n.domain:
		return refuse("artifact seller_domain %q differs from this seller's domain %q", anp.Truncate(t.SellerDomain, anp.MaxDomainLen), n.domain)
	case t.SellerKey != n.keyHex:
		return refuse("artifact seller_key %s differs from this seller's key %s", anp.Truncate(t.SellerKey, 12), n.keyHex[:12])
	case t.BuyerKey != s.buyerKey:
		return refuse("artifact buyer_key %s differs from the session's buyer key %s", anp.Truncate(t.BuyerKey, 12), s.buyerKey[:12])
	}
	return nil
}

// matchGoods compares what t is for (mode, item, quantity, terms, currency
// and price) with the session's PROPOSE and accepted price.
func matchGoods(s *session, t *anp.DealTerms) error {
	p := &s.propose
	switch {
	case t.Mode != p.Mode:
		return refuse("artifact mode %q differs from the proposed mode %s", anp.Truncate(string(t.Mode), 16), p.Mode)
	case t.Item != p.Item:
		return refuse("artifact item %q differs from the proposed item %q", anp.Truncate(t.Item, anp.MaxItemLen), p.Item)
	case t.Quantity != p.Quantity:
		return refuse("artifact quantity %d differs from the proposed quantity %d", t.Quantity, p.Quantity)
	case !termsEqual(t.Terms, p.Terms):
		return refuse("artifact terms differ from the proposed terms")
	case t.Price.Currency != p.Currency:
		return refuse("artifact currency %q differs from the session currency %s", anp.Truncate(t.Price.Currency, 8), p.Currency)
	case t.Price != *s.accepted:
		return refuse("artifact price %s differs from the accepted %s", t.Price, s.accepted)
	case t.BuyerIdentity != p.BuyerIdentity:
		return refuse("artifact buyer_identity differs from the identity the PROPOSE presented")
	}
	return nil
}

// matchAccept compares the transcript fields of t with this node's ACCEPT
// envelope and refuses a created_at beyond the clock skew allowance at now.
func matchAccept(s *session, t *anp.DealTerms, now time.Time) error {
	switch {
	case t.TranscriptHead != s.acceptHash:
		return refuse("artifact transcript_head %s is not the hash of this seller's ACCEPT %s", anp.Truncate(t.TranscriptHead, 16), s.acceptHash[:16])
	case t.TranscriptLen != s.acceptEnv.Seq:
		return refuse("artifact transcript_len %d differs from the seq %d of this seller's ACCEPT", t.TranscriptLen, s.acceptEnv.Seq)
	case t.AgreedAt != s.acceptEnv.TS:
		return refuse("artifact agreed_at %d differs from the time %d of this seller's ACCEPT", t.AgreedAt, s.acceptEnv.TS)
	case t.CreatedAt > now.Add(anp.MaxClockSkew).UnixMilli():
		return refuse("artifact created_at %d is in the future", t.CreatedAt)
	}
	return nil
}

// refuse is the error of an artifact that differs from the accepted deal.
func refuse(format string, args ...any) error {
	return anp.Errorf(anp.CodeRefused, format, args...)
}

// termsEqual compares terms, treating nil and empty as equal.
func termsEqual(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return maps.Equal(a, b)
}
