package seller

import (
	"context"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// DealEvents is what a node needs from the registry to fulfil a signed
// deal; core/registry.Client implements it.
type DealEvents interface {
	DealStatus(ctx context.Context, session string) (*anp.DealStatus, error)
	SubmitDealEvent(ctx context.Context, env *anp.Envelope) (*anp.DealEventEntry, error)
}

// MaxEvidenceText bounds the evidence text a seller hashes for a FULFILL.
const MaxEvidenceText = 4096

// Fulfil records that this seller delivered the deal of session: it hashes
// the evidence text (a tracking reference, a delivery note) — only the hash
// leaves the node — signs a FULFILL as the next envelope of the session's
// chain, checks it with the deal's lifecycle rules and has the registry log
// it. It works from the registry's record of the deal, so it does not need
// the negotiation to still be in memory.
func (n *Node) Fulfil(ctx context.Context, session, evidence string) (*anp.DealEventEntry, error) {
	if evidence == "" || len(evidence) > MaxEvidenceText {
		return nil, anp.Errorf(anp.CodeBadRequest, "evidence must be 1 to %d bytes of text", MaxEvidenceText)
	}
	de, ok := n.cfg.Registry.(DealEvents)
	if !ok {
		return nil, anp.Errorf(anp.CodeUnavailable, "the node's registry client has no deal lifecycle")
	}
	st, err := de.DealStatus(ctx, session)
	if err != nil {
		return nil, fmt.Errorf("read the deal of session %s: %w", session, err)
	}
	l := &st.Lifecycle
	if l.SellerKey != n.keyHex || l.SellerDomain != n.domain {
		return nil, anp.Errorf(anp.CodeForbidden, "session %s is not a deal of %s with this node's key", session, n.domain)
	}
	env, err := anp.Seal(n.key, anp.EnvelopeSpec{
		Type: anp.TypeFulfill, Session: session, Seq: l.Seq + 1, Prev: l.Head, To: l.BuyerKey, Now: n.now(),
		Body: &anp.FulfilBody{Deal: l.Deal, Evidence: anp.HashBytes([]byte(evidence))},
	})
	if err != nil {
		return nil, err
	}
	if _, err := l.Check(env, nil, n.now().UnixMilli()); err != nil {
		return nil, err
	}
	entry, err := de.SubmitDealEvent(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("log the FULFILL of session %s: %w", session, err)
	}
	n.log.Info().Str("session", session).Uint64("leaf", entry.LeafIndex).Msg("deal fulfilled")
	return entry, nil
}
