package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger bucket of witnessed sessions.
const bucketSessions = "sessions"

// maxTranscript bounds the envelopes of one session.
const maxTranscript = 256

// witnessSession is the registry's record of one negotiation: who is in it
// and every envelope both sides exchanged through it, hash-chained.
type witnessSession struct {
	ID         string         `json:"id"`
	Domain     string         `json:"domain"`
	Buyer      string         `json:"buyer"`      // identity key of the token that opened it
	BuyerKey   string         `json:"buyer_key"`  // buyer session key (From of PROPOSE)
	SellerKey  string         `json:"seller_key"` // key bound to Domain
	Transcript anp.Transcript `json:"transcript"`
	Closed     anp.MsgType    `json:"closed,omitempty"` // CANCEL or REJECT that ended it
	Notarized  bool           `json:"notarized,omitempty"`
}

// witnessEvent records what a witnessed envelope changed, for statistics.
type witnessEvent struct {
	opened    bool
	cancelled bool
}

// loadSession returns the stored session or nil when there is none.
func (s *Server) loadSession(ctx context.Context, id string) (*witnessSession, error) {
	data, err := s.ledger.Get(ctx, bucketSessions, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: load session %s: %w", id, err)
	}
	var ws witnessSession
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, fmt.Errorf("registry: decode session %s: %w", id, err)
	}
	return &ws, nil
}

// saveSession persists ws.
func (s *Server) saveSession(ctx context.Context, ws *witnessSession) error {
	data, err := json.Marshal(ws)
	if err != nil {
		return fmt.Errorf("registry: encode session %s: %w", ws.ID, err)
	}
	if err := s.ledger.Put(ctx, bucketSessions, ws.ID, data); err != nil {
		return fmt.Errorf("registry: store session %s: %w", ws.ID, err)
	}
	return nil
}

// propose returns the session's PROPOSE body.
func (ws *witnessSession) propose() (*anp.ProposeBody, error) {
	if len(ws.Transcript.Envelopes) == 0 {
		return nil, fmt.Errorf("registry: session %s has no PROPOSE", ws.ID)
	}
	var b anp.ProposeBody
	if err := ws.Transcript.Envelopes[0].DecodeBody(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

// expectBuyer is who may send the next buyer envelope.
func (ws *witnessSession) expectBuyer(now time.Time) anp.Expect {
	return anp.Expect{Session: ws.ID, From: ws.BuyerKey, To: ws.Domain, Now: now}
}

// expectSeller is who may send the next seller envelope.
func (ws *witnessSession) expectSeller(now time.Time) anp.Expect {
	return anp.Expect{Session: ws.ID, From: ws.SellerKey, To: ws.BuyerKey, Now: now}
}

// open refuses envelopes for sessions that have ended.
func (ws *witnessSession) open() error {
	switch {
	case ws.Notarized:
		return anp.Errorf(anp.CodeBadState, "session %s is notarised: the negotiation is over", ws.ID)
	case ws.Closed != "":
		return anp.Errorf(anp.CodeBadState, "session %s was ended by %s", ws.ID, ws.Closed)
	case len(ws.Transcript.Envelopes) >= maxTranscript:
		return anp.Errorf(anp.CodeBadState, "session %s reached the limit of %d envelopes", ws.ID, maxTranscript)
	}
	return nil
}

// recordNonce remembers an envelope's nonce until it expires, refusing a
// nonce its sender used before (in this or any other session).
func (s *Server) recordNonce(ctx context.Context, env *anp.Envelope) error {
	fresh, err := s.nonces.RecordOnce(ctx, "env/"+env.From+"/"+env.Nonce, time.UnixMilli(env.Exp).Add(anp.MaxClockSkew))
	if err != nil {
		return fmt.Errorf("registry: record nonce: %w", err)
	}
	if !fresh {
		return anp.Errorf(anp.CodeReplay, "envelope %s seq %d reuses a nonce", env.Type, env.Seq)
	}
	return nil
}

// witness appends an envelope that passed Transcript.Check with hash h.
func (ws *witnessSession) witness(env *anp.Envelope, h string) witnessEvent {
	ws.Transcript.Envelopes = append(ws.Transcript.Envelopes, env)
	ws.Transcript.Head = h
	ev := witnessEvent{opened: env.Type == anp.TypePropose}
	if ws.Closed == "" && (env.Type == anp.TypeCancel || env.Type == anp.TypeReject) {
		ws.Closed = env.Type
		ev.cancelled = env.Type == anp.TypeCancel
	}
	return ev
}

// witnessSeller checks a seller envelope against the session and appends it.
// allowClosed admits the seller's direct answer to the buyer envelope that
// just ended the session (a CANCEL).
func (s *Server) witnessSeller(ctx context.Context, ws *witnessSession, env *anp.Envelope, allowClosed bool) (string, witnessEvent, error) {
	if !anp.SellerMayAnswer(env.Type) {
		return "", witnessEvent{}, anp.Errorf(anp.CodeForbidden, "a seller may not send %s", env.Type)
	}
	if !allowClosed || ws.Notarized {
		if err := ws.open(); err != nil {
			return "", witnessEvent{}, err
		}
	}
	h, err := ws.Transcript.Check(env, ws.expectSeller(s.now()))
	if err != nil {
		return "", witnessEvent{}, err
	}
	if err := s.recordNonce(ctx, env); err != nil {
		return "", witnessEvent{}, err
	}
	return h, ws.witness(env, h), nil
}

// countEvents updates the domain statistics after a session was saved.
func (s *Server) countEvents(ctx context.Context, domain string, evs ...witnessEvent) {
	var opened, cancelled uint64
	for _, ev := range evs {
		if ev.opened {
			opened++
		}
		if ev.cancelled {
			cancelled++
		}
	}
	if opened == 0 && cancelled == 0 {
		return
	}
	err := s.directory.bumpStats(ctx, domain, func(st *anp.Stats) {
		st.Sessions += opened
		st.Cancelled += cancelled
	})
	if err != nil {
		s.log.Error().Err(err).Str("domain", domain).Msg("update statistics")
	}
}
