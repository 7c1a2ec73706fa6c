package seller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Sessions in a store (Config.Store).
//
// The store holds the truth; the node's table (table.go) holds the
// sessions it is working on, with their limits, as a cache. Every buyer
// message locks the session in the table, reads its record (decoding it
// again only when another writer changed it), is checked and answered as
// without a store, and its outcome is saved at the version it was read at.
// When that save finds a newer version, another process (or, after a
// failed save, nobody) took a message of the session first: the node reads
// the record again and answers with the reply stored for this very
// envelope, or refuses with a conflict. So a buyer message is applied
// once however many processes it is delivered to, and a seq never gets two
// different answers. A restart loses nothing: the next message reads the
// record.
//
// Fresh sessions evicted by the table's TTL or caps, and sessions the store
// sweep finds expired, are replaced by a tombstone at the version read (a
// session that moved on meanwhile keeps going), which keeps the id taken
// until its PROPOSE has expired; the sweep deletes it after that.

// storeSweepEvery is how often the node sweeps its stored sessions.
const storeSweepEvery = time.Minute

// storeState is the node's bookkeeping of its store.
type storeState struct {
	tombs []tomb        // evicted sessions whose tombstones are yet to be written; guarded by Node.mu
	swept chan struct{} // closed when the sweep loop has stopped
}

// tomb is an evicted session to replace by a tombstone.
type tomb struct {
	id      string
	version int64
	until   int64
}

// storeKey is the record id of session id: the domain keeps several sellers
// apart in one store.
func (n *Node) storeKey(id string) string { return n.storePrefix() + id }

func (n *Node) storePrefix() string { return "seller/" + n.domain + "/" }

// storedLimit bounds the stored form of one session.
func (n *Node) storedLimit() int64 { return n.cfg.MaxSessionBytes + storedSlack }

// lockFor finds a session and locks it: from the table alone without a
// store, else as stored.
func (n *Node) lockFor(ctx context.Context, id string) (*session, error) {
	if n.cfg.Store == nil {
		return n.lock(id)
	}
	s := n.slot(id)
	if err := n.refresh(ctx, s); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return s, nil
}

// slot returns the table's session of id, locked, or a new empty one put
// in the table for refresh to fill.
func (n *Node) slot(id string) *session {
	for {
		n.mu.Lock()
		s := n.sessions[id]
		if s == nil {
			s = &session{id: id, stale: true}
			s.mu.Lock() // nobody else holds a new session
			n.sessions[id] = s
			n.mu.Unlock()
			return s
		}
		n.mu.Unlock()
		s.mu.Lock()
		if !s.gone {
			return s
		}
		s.mu.Unlock()
	}
}

// refresh brings the locked session s up to its stored record. A session
// not stored (or a tombstone) leaves the table and is an error naming it.
func (n *Node) refresh(ctx context.Context, s *session) error {
	rec, err := n.cfg.Store.Load(ctx, n.storeKey(s.id))
	if errors.Is(err, store.ErrNotFound) {
		n.remove(s)
		return anp.Errorf(anp.CodeNotFound, "session %s is not known to this seller", s.id)
	}
	if err != nil {
		n.dropIfEmpty(s)
		return fmt.Errorf("seller: load session %s: %w", s.id, err)
	}
	if rec.Version == s.version && !s.stale {
		return nil
	}
	st, err := decodeStored(rec.Data, n.domain, s.id, n.storedLimit())
	if err != nil {
		n.dropIfEmpty(s)
		return err
	}
	if st.Gone {
		n.remove(s)
		return anp.Errorf(anp.CodeExpired, "session %s was closed by the seller; open a new session", s.id)
	}
	f, err := st.session(n.creds)
	if err != nil {
		n.dropIfEmpty(s)
		return err
	}
	n.adopt(s, f, rec.Version)
	return nil
}

// dropIfEmpty takes a session that was never filled out of the table.
func (n *Node) dropIfEmpty(s *session) {
	if len(s.transcript.Envelopes) == 0 {
		n.remove(s)
	}
}

