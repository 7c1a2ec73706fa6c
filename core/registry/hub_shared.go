package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Callbacks across replicas. A callback is queued in the Ledger by the
// replica that witnessed it and announced; every replica adds it to its
// queue and pushes it to the buyer's WebSockets it holds. An ACK on any
// replica deletes the record and is announced, and every replica drops
// the callback. A replica reads a buyer's queue from the Ledger when the
// buyer authenticates, and every queue when its subscription (re)starts.

// decodePending decodes a stored callback; ok is false for a tombstone.
func decodePending(key string, raw []byte) (pendingRecord, bool, error) {
	var p pendingRecord
	if err := anp.DecodeStrict(raw, &p); err != nil {
		return p, false, fmt.Errorf("registry: decode pending callback %s: %w", key, err)
	}
	return p, !p.Acked && p.Envelope != nil, nil
}

// fetch adds the callback stored under key (buyer/id) and pushes it, unless
// it is already queued here or was ACKed since.
func (h *hub) fetch(ctx context.Context, key string) error {
	raw, err := h.s.ledger.Get(ctx, bucketPending, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: read pending callback %s: %w", key, err)
	}
	p, ok, err := decodePending(key, raw)
	if err != nil || !ok {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.addLocked(p.Buyer, p.Domain, p.ID, p.Envelope) {
		h.pushLocked(p.Buyer, nil, true)
	}
	return nil
}

// drop forgets a callback ACKed (here or on another replica) and reports
// whether it was queued here.
func (h *hub) drop(buyer, id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.pending[buyer][id]
	if !ok {
		return false
	}
	delete(h.pending[buyer], id)
	if len(h.pending[buyer]) == 0 {
		delete(h.pending, buyer)
	}
	decrement(h.queued, sellerQueueKey(buyer, e.domain))
	return true
}

// stored reads the undelivered callbacks of the Ledger; buyer "" reads
// every buyer's.
func (h *hub) stored(ctx context.Context, buyer string) ([]pendingRecord, error) {
	prefix := ""
	if buyer != "" {
		prefix = pendingKey(buyer, "")
	}
	kvs, err := h.s.ledger.ListPrefix(ctx, bucketPending, prefix)
	if err != nil {
		return nil, fmt.Errorf("registry: list pending callbacks: %w", err)
	}
	var out []pendingRecord
	for _, kv := range kvs {
		p, ok, err := decodePending(kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// syncBuyer adds buyer's callbacks stored by other replicas (before its
// WebSocket authenticates here).
func (h *hub) syncBuyer(ctx context.Context, buyer string) error {
	if h.s.shared == nil {
		return nil
	}
	ps, err := h.stored(ctx, buyer)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range ps {
		h.addLocked(p.Buyer, p.Domain, p.ID, p.Envelope)
	}
	return nil
}

// syncAll makes the queues those of the Ledger: callbacks announced while
// the subscription was down are added, those ACKed elsewhere dropped.
func (h *hub) syncAll(ctx context.Context) error {
	ps, err := h.stored(ctx, "")
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(ps))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range ps {
		keep[pendingKey(p.Buyer, p.ID)] = true
		if h.addLocked(p.Buyer, p.Domain, p.ID, p.Envelope) {
			h.pushLocked(p.Buyer, nil, true)
		}
	}
	for buyer, m := range h.pending {
		for id, e := range m {
			if !keep[pendingKey(buyer, id)] {
				delete(m, id)
				decrement(h.queued, sellerQueueKey(buyer, e.domain))
			}
		}
		if len(m) == 0 {
			delete(h.pending, buyer)
		}
	}
	return nil
}
