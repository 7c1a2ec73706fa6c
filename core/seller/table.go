package seller

import (
	"container/list"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
)

// The session table and its limits.
//
// A session whose buyer has sent only its PROPOSE (and that waits for the
// buyer: the seller countered, informed or rejected) is "fresh". Fresh
// sessions are evicted ProposeTTL after the PROPOSE, at most
// MaxFreshSessions of them are kept (a new one evicts the oldest), and
// whenever the table or its bytes are full they are evicted, oldest first,
// before a buyer who got further is refused. A session leaves the fresh list
// when its buyer's next envelope is taken.
//
// Every session's bytes are counted: its PROPOSE terms and each envelope
// of its transcript (bodies stored in canonical form, so padding costs
// nothing). A session may hold MaxSessionBytes and all of them together
// MaxTotalBytes; past that a buyer envelope is refused, naming the limit.
//
// An evicted session's id stays in the node's used-session memory until its
// PROPOSE has expired, so the PROPOSE cannot open it again.

// Accounting constants: what a session and an envelope hold besides their
// variable-length strings, and the most a seller reply can add.
const (
	sessionOverhead  = 768
	envelopeOverhead = 256
	replyReserve     = 4 << 10
	minUsedSessions  = 10_000
)

// table is the node's accounting of its sessions. Every field is guarded by
// Node.mu.
type table struct {
	fresh   *list.List // of *session, oldest first
	bytes   int64      // bytes held by all sessions
	evicted uint64     // fresh sessions evicted (TTL, cap or room for another)
}

func newTable() table { return table{fresh: list.New()} }

// checkLimits fills in the defaults of the table limits and refuses
// negative ones.
func (cfg *Config) checkLimits() error {
	if cfg.MaxSessions < 0 || cfg.MaxFreshSessions < 0 || cfg.ProposeTTL < 0 || cfg.MaxSessionBytes < 0 || cfg.MaxTotalBytes < 0 {
		return fmt.Errorf("seller: session limits must not be negative")
	}
	cfg.MaxSessions = defaults.Positive(cfg.MaxSessions, DefaultMaxSessions)
	cfg.MaxFreshSessions = defaults.Positive(cfg.MaxFreshSessions, min(DefaultMaxFreshSessions, cfg.MaxSessions))
	cfg.ProposeTTL = defaults.Positive(cfg.ProposeTTL, DefaultProposeTTL)
	cfg.MaxSessionBytes = defaults.Positive(cfg.MaxSessionBytes, DefaultMaxSessionBytes)
	cfg.MaxTotalBytes = defaults.Positive(cfg.MaxTotalBytes, DefaultMaxTotalBytes())
	if cfg.MaxSessionBytes < 16<<10 || cfg.MaxTotalBytes < cfg.MaxSessionBytes {
		return fmt.Errorf("seller: max session bytes %d must be at least 16 KiB and at most max total bytes %d", cfg.MaxSessionBytes, cfg.MaxTotalBytes)
	}
	return nil
}

// envelopeCost is what an envelope held in a transcript costs.
func envelopeCost(e *anp.Envelope) int64 {
	return int64(envelopeOverhead + len(e.Type) + len(e.Session) + len(e.Prev) + len(e.From) + len(e.To) + len(e.Nonce) + len(e.Body) + len(e.Sig))
}

// proposeCost is what a session's copy of its PROPOSE body costs.
func proposeCost(p *anp.ProposeBody) int64 {
	n := sessionOverhead + len(p.Mode) + len(p.Item) + len(p.Category) + len(p.Currency)
	for k, v := range p.Terms {
		n += len(k) + len(v) + 64
	}
	return int64(n)
}

// compactBody replaces e's body by its canonical form (RFC 8785): the bytes
// the signature and the hash cover, so both still verify, without the white
// space, escapes or key order a sender may pad a body with.
func compactBody(e *anp.Envelope) error {
	c, err := anp.Canonical(json.RawMessage(e.Body))
	if err != nil {
		return err
	}
	e.Body = c
	return nil
}

