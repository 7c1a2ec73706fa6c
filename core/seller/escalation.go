package seller

import (
	"context"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ResolveEscalation answers a session this node escalated (its policy
// returned ActionEscalate): d is the decision a person made — counter,
// accept or reject — and it reaches the buyer as a signed callback through
// the registry. The same checks as any policy answer apply: an ask never
// rises, and an accept is at most the buyer's standing offer.
func (n *Node) ResolveEscalation(ctx context.Context, id string, d Decision) error {
	if d.Action == ActionEscalate {
		return anp.Errorf(anp.CodeBadRequest, "a resolution must counter, accept or reject, not escalate again")
	}
	if n.cfg.Registry == nil {
		return anp.Errorf(anp.CodeUnavailable, "the node has no registry to deliver the answer through")
	}
	s, err := n.lockFor(ctx, id)
	if err != nil {
		return err
	}
	last := s.transcript.Last()
	if last == nil || last.Type != anp.TypeEscalate || last.From != n.keyHex || s.state != StateOpen {
		s.mu.Unlock()
		return anp.Errorf(anp.CodeBadState, "session %s is not waiting for a person's decision", id)
	}
	ans, err := n.decisionAnswer(s, d, s.turn, s.lastOffer)
	if err != nil {
		s.mu.Unlock()
		return anp.Errorf(anp.CodeBadRequest, "%v", err)
	}
	if !n.beginWork() {
		s.mu.Unlock()
		return anp.Errorf(anp.CodeUnavailable, "the seller is shutting down")
	}
	reply, err := n.reply(s, ans, s.turn, s.lastOffer, n.now())
	if err == nil {
		s.lastReply = reply
		if n.cfg.Store != nil {
			err = n.save(ctx, s)
		}
	}
	s.mu.Unlock()
	if err != nil {
		n.wg.Done()
		return err
	}
	n.log.Info().Str("session", id).Str("answer", string(reply.Type)).Msg("escalation resolved")
	go func() {
		defer n.wg.Done()
		n.deliver(reply)
	}()
	return nil
}