// adopt makes the locked session s what f, read at version, holds, with
// its bytes and place on the fresh list.
func (n *Node) adopt(s, f *session, version int64) {
	s.until, s.buyerKey, s.propose, s.credential = f.until, f.buyerKey, f.propose, f.credential
	s.state, s.turn, s.lastAsk, s.lastOffer, s.finalGiven = f.state, f.turn, f.lastAsk, f.lastOffer, f.finalGiven
	s.accepted, s.acceptEnv, s.acceptHash, s.signedSig = f.accepted, f.acceptEnv, f.acceptHash, f.signedSig
	s.transcript, s.lastBuyer, s.lastReply, s.pending, s.lastActive = f.transcript, f.lastBuyer, f.lastReply, f.pending, f.lastActive
	s.version, s.stale = version, false
	n.charge(s, f.bytes-s.bytes)
	switch {
	case f.fresh && !s.fresh:
		n.markFreshSince(s, f.freshSince)
	case !f.fresh && s.fresh:
		n.progressed(s)
	}
}

// markFreshSince puts a session read from the store on the fresh list, in
// the order of freshSince. The caller holds s.mu.
func (n *Node) markFreshSince(s *session, since time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.gone {
		return
	}
	s.fresh, s.freshSince = true, since
	for e := n.table.fresh.Back(); e != nil; e = e.Prev() {
		if !e.Value.(*session).freshSince.After(since) {
			s.freshElem = n.table.fresh.InsertAfter(s, e)
			return
		}
	}
	s.freshElem = n.table.fresh.PushFront(s)
}

// save writes the locked session s at the version it was read at. On
// failure s is marked stale: the next message reads the record again.
func (n *Node) save(ctx context.Context, s *session) error {
	data, err := n.encodeSession(s)
	if err == nil {
		var v int64
		v, err = n.cfg.Store.Save(ctx, store.SessionRecord{ID: n.storeKey(s.id), Version: s.version, Data: data, UpdatedAt: n.now()})
		if err == nil {
			s.version = v
			return nil
		}
	}
	s.stale = true
	return fmt.Errorf("seller: save session %s: %w", s.id, err)
}

// settle stores what the buyer envelope with hash h did to the locked
// session s and returns out. When another writer got there first the answer
// is the reply stored for this same envelope, or a conflict.
func (n *Node) settle(ctx context.Context, s *session, h string, out outcome) (outcome, error) {
	if n.cfg.Store == nil {
		return out, nil
	}
	err := n.save(ctx, s)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return outcome{}, err
	}
	if err := n.refresh(ctx, s); err != nil {
		return outcome{}, err
	}
	return storedAnswer(s, h)
}

// storedAnswer is the answer the session holds for the buyer envelope with
// hash h: its reply (or pending) when h is the latest buyer envelope, else
// a conflict.
func storedAnswer(s *session, h string) (outcome, error) {
	if s.lastBuyer == h {
		return outcome{reply: s.lastReply, pending: s.lastReply == nil}, nil
	}
	return outcome{}, anp.Errorf(anp.CodeConflict, "session %s took another message at this seq first; it is at seq %d", s.id, s.transcript.NextSeq()-1)
}

// settlePropose stores the session a PROPOSE with hash h just opened. When
// the id is stored already, the answer is the reply stored for this same
// PROPOSE, or a conflict; the session then leaves the table.
func (n *Node) settlePropose(ctx context.Context, s *session, h string, out outcome) (outcome, error) {
	if n.cfg.Store == nil {
		return out, nil
	}
	err := n.save(ctx, s)
	if err == nil {
		return out, nil
	}
	n.remove(s)
	if !errors.Is(err, store.ErrConflict) {
		return outcome{}, err
	}
	rec, err := n.cfg.Store.Load(ctx, n.storeKey(s.id))
	if err != nil {
		return outcome{}, fmt.Errorf("seller: load session %s: %w", s.id, err)
	}
	st, err := decodeStored(rec.Data, n.domain, s.id, n.storedLimit())
	if err != nil {
		return outcome{}, err
	}
	if st.Gone {
		return outcome{}, anp.Errorf(anp.CodeConflict, "session %s was opened at this seller before; open a new session with a fresh id", s.id)
	}
	old, err := st.session(n.creds)
	if err != nil {
		return outcome{}, err
	}
	return storedAnswer(old, h)
}

// evicted notes a fresh session the table dropped, so that its record is
// replaced by a tombstone. The caller holds n.mu and v.mu.
func (n *Node) evicted(v *session) {
	if n.cfg.Store != nil && v.version > 0 {
		n.stored.tombs = append(n.stored.tombs, tomb{id: v.id, version: v.version, until: v.until})
	}
}