// appendEnvelope adds an envelope whose checks are done (a buyer envelope
// that passed Transcript.Check, or the node's own reply) with its hash, and
// counts its bytes. The caller holds s.mu.
func (n *Node) appendEnvelope(s *session, e *anp.Envelope, hash string) {
	s.transcript.Envelopes = append(s.transcript.Envelopes, e)
	s.transcript.Head = hash
	n.charge(s, envelopeCost(e))
}

// truncate drops the envelopes after the first envs, back to head, and
// their bytes. The caller holds s.mu.
func (n *Node) truncate(s *session, envs int, head string) {
	var freed int64
	for _, e := range s.transcript.Envelopes[envs:] {
		freed += envelopeCost(e)
	}
	s.transcript.Envelopes, s.transcript.Head = s.transcript.Envelopes[:envs], head
	n.charge(s, -freed)
}

// charge adds delta bytes to s and to the table. The caller holds s.mu.
func (n *Node) charge(s *session, delta int64) {
	s.bytes += delta
	n.mu.Lock()
	if !s.gone {
		n.table.bytes += delta
	}
	n.mu.Unlock()
}

// makeRoomLocked checks that s may take need more bytes: within MaxSessionBytes,
// and within MaxTotalBytes once fresh sessions (oldest first, never s) are
// evicted. The caller holds s.mu and n.mu.
func (n *Node) makeRoomLocked(s *session, need int64) error {
	if s.bytes+need > n.cfg.MaxSessionBytes {
		return anp.Errorf(anp.CodeTooLarge, "session %s holds %d bytes and this message needs up to %d more: the limit is %d bytes per session; open a new session",
			s.id, s.bytes, need, n.cfg.MaxSessionBytes)
	}
	for n.table.bytes+need > n.cfg.MaxTotalBytes {
		if !n.evictOldestFreshLocked(s) {
			return anp.Errorf(anp.CodeRefused, "the seller holds %d bytes of sessions, its limit of %d bytes; try again later",
				n.table.bytes, n.cfg.MaxTotalBytes)
		}
	}
	return nil
}

// makeRoom is makeRoomLocked for a caller that holds s.mu only.
func (n *Node) makeRoom(s *session, need int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.makeRoomLocked(s, need)
}

// insert adds a new session, locked by the caller, whose PROPOSE env is
// about to be answered: it refuses a taken id, and makes room for it within
// the table's limits by evicting fresh sessions, or refuses when the table
// is full of sessions that got further.
func (n *Node) insert(s *session, env *anp.Envelope, now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sweepLocked(now)
	n.dropStaleFreshLocked(now)
	if _, ok := n.sessions[s.id]; ok {
		return anp.Errorf(anp.CodeConflict, "session %s already exists", s.id)
	}
	for len(n.sessions) >= n.cfg.MaxSessions {
		if !n.evictOldestFreshLocked(s) {
			return anp.Errorf(anp.CodeRefused, "the seller's session table is full: %d sessions in progress, its limit; try again later", len(n.sessions))
		}
	}
	base := proposeCost(&s.propose)
	if err := n.makeRoomLocked(s, base+envelopeCost(env)+replyReserve); err != nil {
		return err
	}
	n.sessions[s.id] = s
	s.bytes = base
	n.table.bytes += base
	return nil
}

// remove drops a session; the caller holds s.mu.
func (n *Node) remove(s *session) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropLocked(s)
}

// dropLocked takes s out of the table; the caller holds s.mu and n.mu.
func (n *Node) dropLocked(s *session) {
	if s.gone {
		return
	}
	s.gone = true
	if n.sessions[s.id] == s {
		delete(n.sessions, s.id)
	}
	if s.freshElem != nil {
		n.table.fresh.Remove(s.freshElem)
		s.freshElem, s.fresh = nil, false
	}
	n.table.bytes -= s.bytes
}

