package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Ledger bucket of undelivered callbacks.
const bucketPending = "pending"

// maxPendingPerBuyer bounds one identity's undelivered callbacks.
const maxPendingPerBuyer = 1024

// pendingRecord is the Ledger form of an undelivered callback. An ACKed
// callback is deleted; registries before Ledger.Delete overwrote it with a
// tombstone (Acked, no envelope), which newHub deletes.
type pendingRecord struct {
	Buyer    string        `json:"buyer"`
	ID       string        `json:"id"`
	Domain   string        `json:"domain,omitempty"` // the seller that sent it
	Envelope *anp.Envelope `json:"envelope,omitempty"`
	Acked    bool          `json:"acked,omitempty"`
}

// pendingEntry is an undelivered callback in memory.
type pendingEntry struct {
	env      *anp.Envelope
	domain   string    // the seller that sent it ("" in records from before)
	order    uint64    // enqueue order, for delivery order
	lastSent time.Time // wall clock of the last push, zero if never
}

// sellerQueueKey names one seller's share of one buyer's queue.
func sellerQueueKey(buyer, domain string) string { return buyer + "/" + domain }

// hub holds undelivered callbacks per buyer identity and the authenticated
// WebSocket connections they are pushed to (at least once, until ACKed).
// It also counts sockets against the caps of Config: MaxWS open at once,
// MaxPendingWS of them not yet authenticated, MaxWSPerIdentity per identity.
type hub struct {
	s *Server

	mu      sync.Mutex
	conns   map[string]map[*wsConn]struct{} // authenticated, by identity
	all     map[*wsConn]struct{}            // every upgraded connection, for close
	open    int                             // admitted sockets (upgrading, waiting for AUTH, or authenticated)
	unauth  int                             // admitted sockets not yet authenticated
	pending map[string]map[string]*pendingEntry
	queued  map[string]int // pending callbacks per sellerQueueKey
	held    map[string]int // places reserved by callbacks being witnessed, per buyer and per sellerQueueKey
	order   uint64
	closed  bool
	wg      sync.WaitGroup
}

func pendingKey(buyer, id string) string { return buyer + "/" + id }

// newHub restores undelivered callbacks from the Ledger.
func newHub(ctx context.Context, s *Server) (*hub, error) {
	h := &hub{
		s:       s,
		conns:   make(map[string]map[*wsConn]struct{}),
		all:     make(map[*wsConn]struct{}),
		pending: make(map[string]map[string]*pendingEntry),
		queued:  make(map[string]int),
		held:    make(map[string]int),
	}
	kvs, err := s.ledger.List(ctx, bucketPending)
	if err != nil {
		return nil, fmt.Errorf("registry: load pending callbacks: %w", err)
	}
	var restored []pendingRecord
	for _, kv := range kvs {
		var p pendingRecord
		if err := anp.DecodeStrict(kv.Value, &p); err != nil {
			return nil, fmt.Errorf("registry: load pending callback %s: %w", kv.Key, err)
		}
		if !p.Acked && p.Envelope != nil {
			restored = append(restored, p)
			continue
		}
		if err := s.ledger.Delete(ctx, bucketPending, kv.Key); err != nil {
			return nil, fmt.Errorf("registry: delete callback tombstone %s: %w", kv.Key, err)
		}
	}
	sort.Slice(restored, func(i, j int) bool {
		a, b := restored[i].Envelope, restored[j].Envelope
		if a.TS != b.TS {
			return a.TS < b.TS
		}
		if a.Session != b.Session {
			return a.Session < b.Session
		}
		return a.Seq < b.Seq
	})
	for _, p := range restored {
		h.addLocked(p.Buyer, p.Domain, p.ID, p.Envelope)
	}
	if len(restored) > 0 {
		s.log.Info().Int("callbacks", len(restored)).Msg("restored undelivered callbacks")
	}
	return h, nil
}

// addLocked queues a callback and reports whether it is new here.
func (h *hub) addLocked(buyer, domain, id string, env *anp.Envelope) bool {
	m, ok := h.pending[buyer]
	if !ok {
		m = make(map[string]*pendingEntry)
		h.pending[buyer] = m
	}
	if _, dup := m[id]; dup {
		return false
	}
	h.order++
	m[id] = &pendingEntry{env: env, domain: domain, order: h.order}
	h.queued[sellerQueueKey(buyer, domain)]++
	return true
}

// reserve holds a place in buyer's queue for one callback from the seller
// domain, or refuses when the buyer's queue (maxPendingPerBuyer) or the
// seller's share of it (MaxCallbacksPerSeller) is full, so that one seller
// cannot fill a buyer's queue and shut the other sellers out. The caller
// witnesses and enqueues the callback, then calls release in any case.
func (h *hub) reserve(buyer, domain string) (release func(), err error) {
	sk := sellerQueueKey(buyer, domain)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.pending[buyer]) + h.held[buyer]; n >= maxPendingPerBuyer {
		return nil, anp.Errorf(anp.CodeUnavailable, "the buyer has %d undelivered callbacks; try again later", n)
	}
	if limit := h.s.cfg.MaxCallbacksPerSeller; h.queued[sk]+h.held[sk] >= limit {
		return nil, anp.Errorf(anp.CodeUnavailable, "%s already has %d undelivered callbacks queued for this buyer, its limit; deliver again once the buyer has taken them", domain, limit)
	}
	h.held[buyer]++
	h.held[sk]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			decrement(h.held, buyer)
			decrement(h.held, sk)
		})
	}, nil
}