// flushTombs writes the tombstones of the sessions evicted so far. A session
// that moved on at another process meanwhile keeps its record.
func (n *Node) flushTombs(ctx context.Context) {
	if n.cfg.Store == nil {
		return
	}
	n.mu.Lock()
	tombs := n.stored.tombs
	n.stored.tombs = nil
	n.mu.Unlock()
	for _, t := range tombs {
		n.bury(ctx, t)
	}
}

// bury replaces the record of t by a tombstone when it is still at
// t.version, and deletes it when its PROPOSE has expired at now as well.
func (n *Node) bury(ctx context.Context, t tomb) bool {
	_, err := n.cfg.Store.Save(ctx, store.SessionRecord{ID: n.storeKey(t.id), Version: t.version, Data: n.tombstone(t.id, t.until), UpdatedAt: n.now()})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			n.log.Warn().Err(err).Str("session", t.id).Msg("writing the tombstone of an evicted session failed")
		}
		return false
	}
	if n.now().UnixMilli() > t.until {
		n.deleteStored(ctx, t.id)
	}
	return true
}

func (n *Node) deleteStored(ctx context.Context, id string) {
	if err := n.cfg.Store.Delete(ctx, n.storeKey(id)); err != nil {
		n.log.Warn().Err(err).Str("session", id).Msg("deleting a stored session failed")
	}
}

// SweepStore applies the session table's time limits to the stored
// sessions of this node's domain: a session whose buyer sent only its
// PROPOSE, past ProposeTTL, and a session idle past its retention become
// tombstones (unless another process changed them meanwhile), and
// tombstones whose PROPOSE has expired are deleted. It returns the records
// it changed. A record that cannot be read is logged and left. The node
// runs it every minute; without a store it does nothing.
func (n *Node) SweepStore(ctx context.Context) (int, error) {
	if n.cfg.Store == nil {
		return 0, nil
	}
	n.flushTombs(ctx)
	recs, err := n.cfg.Store.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("seller: sweep stored sessions: %w", err)
	}
	now, changed := n.now(), 0
	for _, rec := range recs {
		id, ok := strings.CutPrefix(rec.ID, n.storePrefix())
		if !ok {
			continue
		}
		st, err := decodeStored(rec.Data, n.domain, id, n.storedLimit())
		if err != nil {
			n.log.Error().Err(err).Msg("stored session left as it is")
			continue
		}
		if n.sweepRecord(ctx, st, rec.Version, now) {
			changed++
		}
	}
	return changed, nil
}

// sweepRecord applies the time limits to one stored session read at
// version and reports whether it changed the record.
func (n *Node) sweepRecord(ctx context.Context, st *storedSession, version int64, now time.Time) bool {
	switch {
	case st.Gone:
		if now.UnixMilli() <= st.Until {
			return false
		}
		n.deleteStored(ctx, st.ID)
		return true
	case st.FreshSince != 0 && now.Sub(time.UnixMilli(st.FreshSince)) > n.cfg.ProposeTTL,
		!st.Pending && now.Sub(time.UnixMilli(st.LastActive)) > max(n.cfg.SessionTTL, retention):
		return n.bury(ctx, tomb{id: st.ID, version: version, until: st.Until})
	}
	return false
}

// sweepStoreLoop runs SweepStore every storeSweepEvery until Close.
func (n *Node) sweepStoreLoop() {
	defer close(n.stored.swept)
	t := time.NewTicker(storeSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			if _, err := n.SweepStore(n.ctx); err != nil && n.ctx.Err() == nil {
				n.log.Warn().Err(err).Msg("sweeping stored sessions failed")
			}
		}
	}
}

// Ready reports whether the node can take messages: it is not shutting
// down and, with a store, the store answers.
func (n *Node) Ready(ctx context.Context) error {
	if n.ctx.Err() != nil || n.draining.Load() {
		return anp.Errorf(anp.CodeUnavailable, "the seller is shutting down")
	}
	if n.cfg.Store == nil {
		return nil
	}
	_, err := n.cfg.Store.Load(ctx, n.storePrefix()+"readyz")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("seller: the session store does not answer: %w", err)
	}
	return nil
}

// Drain makes Ready fail from now on, so that a load balancer stops
// sending new requests before the server shuts down.
func (n *Node) Drain() { n.draining.Store(true) }