// markFresh puts a session whose PROPOSE was just answered on the fresh
// list when it waits for the buyer's next message, evicting the oldest
// fresh session when MaxFreshSessions are kept. The list is in the order of
// freshSince, read under n.mu. The caller holds s.mu.
func (n *Node) markFresh(s *session) {
	last := s.transcript.Last()
	if s.gone || last == nil || (s.state != StateOpen && s.state != StateCancelled) || last.Type == anp.TypeEscalate {
		return // accepted (the buyer's person decides) or escalated (the seller's person decides)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.table.fresh.Len() >= n.cfg.MaxFreshSessions {
		if !n.evictOldestFreshLocked(s) {
			break
		}
	}
	s.fresh, s.freshSince = true, n.now()
	s.freshElem = n.table.fresh.PushBack(s)
}

// progressed takes s off the fresh list: its buyer's next envelope was
// taken. The caller holds s.mu.
func (n *Node) progressed(s *session) {
	if !s.fresh {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.freshElem != nil {
		n.table.fresh.Remove(s.freshElem)
	}
	s.freshElem, s.fresh = nil, false
}

// staleFresh reports whether s is a fresh session past ProposeTTL at now.
// The caller holds s.mu.
func (n *Node) staleFresh(s *session, now time.Time) bool {
	return s.fresh && now.Sub(s.freshSince) > n.cfg.ProposeTTL
}

// evictOldestFreshLocked evicts the oldest fresh session other than keep
// that is not in use. It reports false when there is none. The caller holds
// n.mu (and keep.mu).
func (n *Node) evictOldestFreshLocked(keep *session) bool {
	for e := n.table.fresh.Front(); e != nil; e = e.Next() {
		v := e.Value.(*session)
		if v == keep || !v.mu.TryLock() {
			continue // a busy session is about to move on
		}
		n.evictLocked(v)
		v.mu.Unlock()
		return true
	}
	return false
}

// dropStaleFreshLocked evicts the fresh sessions past ProposeTTL at now.
// The caller holds n.mu.
func (n *Node) dropStaleFreshLocked(now time.Time) {
	for e := n.table.fresh.Front(); e != nil; {
		v, next := e.Value.(*session), e.Next()
		if now.Sub(v.freshSince) <= n.cfg.ProposeTTL {
			return // the list is in the order of freshSince
		}
		if v.mu.TryLock() {
			n.evictLocked(v)
			v.mu.Unlock()
		}
		e = next
	}
}

// evictLocked drops a fresh session to make room or because its buyer
// never came back. The caller holds v.mu and n.mu.
func (n *Node) evictLocked(v *session) {
	n.dropLocked(v)
	n.evicted(v)
	n.table.evicted++
	n.log.Debug().Str("session", v.id).Msg("session evicted after its PROPOSE alone")
}

// sweepLocked drops sessions idle for longer than their retention, at most
// once a minute. The caller holds n.mu.
func (n *Node) sweepLocked(now time.Time) {
	if now.Sub(n.lastSweep) < time.Minute {
		return
	}
	n.lastSweep = now
	keep := max(n.cfg.SessionTTL, retention)
	for _, s := range n.sessions {
		if !s.mu.TryLock() {
			continue // busy, so not idle
		}
		if now.Sub(s.lastActive) > keep && !s.pending {
			n.dropLocked(s)
		}
		s.mu.Unlock()
	}
}

// Stats are a node's counts of its sessions and of the requests it refused.
type Stats struct {
	Sessions       int    // sessions held
	FreshSessions  int    // of which the buyer sent only its PROPOSE
	RetainedBytes  int64  // bytes all sessions hold, as the limits count them
	UsedSessionIDs int    // session ids of recent PROPOSEs remembered
	Evicted        uint64 // fresh sessions evicted so far
	RelayRefused   uint64 // requests refused for a missing or bad relay signature
}

// Stats returns the node's current counts.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	st := Stats{Sessions: len(n.sessions), FreshSessions: n.table.fresh.Len(), RetainedBytes: n.table.bytes, Evicted: n.table.evicted}
	n.mu.Unlock()
	st.UsedSessionIDs = n.used.len()
	st.RelayRefused = n.relayKeys.refused.Load()
	return st
}

// SessionBytes returns the bytes session id holds, as the limits count them.
func (n *Node) SessionBytes(id string) (int64, bool) {
	s := n.get(id)
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, !s.gone
}
