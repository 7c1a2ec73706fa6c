package seller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// outcome is the answer to one buyer envelope: a signed reply, or pending
// when the reply will follow through the registry's callback route.
type outcome struct {
	reply   *anp.Envelope
	pending bool
}

// dispatch runs the handler of env.Type. The route has been checked.
func (n *Node) dispatch(ctx context.Context, env *anp.Envelope) (outcome, error) {
	var handle func(context.Context, *session, *anp.Envelope, string, time.Time) (outcome, error)
	switch env.Type {
	case anp.TypePropose:
		return n.handlePropose(ctx, env)
	case anp.TypeCounter:
		handle = n.handleCounter
	case anp.TypeQuery:
		handle = n.handleQuery
	case anp.TypeCancel:
		handle = n.handleCancel
	case anp.TypeCommit:
		handle = n.handleCommit
	default:
		return outcome{}, anp.Errorf(anp.CodeBadRequest, "a seller does not take %s messages from buyers", env.Type)
	}
	// Every message of an open session: lock it, admit the envelope (or
	// answer a byte-identical resend with its earlier outcome), then handle.
	defer n.flushTombs(ctx)
	s, err := n.lockFor(ctx, env.Session)
	if err != nil {
		return outcome{}, err
	}
	defer s.mu.Unlock()
	now := n.now()
	h, again, err := n.admit(s, env, now)
	if err != nil || again != nil {
		return deref(again), err
	}
	out, err := handle(ctx, s, env, h, now)
	if err != nil {
		return outcome{}, err
	}
	return n.settle(ctx, s, h, out)
}

