package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
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
	Active     int64          `json:"active,omitempty"` // registry clock (unix ms) of the last save

	size   int64 // bytes of the stored record (encodeSession), as loaded or last saved
	stored bool  // the record is in the Ledger (loaded or saved): it has its open-session index entry
	// The encodings of Transcript.Envelopes[:envsCount], joined by
	// commas, in the record as loaded or last saved (nil: not known).
	envs      []byte
	envsCount int
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
	ws, err := s.decodeStored(id, data)
	if err != nil {
		return nil, fmt.Errorf("registry: decode session %s: %w", id, err)
	}
	ws.size = int64(len(data))
	ws.stored = true
	return ws, nil
}

// decodeSession decodes a stored session strictly (anp.DecodeStrict).
func decodeSession(data []byte) (*witnessSession, error) {
	var ws witnessSession
	if err := anp.DecodeStrict(data, &ws); err != nil {
		return nil, err
	}
	return &ws, nil
}

// decodeStored decodes a stored session: not at all when these are the
// bytes of a session it remembers decoded, else strictly, unless these are
// the bytes this registry wrote or already read strictly for id.
func (s *Server) decodeStored(id string, data []byte) (*witnessSession, error) {
	sum := readonce.Sum(data)
	if ws, span, ok := s.decoded.get(id, sum); ok {
		ws.knowEnvelopes(data, span)
		return ws, nil
	}
	ws, err := s.decodeChecked(id, sum, data)
	if err != nil {
		return nil, err
	}
	s.decoded.put(id, sum, ws, envelopesSpan{})
	return ws, nil
}

// decodeChecked decodes data, with digest sum, stored for id: strictly,
// unless these are the bytes this registry wrote or already read strictly.
func (s *Server) decodeChecked(id string, sum [sha256.Size]byte, data []byte) (*witnessSession, error) {
	if s.checked.Has(id, sum) {
		var ws witnessSession
		if err := json.Unmarshal(data, &ws); err != nil {
			return nil, err
		}
		return &ws, nil
	}
	ws, err := decodeSession(data)
	if err != nil {
		return nil, err
	}
	s.checked.Add(id, sum)
	return ws, nil
}

// maxCheckedSessions bounds Server.checked; past it the memory starts over.
const maxCheckedSessions = 1 << 16

// saveSession persists ws, stamped with the time of this activity, and
// tells the idle-session sweep about it.
func (s *Server) saveSession(ctx context.Context, ws *witnessSession) error {
	ws.Active = s.now().UnixMilli()
	if !ws.stored && !ws.Notarized {
		if err := s.indexSession(ctx, ws); err != nil {
			return err
		}
	}
	data, span, err := encodeRecord(ws)
	if err != nil {
		return fmt.Errorf("registry: encode session %s: %w", ws.ID, err)
	}
	if err := s.ledger.Put(ctx, bucketSessions, ws.ID, data); err != nil {
		s.checked.Forget(ws.ID)
		s.decoded.forget(ws.ID)
		return fmt.Errorf("registry: store session %s: %w", ws.ID, err)
	}
	sum := readonce.Sum(data)
	s.checked.Add(ws.ID, sum)
	ws.size = int64(len(data))
	ws.stored = true
	ws.knowEnvelopes(data, span)
	s.decoded.put(ws.ID, sum, ws, span)
	if ws.Notarized {
		if err := s.unindexSession(ctx, ws.ID); err != nil {
			return err
		}
	}
	s.idle.touch(ws)
	return nil
}

// Bytes of a witnessed session. The registry keeps every witnessed
// envelope with its body in canonical form (compactBody) and counts a
// session by the bytes of its stored record (encodeSession). A buyer
// envelope is relayed only if the session, with it and with room for the
// seller's answer, stays within Config.MaxSessionBytes; a seller envelope
// (a direct reply or a callback) is witnessed only if the session with it
// stays within the limit. Past it the envelope is refused with too_large,
// naming the limit, and the session is unchanged.
const (
	answerReserve = 8 << 10 // room a buyer envelope keeps for the seller's answer
	recordSlack   = 64      // what a save may add besides envelopes: closed, notarized, active
)

// encodeSession is the stored form of ws: JSON without HTML escaping, so
// that a '<' in a body takes one byte, not six.
func encodeSession(ws *witnessSession) ([]byte, error) {
	return encodeCompact(ws)
}

