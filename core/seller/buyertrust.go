package seller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// ErrBuyerTrust: the buyer's reputation is below the seller's minimum
// (Config.MinBuyerTrust). The PROPOSE is refused with code refused; no
// session is opened.
var ErrBuyerTrust = errors.New("buyer reputation is below the seller's minimum")

// Reputations is implemented by a Registry that serves reputation
// (*registry.Client): a node with a buyer minimum reads the buyer's there.
type Reputations interface {
	PartyReputation(ctx context.Context, party string, at time.Time) (*reputation.PartyReport, error)
}

// buyerScore is the reputation of the buyer of a PROPOSE: its identity's,
// when it presents one, else a newcomer's (the session is unlinkable).
func (n *Node) buyerScore(ctx context.Context, p anp.ProposeBody) (float64, error) {
	if p.BuyerIdentity == "" {
		return 100 * reputation.Prior, nil
	}
	src, ok := n.cfg.Registry.(Reputations)
	if !ok {
		return 0, anp.Errorf(anp.CodeUnavailable, "the node's registry client serves no reputation")
	}
	r, err := src.PartyReputation(ctx, "id:"+p.BuyerIdentity, time.Time{})
	if err != nil {
		return 0, anp.Errorf(anp.CodeUnavailable, "read the buyer's reputation: %v", err)
	}
	return r.Score.Score, nil
}

// buyerTrustRefusal is the REJECT decision for a PROPOSE whose buyer's
// reputation is below Config.MinBuyerTrust, or whose reputation cannot be
// read; ok is false when the buyer may negotiate (or there is no minimum).
// The message starts with ErrBuyerTrust's text, so the buyer sees why.
func (n *Node) buyerTrustRefusal(ctx context.Context, p anp.ProposeBody) (Decision, bool) {
	if n.cfg.MinBuyerTrust <= 0 {
		return Decision{}, false
	}
	score, err := n.buyerScore(ctx, p)
	if err != nil {
		n.log.Warn().Err(err).Msg("buyer minimum: the buyer's reputation cannot be read; refusing")
		return Decision{Action: ActionReject, Message: fmt.Sprintf("%v: this seller requires %.2f and could not read the buyer's reputation", ErrBuyerTrust, n.cfg.MinBuyerTrust)}, true
	}
	if score >= n.cfg.MinBuyerTrust {
		return Decision{}, false
	}
	who := "a buyer who presents no identity (a newcomer)"
	if p.BuyerIdentity != "" {
		who = "the buyer"
	}
	n.log.Info().Float64("score", score).Float64("minimum", n.cfg.MinBuyerTrust).Msg("buyer minimum: PROPOSE refused")
	return Decision{Action: ActionReject, Message: fmt.Sprintf("%v: %s has reputation %.2f, %s requires %.2f", ErrBuyerTrust, who, score, n.domain, n.cfg.MinBuyerTrust)}, true
}
