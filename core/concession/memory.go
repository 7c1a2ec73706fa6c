package concession

import (
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

// maxRemembered bounds how many sessions a Decider remembers; the oldest
// session is forgotten first.
const maxRemembered = 4096

// askHistory is what a Decider observed in one session: the seller's asks
// and the buyer's own offers, one entry per decision, in turn order.
type askHistory struct {
	seq    uint64 // when the session was first seen, for eviction
	turns  []int
	asks   []int64
	offers []int64 // the buyer's offer standing when the ask came (0: none)
}

// firstAsk is the seller's first observed price.
func (h *askHistory) firstAsk() int64 { return h.asks[0] }

// lastConcession is how far the seller moved per turn between the last two
// observations, and whether there were two.
func (h *askHistory) lastConcession() (int64, bool) {
	n := len(h.asks)
	if n < 2 {
		return 0, false
	}
	dt := int64(max(h.turns[n-1]-h.turns[n-2], 1))
	return (h.asks[n-2] - h.asks[n-1]) / dt, true
}

// mirrorsBuyer reports whether the seller's last concession matched the
// buyer's concession just before it (tit-for-tat), within tolerance minor
// units. A curve seller matches a buyer's concession to the minor unit only
// by chance.
func (h *askHistory) mirrorsBuyer(tolerance int64) bool {
	n := len(h.asks)
	if n < 3 {
		return false
	}
	for i := n - 1; i < n; i++ {
		if h.offers[i-1] == 0 || h.turns[i]-h.turns[i-1] != 1 {
			return false
		}
		seller := h.asks[i-1] - h.asks[i]
		own := h.offers[i] - h.offers[i-1]
		if own <= 0 || abs64(seller-own) > tolerance {
			return false
		}
	}
	return true
}

// askMemory keeps one askHistory per session id. It is safe for concurrent
// use by the sessions of one engine.
type askMemory struct {
	mu       sync.Mutex
	sessions map[string]*askHistory
	seq      uint64
}

func newAskMemory() *askMemory {
	return &askMemory{sessions: make(map[string]*askHistory)}
}

// observe records the session's current ask and returns a copy of the
// session's history. A turn at or before the last one recorded means the
// session id started over (a restart or a rerun), so its history is reset.
func (m *askMemory) observe(s buyer.Session) askHistory {
	own := int64(0)
	if s.LastOwnOffer != nil {
		own = s.LastOwnOffer.Amount
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.sessions[s.ID]
	if !ok || len(h.turns) == 0 || s.Turn <= h.turns[len(h.turns)-1] {
		if !ok {
			m.evictLocked()
		}
		m.seq++
		h = &askHistory{seq: m.seq}
		m.sessions[s.ID] = h
	}
	h.turns = append(h.turns, s.Turn)
	h.asks = append(h.asks, s.LastSellerPrice.Amount)
	h.offers = append(h.offers, own)
	return askHistory{turns: append([]int(nil), h.turns...), asks: append([]int64(nil), h.asks...), offers: append([]int64(nil), h.offers...)}
}

// forget drops a session that needs no further decisions.
func (m *askMemory) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
}

// evictLocked forgets the oldest session when the memory is full.
func (m *askMemory) evictLocked() {
	if len(m.sessions) < maxRemembered {
		return
	}
	oldest, seq := "", uint64(0)
	for id, h := range m.sessions {
		if oldest == "" || h.seq < seq {
			oldest, seq = id, h.seq
		}
	}
	delete(m.sessions, oldest)
}

// historyOf rebuilds the history from the rounds the engine recorded.
func historyOf(rounds []buyer.Round) askHistory {
	h := askHistory{turns: make([]int, len(rounds)), asks: make([]int64, len(rounds)), offers: make([]int64, len(rounds))}
	for i, r := range rounds {
		h.turns[i], h.asks[i] = r.Turn, r.SellerPrice.Amount
		if r.OwnOffer != nil {
			h.offers[i] = r.OwnOffer.Amount
		}
	}
	return h
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