// encodeCompact encodes v as JSON without HTML escaping and without the
// encoder's trailing newline.
func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// compactBody replaces env's body by its canonical form (RFC 8785): the
// bytes its signature and its hash cover, so both still verify, without
// the white space, escapes or key order a sender may pad a body with.
func compactBody(env *anp.Envelope) error {
	c, err := anp.Canonical(env.Body)
	if err != nil {
		if anp.CodeOf(err) != "" {
			return err
		}
		return anp.Errorf(anp.CodeBadRequest, "envelope %s seq %d: the body has no canonical form: %v", env.Type, env.Seq, err)
	}
	env.Body = c
	return nil
}

// envelopeBytes is what env adds to a stored record: its encoding and a
// separating comma.
func envelopeBytes(env *anp.Envelope) (int64, error) {
	data, err := encodeCompact(env)
	if err != nil {
		return 0, fmt.Errorf("registry: encode envelope: %w", err)
	}
	return int64(len(data)) + 1, nil
}

// recordSize sets ws.size for a session that was never stored.
func (ws *witnessSession) recordSize() error {
	data, err := encodeSession(ws)
	if err != nil {
		return fmt.Errorf("registry: encode session %s: %w", ws.ID, err)
	}
	ws.size = int64(len(data))
	return nil
}

// roomForBuyer returns the bytes buyer envelope env adds to ws, or refuses
// it when, with room for the seller's answer, it would take ws past
// MaxSessionBytes.
func (s *Server) roomForBuyer(ws *witnessSession, env *anp.Envelope) (int64, error) {
	n, err := envelopeBytes(env)
	if err != nil {
		return 0, err
	}
	if limit := s.cfg.MaxSessionBytes; ws.size+n+answerReserve+recordSlack > limit {
		return 0, anp.Errorf(anp.CodeTooLarge, "session %s holds %d bytes and %s seq %d takes %d more, with %d kept for the answer: the registry keeps at most %d bytes per session; open a new session",
			ws.ID, ws.size, env.Type, env.Seq, n, answerReserve, limit)
	}
	return n, nil
}

// roomForSeller returns the bytes seller envelope env adds to ws, or
// refuses it when it is larger than an envelope may be or would take ws
// past MaxSessionBytes.
func (s *Server) roomForSeller(ws *witnessSession, env *anp.Envelope) (int64, error) {
	n, err := envelopeBytes(env)
	if err != nil {
		return 0, err
	}
	if n-1 > anp.MaxEnvelopeBytes {
		return 0, anp.Errorf(anp.CodeTooLarge, "%s seq %d is %d bytes in canonical form, at most %d allowed", env.Type, env.Seq, n-1, anp.MaxEnvelopeBytes)
	}
	if limit := s.cfg.MaxSessionBytes; ws.size+n+recordSlack > limit {
		return 0, anp.Errorf(anp.CodeTooLarge, "session %s holds %d bytes and %s seq %d takes %d more: the registry keeps at most %d bytes per session",
			ws.ID, ws.size, env.Type, env.Seq, n, limit)
	}
	return n, nil
}

