package seller

import (
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// answer is a reply the node has decided on, with its effect on the session.
type answer struct {
	typ      anp.MsgType
	body     any
	state    State      // the session state after the reply
	ask      *anp.Money // a new ask (COUNTER)
	accepted *anp.Money // an accepted price (ACCEPT)
	sig      string     // the seller's artifact signature (CONFIRM)
}

// answerNow turns a policy decision into a reply to the buyer envelope in,
// which passed admission with hash inHash, and commits both.
func (n *Node) answerNow(s *session, in *anp.Envelope, inHash string, d Decision, turn int, offer *anp.Money, now time.Time) (outcome, error) {
	ans, err := n.decisionAnswer(s, d, turn, offer)
	if err != nil {
		return outcome{}, err
	}
	return n.commit(s, in, inHash, ans, turn, offer, now)
}

// commit appends the buyer envelope and the sealed reply to the transcript
// and applies the reply's effects; on failure the session is unchanged.
func (n *Node) commit(s *session, in *anp.Envelope, inHash string, ans answer, turn int, offer *anp.Money, now time.Time) (outcome, error) {
	envs, head := len(s.transcript.Envelopes), s.transcript.Head
	n.appendEnvelope(s, in, inHash)
	reply, err := n.reply(s, ans, turn, offer, now)
	if err != nil {
		n.truncate(s, envs, head)
		return outcome{}, err
	}
	s.lastBuyer, s.lastReply = inHash, reply
	if in.Seq > 1 {
		n.progressed(s)
	}
	return outcome{reply: reply}, nil
}

// reply seals ans as the next envelope of the session (after the buyer
// envelope it answers, already appended), appends it and applies its effects.
func (n *Node) reply(s *session, ans answer, turn int, offer *anp.Money, now time.Time) (*anp.Envelope, error) {
	env, err := anp.Seal(n.key, anp.EnvelopeSpec{
		Type:    ans.typ,
		Session: s.id,
		Seq:     s.transcript.NextSeq(),
		Prev:    s.transcript.Head,
		To:      s.buyerKey,
		Body:    ans.body,
		Now:     now,
	})
	if err != nil {
		return nil, fmt.Errorf("seller: seal %s for session %s: %w", ans.typ, s.id, err)
	}
	h, err := env.Hash()
	if err != nil {
		return nil, fmt.Errorf("seller: hash %s for session %s: %w", ans.typ, s.id, err)
	}
	n.appendEnvelope(s, env, h)
	s.turn = turn
	if offer != nil {
		s.lastOffer = cloneMoney(offer)
	}
	if ans.ask != nil {
		s.lastAsk = ans.ask
	}
	if o, ok := ans.body.(anp.OfferBody); ok && ans.typ == anp.TypeCounter && o.Final {
		s.finalGiven = true
	}
	if ans.accepted != nil {
		s.accepted, s.acceptEnv, s.acceptHash = ans.accepted, env, h
	}
	if ans.sig != "" {
		s.signedSig = ans.sig
	}
	s.state = ans.state
	s.lastActive = now
	return env, nil
}

// decisionAnswer turns a policy decision into the reply Step allows for the
// buyer's move at turn.
func (n *Node) decisionAnswer(s *session, d Decision, turn int, offer *anp.Money) (answer, error) {
	v := s.view()
	v.Turn = turn
	r, err := Step(v, d, offer)
	if err != nil {
		return answer{}, err
	}
	if r.Held {
		n.log.Warn().Str("session", s.id).Str("ask", d.Price.String()).Str("previous", r.Price.String()).
			Msg("policy raised its ask; holding the previous ask")
	}
	return r.answer(turn), nil
}
