package buyer

import (
	"crypto/sha256"
	"maps"
	"slices"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// hotRecordsSize is how many sessions hotRecords holds: the one in play.
// Each held record is a few KiB of heap that an idle engine keeps beyond
// its store; at 2 the idle-session benchmark's 16 engines already hold
// more than 2 KiB per session of 400.
const hotRecordsSize = 1

// hotRecords holds the decoded record of the session (or sessions) this
// engine saved last, keyed by session id and the SHA-256 of the bytes it saved, so that
// the next move on a session need not decode the record it just wrote.
// Bytes written by another process sharing the store (another digest)
// miss. It holds and hands out copies: the saver and the loader may each
// mutate theirs. Records carrying a deal, an artifact or a decision room
// are not held (their members are copied only by a decode).
type hotRecords struct {
	mu    sync.Mutex
	order [hotRecordsSize]string // ids, oldest replaced first
	next  int
	m     map[string]hotRecord
}

type hotRecord struct {
	sum [sha256.Size]byte
	r   *record
}

// put holds a copy of r, saved as bytes with digest sum.
func (h *hotRecords) put(sum [sha256.Size]byte, r *record) {
	id := r.Session.ID
	if !r.copyable() {
		h.forget(id)
		return
	}
	cp := r.copy()
	cp.escalationNews = false                                          // announced by the saver; a decoded record has none
	cp.encoded, cp.sealedCounter = encodedEnvelopes{}, sealedCounter{} // heap an idle engine need not keep
	// The PROPOSE memo stays (read only, shared): a record taken from here
	// and saved again need not decode its transcript's PROPOSE anew.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]hotRecord, hotRecordsSize)
	}
	if _, ok := h.m[id]; !ok {
		delete(h.m, h.order[h.next])
		h.order[h.next] = id
		h.next = (h.next + 1) % hotRecordsSize
	}
	h.m[id] = hotRecord{sum: sum, r: cp}
}

// get returns a copy of the record held for id when it was saved as the
// bytes with digest sum.
func (h *hotRecords) get(id string, sum [sha256.Size]byte) (*record, bool) {
	h.mu.Lock()
	e, ok := h.m[id]
	h.mu.Unlock()
	if !ok || e.sum != sum {
		return nil, false
	}
	return e.r.copy(), true
}

// session returns a copy of the session of the record held for id when it
// was saved as the bytes with digest sum: the session those bytes hold,
// without decoding them.
func (h *hotRecords) session(id string, sum [sha256.Size]byte) (Session, bool) {
	h.mu.Lock()
	e, ok := h.m[id]
	h.mu.Unlock()
	if !ok || e.sum != sum {
		return Session{}, false
	}
	return e.r.Session.clone(), true
}

// forget drops what is held for id.
func (h *hotRecords) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, id)
}

// copyable reports whether copy makes a record that shares nothing mutable
// with r: none of the members it does not copy is set.
func (r *record) copyable() bool {
	s := &r.Session
	return s.Artifact == nil && s.Deal == nil && s.Decision == nil && r.Pending == nil
}

// copy is a copy of a copyable record that shares with r only what is
// never changed in place: the envelopes (signed, immutable), the sealed
// session key (only ever replaced whole) and the signature cache.
func (r *record) copy() *record {
	cp := *r
	cp.Session = r.Session.clone()
	cp.Propose.Terms = maps.Clone(r.Propose.Terms)
	cp.Propose.Offer = clonePtr(r.Propose.Offer)
	cp.Transcript.Envelopes = slices.Clone(r.Transcript.Envelopes)
	return &cp
}

// clone is a copy of a session without an artifact, a deal or a decision
// room (which it would share) that shares nothing mutable with s.
func (s Session) clone() Session {
	s.Terms = maps.Clone(s.Terms)
	s.Escalation = clonePtr(s.Escalation)
	s.Rounds = slices.Clone(s.Rounds)
	var held [16]**anp.Money
	prices := append(held[:0], &s.LastSellerPrice, &s.LastOwnOffer, &s.AgreedPrice)
	for i := range s.Rounds {
		prices = append(prices, &s.Rounds[i].OwnOffer)
	}
	clonePrices(prices)
	s.Approvals = slices.Clone(s.Approvals)
	return s
}

// clonePrices points each set *p of prices at a copy of its price, the
// copies held in one new array (one allocation for a record's prices).
func clonePrices(prices []**anp.Money) {
	n := 0
	for _, p := range prices {
		if *p != nil {
			n++
		}
	}
	copies := make([]anp.Money, 0, n)
	for _, p := range prices {
		if *p != nil {
			copies = append(copies, **p)
			*p = &copies[len(copies)-1]
		}
	}
}

// clonePtr is a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