// admitSession applies the per-identity limit on new sessions to a buyer
// envelope: a PROPOSE for a session id that is not taken (ws is nil) opens
// a session, anything else does not count.
func (s *Server) admitSession(ctx context.Context, buyer string, ws *witnessSession, env *anp.Envelope) error {
	if ws != nil || env.Type != anp.TypePropose {
		return nil
	}
	if err := s.limits.sessions.take(ctx, buyer); err != nil {
		return err
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

// witness appends an envelope that passed Transcript.Check with hash h and
// adds to the record n bytes (roomForBuyer, roomForSeller).
func (ws *witnessSession) witness(env *anp.Envelope, h string, n int64) witnessEvent {
	ws.Transcript.Envelopes = append(ws.Transcript.Envelopes, env)
	ws.Transcript.Head = h
	ws.size += n
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
	if err := compactBody(env); err != nil {
		return "", witnessEvent{}, err
	}
	if !allowClosed || ws.Notarized {
		if err := ws.open(); err != nil {
			return "", witnessEvent{}, err
		}
	}
	// The parties are checked here, with messages that name no key:
	// Transcript.Check's would name the key it expected.
	if env.From != ws.SellerKey {
		return "", witnessEvent{}, anp.Errorf(anp.CodeBadSignature, "envelope seq %d is not signed by the session's seller key", env.Seq)
	}
	if env.To != ws.BuyerKey {
		return "", witnessEvent{}, anp.Errorf(anp.CodeBadRequest, "envelope seq %d is not addressed to the session's buyer key", env.Seq)
	}
	h, err := ws.Transcript.Check(env, ws.expectSeller(s.now()))
	if err != nil {
		return "", witnessEvent{}, err
	}
	n, err := s.roomForSeller(ws, env)
	if err != nil {
		return "", witnessEvent{}, err
	}
	if err := s.recordNonce(ctx, env); err != nil {
		return "", witnessEvent{}, err
	}
	return h, ws.witness(env, h, n), nil
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

// idleSessions indexes the witnessed sessions that the sweep may delete:
// every session not notarised, by the registry time of its last activity.
// It is built from the Ledger on start and kept up to date by saveSession.
// It is per process: with replicas, each sweeps the sessions it saw
// (deleteIfIdle reads the session again under its lease, so a session
// active on another replica is kept), and any replica's start indexes
// every session in the Ledger.
type idleSessions struct {
	mu     sync.Mutex
	active map[string]int64 // session id -> last activity, unix ms
}

func newIdleSessions() *idleSessions { return &idleSessions{active: make(map[string]int64)} }

// touch records ws's last activity; a notarised session leaves the index
// (a deal's witness record is kept).
func (x *idleSessions) touch(ws *witnessSession) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ws.Notarized {
		delete(x.active, ws.ID)
		return
	}
	x.active[ws.ID] = ws.lastActivity()
}

// set records id's last activity as at.
func (x *idleSessions) set(id string, at int64) {
	x.mu.Lock()
	x.active[id] = at
	x.mu.Unlock()
}

func (x *idleSessions) forget(id string) {
	x.mu.Lock()
	delete(x.active, id)
	x.mu.Unlock()
}

// idleSince lists the sessions whose last activity is before cutoff.
func (x *idleSessions) idleSince(cutoff int64) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var ids []string
	for id, at := range x.active {
		if at < cutoff {
			ids = append(ids, id)
		}
	}
	return ids
}

// lastActivity is when ws was last saved; records written before the
// registry stamped them fall back to their last envelope's timestamp.
func (ws *witnessSession) lastActivity() int64 {
	if ws.Active > 0 {
		return ws.Active
	}
	if last := ws.Transcript.Last(); last != nil {
		return last.TS
	}
	return 0
}

// runEvery calls tick every interval until ctx ends.
func runEvery(ctx context.Context, interval time.Duration, tick func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tick(ctx)
		}
	}
}

// sweep is one round of the idle-session sweep, logged.
func (s *Server) sweep(ctx context.Context) {
	n, err := s.sweepSessions(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("delete idle sessions")
	}
	if n > 0 {
		s.log.Info().Int("deleted", n).Dur("idle_for", s.cfg.SessionTTL).Msg("deleted idle sessions")
	}
}

// sweepSessions deletes from the Ledger every session that is not
// notarised and saw no activity for SessionTTL: abandoned negotiations,
// ended ones, and sessions opened only to take space. It returns how many
// it deleted.
func (s *Server) sweepSessions(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.SessionTTL).UnixMilli()
	deleted := 0
	for _, id := range s.idle.idleSince(cutoff) {
		ok, err := s.deleteIfIdle(ctx, id, cutoff)
		if err != nil {
			return deleted, err
		}
		if ok {
			deleted++
		}
	}
	return deleted, nil
}

// deleteIfIdle deletes session id under its lock if it is still idle since
// before cutoff and not being notarised.
func (s *Server) deleteIfIdle(ctx context.Context, id string, cutoff int64) (bool, error) {
	unlock, err := s.lockSession(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	ws, err := s.loadSession(ctx, id)
	if err != nil {
		return false, err
	}
	if ws == nil || ws.Notarized {
		s.idle.forget(id)
		return false, s.unindexSession(ctx, id)
	}
	if ws.lastActivity() >= cutoff {
		s.idle.touch(ws)
		return false, nil
	}
	if _, err := s.ledger.Get(ctx, bucketNotarising, id); err == nil {
		s.idle.forget(id) // a countersigned deal waits for its retry: keep it
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("registry: look up the notarising record of session %s: %w", id, err)
	}
	s.checked.Forget(id)
	s.decoded.forget(id)
	if err := s.ledger.Delete(ctx, bucketSessions, id); err != nil {
		return false, fmt.Errorf("registry: delete idle session %s: %w", id, err)
	}
	if err := s.unindexSession(ctx, id); err != nil {
		return false, err
	}
	s.idle.forget(id)
	return true, nil
}