// handlePropose opens a session: seq 1, a new session id, addressed to this
// domain, signed by the buyer's session key, in a supported mode.
func (n *Node) handlePropose(ctx context.Context, env *anp.Envelope) (outcome, error) {
	now := n.now()
	h, again, err := n.checkPropose(env, now)
	if err != nil || again != nil {
		return deref(again), err
	}
	p, cred, err := n.readPropose(env)
	if err != nil {
		return outcome{}, err
	}
	until := time.UnixMilli(env.Exp).Add(anp.MaxClockSkew)
	s := &session{id: env.Session, buyerKey: env.From, propose: p, credential: cred, state: StateOpen, turn: 1, lastActive: now, until: until.UnixMilli()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := n.insert(s, env, now); err != nil {
		if old := n.get(env.Session); old != nil && old != s {
			return n.repeatOrConflict(old, h)
		}
		return outcome{}, err
	}
	// The id is remembered (on disk with a state directory) before anything
	// is answered, so this PROPOSE opens a session once, restarts included.
	if err := n.used.remember(env.Session, until, now); err != nil {
		n.remove(s)
		return outcome{}, err
	}
	d, refused := n.buyerTrustRefusal(ctx, p)
	if !refused {
		d, err = n.policy.Open(ctx, s.view(), p)
	}
	if err != nil {
		n.remove(s)
		return outcome{}, policyError(err)
	}
	out, err := n.answerNow(s, env, h, d, 1, p.Offer, now)
	if err != nil {
		n.remove(s)
		return outcome{}, err
	}
	n.markFresh(s)
	if out, err = n.settlePropose(ctx, s, h, out); err != nil {
		return outcome{}, err
	}
	n.log.Info().Str("session", s.id).Str("buyer", s.buyerKey[:12]).Str("mode", string(p.Mode)).
		Str("reply", string(out.reply.Type)).Msg("session opened")
	return out, nil
}

// checkPropose checks a PROPOSE against an empty transcript (this domain,
// signed by its own from, in its time window) and refuses a session id this
// node took before. A byte-identical resend of the PROPOSE of a session the
// node holds gets its earlier outcome.
func (n *Node) checkPropose(env *anp.Envelope, now time.Time) (string, *outcome, error) {
	var empty anp.Transcript
	h, err := empty.Check(env, anp.Expect{Session: env.Session, From: env.From, To: n.domain, Now: now})
	if err != nil {
		return "", nil, err
	}
	if old := n.get(env.Session); old != nil {
		out, err := n.repeatOrConflict(old, h)
		return h, &out, err
	}
	if n.used.seen(env.Session, now) {
		return "", nil, anp.Errorf(anp.CodeConflict, "session %s was opened at this seller before; open a new session with a fresh id", env.Session)
	}
	return h, nil, nil
}

// readPropose decodes the PROPOSE body, checks the mode and opens the
// sealed credential, which must be sealed for this session, the key that
// signed the PROPOSE and this domain. The body it returns no longer carries
// the sealed credential.
func (n *Node) readPropose(env *anp.Envelope) (anp.ProposeBody, string, error) {
	var p anp.ProposeBody
	if err := env.DecodeBody(&p); err != nil {
		return p, "", err
	}
	if !n.supports(p.Mode) {
		return p, "", anp.Errorf(anp.CodeRefused, "mode %s is not supported by %s; it negotiates in %s", p.Mode, n.domain, n.modeList())
	}
	if p.Credential == "" {
		return p, "", nil
	}
	cred, err := anp.OpenCredential(n.credKey, p.Credential, anp.CredentialScope{Session: env.Session, BuyerKey: env.From, Domain: n.domain})
	if err != nil {
		return p, "", err
	}
	p.Credential = ""
	return p, cred, nil
}

// repeatOrConflict answers a PROPOSE for an existing session id: the
// earlier reply when it is the same envelope again, else a conflict.
func (n *Node) repeatOrConflict(old *session, hash string) (outcome, error) {
	old.mu.Lock()
	defer old.mu.Unlock()
	if !old.gone && len(old.transcript.Envelopes) > 0 && old.lastBuyer == hash {
		return outcome{reply: old.lastReply, pending: old.lastReply == nil}, nil
	}
	return outcome{}, anp.Errorf(anp.CodeConflict, "session %s already exists", old.id)
}

// handleCounter answers a buyer offer, now or (async mode) through a callback.
func (n *Node) handleCounter(ctx context.Context, s *session, env *anp.Envelope, h string, now time.Time) (outcome, error) {
	if s.state != StateOpen {
		return outcome{}, anp.Errorf(anp.CodeBadState, "COUNTER is not allowed in state %s", s.state)
	}
	if s.pending {
		return outcome{}, anp.Errorf(anp.CodeBadState, "the answer to turn %d is still outstanding", s.turn)
	}
	var b anp.OfferBody
	if err := env.DecodeBody(&b); err != nil {
		return outcome{}, err
	}
	view, err := s.view().ForCounter(b.Turn)
	if err != nil {
		return outcome{}, err
	}
	if n.cfg.Async {
		return n.deferAnswer(s, env, h, b, view.LastOffer, now)
	}
	d, err := n.policy.Respond(ctx, view, b.Price)
	if err != nil {
		return outcome{}, policyError(err)
	}
	return n.answerNow(s, env, h, d, b.Turn, &b.Price, now)
}

// handleQuery answers a question with an INFORM; the turn does not advance.
func (n *Node) handleQuery(ctx context.Context, s *session, env *anp.Envelope, h string, now time.Time) (outcome, error) {
	if s.state != StateOpen && s.state != StateAccepted {
		return outcome{}, anp.Errorf(anp.CodeBadState, "QUERY is not allowed in state %s", s.state)
	}
	if s.pending {
		return outcome{}, anp.Errorf(anp.CodeBadState, "the answer to turn %d is still outstanding", s.turn)
	}
	var q anp.NoteBody
	if err := env.DecodeBody(&q); err != nil {
		return outcome{}, err
	}
	text, err := n.answerQuestion(ctx, s, q)
	if err != nil {
		return outcome{}, err
	}
	ans := answer{typ: anp.TypeInform, body: anp.NoteBody{Reason: "answer", Message: anp.CleanText(text, anp.MaxMessageLen)}, state: s.state}
	return n.commit(s, env, h, ans, s.turn, nil, now)
}

// answerQuestion answers a QUERY from the node's attributes when it asks
// about them, else from the policy (an Answerer), else with what the buyer
// may ask about or do.
func (n *Node) answerQuestion(ctx context.Context, s *session, q anp.NoteBody) (string, error) {
	if text := n.cfg.Attributes.Answer(q.Message); text != "" {
		return text, nil
	}
	text := "This seller answers offers only; make an offer or cancel."
	if a, ok := n.policy.(Answerer); ok {
		var err error
		if text, err = a.Answer(ctx, s.view(), q); err != nil {
			return "", policyError(err)
		}
	}
	if len(n.cfg.Attributes) > 0 {
		text += " You can ask about: " + n.cfg.Attributes.Topics() + "."
	}
	return text, nil
}

// handleCancel ends an open or accepted session at the buyer's request.
func (n *Node) handleCancel(_ context.Context, s *session, env *anp.Envelope, h string, now time.Time) (outcome, error) {
	if s.state != StateOpen && s.state != StateAccepted {
		return outcome{}, anp.Errorf(anp.CodeBadState, "CANCEL is not allowed in state %s", s.state)
	}
	var b anp.NoteBody
	if err := env.DecodeBody(&b); err != nil {
		return outcome{}, err
	}
	ans := answer{typ: anp.TypeInform, body: anp.NoteBody{Reason: "cancelled", Message: "Session cancelled."}, state: StateCancelled}
	out, err := n.commit(s, env, h, ans, s.turn, nil, now)
	if err == nil {
		s.pending = false
		n.log.Info().Str("session", s.id).Msg("session cancelled by the buyer")
	}
	return out, err
}

// handleCommit countersigns the buyer's artifact when it matches the
// accepted deal exactly.
func (n *Node) handleCommit(_ context.Context, s *session, env *anp.Envelope, h string, now time.Time) (outcome, error) {
	if s.state != StateAccepted {
		return outcome{}, anp.Errorf(anp.CodeBadState, "COMMIT needs an accepted deal; the session is %s", s.state)
	}
	var b anp.CommitBody
	if err := env.DecodeBody(&b); err != nil {
		return outcome{}, err
	}
	sig, err := n.signChecked(s, b.Artifact, now)
	if err != nil {
		return outcome{}, err
	}
	ans := answer{typ: anp.TypeConfirm, body: anp.ConfirmBody{SellerSig: sig}, state: StateSigned, sig: sig}
	out, err := n.commit(s, env, h, ans, s.turn, nil, now)
	if err == nil {
		n.log.Info().Str("session", s.id).Str("price", s.accepted.String()).Msg("deal signed")
	}
	return out, err
}

// lock finds a session and locks it.
func (n *Node) lock(id string) (*session, error) {
	s := n.get(id)
	if s != nil {
		s.mu.Lock()
		if !s.gone {
			return s, nil
		}
		s.mu.Unlock()
	}
	return nil, anp.Errorf(anp.CodeNotFound, "session %s is not known to this seller", id)
}

// admit checks env against the locked session: not evicted or expired,
// the buyer's session key, this domain, the next seq and the head as prev,
// a valid signature and time window, no replay, and room for it and a reply
// within the session's and the table's byte limits. A byte-identical
// retransmission of the latest buyer envelope returns its earlier outcome
// instead.
func (n *Node) admit(s *session, env *anp.Envelope, now time.Time) (string, *outcome, error) {
	if n.staleFresh(s, now) {
		n.mu.Lock()
		n.evictLocked(s)
		n.mu.Unlock()
		return "", nil, anp.Errorf(anp.CodeExpired, "session %s was dropped: no message followed its PROPOSE within %s; open a new session", s.id, n.cfg.ProposeTTL)
	}
	n.expireIfIdle(s, now)
	if s.state == StateExpired {
		return "", nil, anp.Errorf(anp.CodeExpired, "session %s expired after %s without messages", s.id, n.cfg.SessionTTL)
	}
	h, err := s.transcript.Check(env, anp.Expect{Session: s.id, From: s.buyerKey, To: n.domain, Now: now})
	if err != nil {
		if anp.CodeOf(err) == anp.CodeReplay && s.lastBuyer != "" {
			if eh, herr := env.Hash(); herr == nil && eh == s.lastBuyer {
				return "", &outcome{reply: s.lastReply, pending: s.lastReply == nil}, nil
			}
		}
		return "", nil, err
	}
	if len(s.transcript.Envelopes)+2 > MaxTranscript {
		return "", nil, anp.Errorf(anp.CodeRefused, "session %s has reached %d messages", s.id, MaxTranscript)
	}
	if err := n.makeRoom(s, envelopeCost(env)+replyReserve); err != nil {
		return "", nil, err
	}
	return h, nil, nil
}

func (n *Node) modeList() string {
	parts := make([]string, len(n.modes))
	for i, m := range n.modes {
		parts[i] = string(m)
	}
	return strings.Join(parts, ", ")
}

func deref(o *outcome) outcome {
	if o == nil {
		return outcome{}
	}
	return *o
}

// policyError passes protocol errors of a policy through; any other error
// is reported to the peer as internal (and logged by the handler).
func policyError(err error) error {
	if anp.CodeOf(err) != "" {
		return err
	}
	return fmt.Errorf("seller: policy: %w", err)
}
