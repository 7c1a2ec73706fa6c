package seller

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// deferAnswer records a buyer COUNTER, answers 202 pending and decides in
// the background; the signed reply goes to the registry's callback route.
// The caller holds s.mu; view is the policy's snapshot for the offer.
func (n *Node) deferAnswer(s *session, env *anp.Envelope, h string, b anp.OfferBody, prevOffer *anp.Money, now time.Time) (outcome, error) {
	if !n.beginWork() {
		return outcome{}, anp.Errorf(anp.CodeUnavailable, "the seller is shutting down")
	}
	n.appendEnvelope(s, env, h)
	n.progressed(s)
	s.lastBuyer, s.lastReply = h, nil
	s.pending = true
	s.turn = b.Turn
	s.lastOffer = cloneMoney(&b.Price)
	s.lastActive = now
	go func() {
		defer n.wg.Done()
		if !n.awaitAnswerTurn() {
			return
		}
		if reply := n.answerPending(s, h, b, prevOffer); reply != nil {
			n.deliver(reply)
		}
	}()
	return outcome{pending: true}, nil
}

// awaitAnswerTurn holds an asynchronous answer for AsyncDelay and then,
// when the config has one, until its test gate lets it go. It reports false
// when the node was closed first.
func (n *Node) awaitAnswerTurn() bool {
	if d := n.cfg.AsyncDelay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-n.ctx.Done():
			return false
		case <-t.C:
		}
	}
	if n.cfg.asyncGate == nil {
		return true
	}
	select {
	case <-n.ctx.Done():
		return false
	case <-n.cfg.asyncGate:
		return true
	}
}

// beginWork registers a background worker unless the node is closing.
func (n *Node) beginWork() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return false
	}
	n.wg.Add(1)
	return true
}

// asyncPolicyTimeout bounds an asynchronous policy decision.
const asyncPolicyTimeout = 30 * time.Second

// answerPending decides the outstanding answer to the buyer envelope with
// hash h and appends the reply. It returns nil when the answer is no longer
// wanted (the session was cancelled, expired or removed). A policy failure
// is answered with an INFORM (reason "error") so that the buyer is never
// left waiting; the session stays open for a new offer at the next turn.
func (n *Node) answerPending(s *session, h string, b anp.OfferBody, prevOffer *anp.Money) *anp.Envelope {
	wanted := func() bool {
		if n.cfg.Store != nil && n.refresh(n.ctx, s) != nil {
			return false
		}
		return !s.gone && s.pending && s.lastBuyer == h && s.state == StateOpen
	}
	s.mu.Lock()
	if !wanted() {
		s.mu.Unlock()
		return nil
	}
	view := s.view()
	view.LastOffer = prevOffer
	s.mu.Unlock()
	// The policy may be slow (a person, a model): it runs without the session
	// lock, so a CANCEL or QUERY is never held up, and under a deadline.
	pctx, cancel := context.WithTimeout(n.ctx, asyncPolicyTimeout)
	d, err := n.policy.Respond(pctx, view, b.Price)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !wanted() { // cancelled or expired meanwhile
		return nil
	}
	now := n.now()
	var ans answer
	if err == nil {
		ans, err = n.decisionAnswer(s, d, b.Turn, &b.Price)
	}
	if err != nil {
		n.log.Error().Err(err).Str("session", s.id).Int("turn", b.Turn).Msg("policy failed on an async offer")
		ans = answer{typ: anp.TypeInform, state: StateOpen, body: anp.NoteBody{
			Reason: "error", Message: "The seller could not answer this offer; send a new offer or cancel.",
		}}
	}
	reply, err := n.reply(s, ans, b.Turn, &b.Price, now)
	s.pending = false
	if err != nil {
		n.log.Error().Err(err).Str("session", s.id).Msg("sealing an async answer failed")
		return nil
	}
	s.lastReply = reply
	if n.cfg.Store != nil {
		// Only the answer that is stored is sent: another process that
		// answered first (or a failed save) wins over this one.
		if err := n.save(n.ctx, s); err != nil {
			n.log.Warn().Err(err).Str("session", s.id).Msg("async answer not stored; not sending it")
			return nil
		}
	}
	return reply
}

// deliver posts a reply to the registry's callback route, retrying
// transient failures with exponential backoff and jitter for up to
// retryFor, or until Close.
func (n *Node) deliver(env *anp.Envelope) {
	ctx, cancel := context.WithTimeout(n.ctx, n.retryFor)
	defer cancel()
	log := n.log.With().Str("session", env.Session).Str("type", string(env.Type)).Uint64("seq", env.Seq).Logger()
	wait := n.retryMin
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 15*time.Second)
		err := n.cfg.Registry.PostCallback(actx, env)
		acancel()
		if err == nil {
			log.Debug().Int("attempt", attempt).Msg("callback delivered")
			return
		}
		if code := anp.CodeOf(err); code != "" && code != anp.CodeUnavailable && code != anp.CodeInternal {
			log.Warn().Err(err).Int("attempt", attempt).Msg("registry refused the callback; not retrying")
			return
		}
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("callback delivery failed")
		t := time.NewTimer(jitter(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			log.Error().Int("attempts", attempt).Msg("giving up on callback delivery")
			return
		case <-t.C:
		}
		wait = min(2*wait, n.retryMax)
	}
}

// jitter returns d minus up to a quarter of d, at random.
func jitter(d time.Duration) time.Duration {
	if q := int64(d / 4); q > 0 {
		return d - time.Duration(rand.Int64N(q))
	}
	return d
}