// decrement lowers m[k], deleting it at zero so the map does not keep keys.
func decrement(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// enqueue persists a callback from the seller domain for buyer, for which
// reserve holds a place, and pushes it to the buyer's connections.
func (h *hub) enqueue(ctx context.Context, buyer, domain, id string, env *anp.Envelope) error {
	data, err := json.Marshal(pendingRecord{Buyer: buyer, ID: id, Domain: domain, Envelope: env})
	if err != nil {
		return fmt.Errorf("registry: encode pending callback: %w", err)
	}
	if err := h.s.ledger.Put(ctx, bucketPending, pendingKey(buyer, id), data); err != nil {
		return fmt.Errorf("registry: store pending callback: %w", err)
	}
	h.mu.Lock()
	h.addLocked(buyer, domain, id, env)
	h.pushLocked(buyer, nil, true)
	h.mu.Unlock()
	h.s.announce(ctx, msgCallback+pendingKey(buyer, id))
	return nil
}

// ack drops a delivered callback and deletes its record. With replicas
// the record is deleted even when this replica did not know the callback
// (it may have been queued elsewhere a moment ago), and the ACK announced.
func (h *hub) ack(ctx context.Context, buyer, id string) error {
	if !h.drop(buyer, id) && (h.s.shared == nil || !isHex(id, 64)) {
		return nil // a repeated ACK, an ACK for another identity's callback, or no callback id at all
	}
	if err := h.s.ledger.Delete(ctx, bucketPending, pendingKey(buyer, id)); err != nil {
		return fmt.Errorf("registry: delete the delivered callback: %w", err)
	}
	h.s.announce(ctx, msgACK+pendingKey(buyer, id))
	return nil
}

// pushLocked sends buyer's pending callbacks, in enqueue order, to one
// connection (only) or to all its connections. Unless force is set, a
// callback pushed less than one redelivery interval ago is skipped.
func (h *hub) pushLocked(buyer string, only *wsConn, force bool) {
	m := h.pending[buyer]
	if len(m) == 0 {
		return
	}
	targets := h.conns[buyer]
	if only != nil {
		targets = map[*wsConn]struct{}{only: {}}
	}
	if len(targets) == 0 {
		return
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return m[ids[i]].order < m[ids[j]].order })
	now := time.Now()
	for _, id := range ids {
		e := m[id]
		if !force && now.Sub(e.lastSent) < h.s.cfg.RedeliveryInterval {
			continue
		}
		e.lastSent = now
		for c := range targets {
			c.trySend(anp.WSFrame{Type: anp.FrameCallback, ID: id, Envelope: e.env})
		}
	}
}

// redeliver pushes un-ACKed callbacks again and closes connections whose
// token expired; it runs every RedeliveryInterval.
func (h *hub) redeliver(context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(h.s.now())
	for buyer := range h.conns {
		h.pushLocked(buyer, nil, false)
	}
}

// admit counts a socket about to be upgraded against the global caps. A
// socket admitted must be released exactly once.
func (h *hub) admit() error {
	cfg := &h.s.cfg
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return anp.Errorf(anp.CodeUnavailable, "the registry is shutting down")
	case h.open >= cfg.MaxWS:
		return anp.Errorf(anp.CodeUnavailable, "the registry holds its limit of %d WebSockets; try again later", cfg.MaxWS)
	case h.unauth >= cfg.MaxPendingWS:
		return anp.Errorf(anp.CodeUnavailable, "the registry holds its limit of %d WebSockets waiting for AUTH; try again shortly", cfg.MaxPendingWS)
	}
	h.open++
	h.unauth++
	h.wg.Add(1)
	return nil
}

// attach registers an admitted, upgraded connection for close; it fails
// once the hub is closed.
func (h *hub) attach(c *wsConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.all[c] = struct{}{}
	return true
}

// authenticated adds c to its identity's connections, unless the identity
// holds MaxWSPerIdentity already, and sends it AUTH_OK and then every
// pending callback.
func (h *hub) authenticated(c *wsConn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.conns[c.buyer]
	if limit := h.s.cfg.MaxWSPerIdentity; len(m) >= limit {
		return anp.Errorf(anp.CodeRefused, "this identity already has %d WebSockets open, the limit; close one first", limit)
	}
	if !ok {
		m = make(map[*wsConn]struct{})
		h.conns[c.buyer] = m
	}
	m[c] = struct{}{}
	h.unauth--
	c.trySend(anp.WSFrame{Type: anp.FrameAuthOK})
	h.pushLocked(c.buyer, c, true)
	return nil
}

// release forgets an admitted socket; c is nil when the upgrade failed.
func (h *hub) release(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	authed := false
	if c != nil {
		delete(h.all, c)
		if m, ok := h.conns[c.buyer]; ok {
			_, authed = m[c]
			delete(m, c)
			if len(m) == 0 {
				delete(h.conns, c.buyer)
			}
		}
	}
	if !authed {
		h.unauth--
	}
	h.open--
	h.wg.Done()
}

// expireLocked fails every authenticated connection whose token expired:
// authorisation is checked again when the token runs out, and the client
// must reconnect with a new token.
func (h *hub) expireLocked(now time.Time) {
	ms := now.UnixMilli()
	for _, m := range h.conns {
		for c := range m {
			if ms >= c.expires {
				c.failWith(fmt.Sprintf("%s: the token expired at %s; connect again with a new token",
					anp.CodeUnauthorized, time.UnixMilli(c.expires).UTC().Format(time.RFC3339)))
			}
		}
	}
}

// socketCounts reports the open and the unauthenticated sockets.
func (h *hub) socketCounts() (open, unauth int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open, h.unauth
}

// pendingCount reports buyer's undelivered callbacks.
func (h *hub) pendingCount(buyer string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pending[buyer])
}

// close closes every connection and waits for their goroutines.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	conns := make([]*wsConn, 0, len(h.all))
	for c := range h.all {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	h.wg.Wait()
}
