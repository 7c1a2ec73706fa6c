package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Ledger buckets of key histories and used enrolment grants.
const (
	bucketKeyEvents = "keyevents" // domain "/" seq (20 digits) -> anp.KeyEventEntry
	bucketGrants    = "grants"    // grant id -> usedGrant
)

// usedGrant records the redemption of an enrolment grant.
type usedGrant struct {
	Domain string `json:"domain"`
	UsedAt int64  `json:"used_at"`
}

// domainKeys is the directory's view of every domain's logged key events.
// Its maps are guarded by directory.mu.
type domainKeys struct {
	history map[string][]anp.KeyEventEntry
	state   map[string]anp.KeyState
	// recordKey is the key the stored endpoint record of a domain verified
	// with; a record of a key that is no longer bound is not listed.
	recordKey map[string]string
}

func keyEventKey(domain string, seq uint64) string { return fmt.Sprintf("%s/%020d", domain, seq) }

// loadKeys reads the key histories from the Ledger, replays each domain's
// events into its state, and notes which key each stored record verifies
// with. The bindings and records must be loaded.
func (d *directory) loadKeys(ctx context.Context) error {
	d.keys = domainKeys{history: map[string][]anp.KeyEventEntry{}, state: map[string]anp.KeyState{}, recordKey: map[string]string{}}
	kvs, err := d.ledger.List(ctx, bucketKeyEvents)
	if err != nil {
		return fmt.Errorf("registry: load %s: %w", bucketKeyEvents, err)
	}
	for _, kv := range kvs { // ordered by key: each domain's events in seq order
		var e anp.KeyEventEntry
		if err := anp.DecodeStrict(kv.Value, &e); err != nil {
			return fmt.Errorf("registry: load %s/%s: %w", bucketKeyEvents, kv.Key, err)
		}
		if err := d.keys.add(e); err != nil {
			return fmt.Errorf("registry: load %s/%s: %w", bucketKeyEvents, kv.Key, err)
		}
	}
	for domain, rec := range d.records {
		if b, ok := d.bindings[domain]; ok && rec.Verify(b.Key) == nil {
			d.keys.recordKey[domain] = b.Key
		}
	}
	return nil
}

// add applies e to its domain's state and appends it to the history. An
// event the history already holds at its seq and log index is left as it
// is: a refresh from the Ledger can install an event between this
// replica's write of it and the update of its own cache.
func (k *domainKeys) add(e anp.KeyEventEntry) error {
	domain := e.Leaf.Event.Domain
	if h := k.history[domain]; e.Leaf.Event.Seq < uint64(len(h)) && h[e.Leaf.Event.Seq].LeafIndex == e.LeafIndex {
		return nil
	}
	st, ok := k.state[domain]
	if !ok {
		st = anp.KeyState{Domain: domain}
	}
	if err := st.Apply(&e.Leaf.Event, e.LeafIndex); err != nil {
		return err
	}
	k.state[domain] = st
	k.history[domain] = append(k.history[domain], e)
	return nil
}

// usableLocked reports whether domain's stored record may be listed for
// the bound key: the record verified with that key and the key is not
// revoked. Callers hold directory.mu.
func (k *domainKeys) usableLocked(domain, boundKey string) bool {
	if st, ok := k.state[domain]; ok && st.Revoked {
		return false
	}
	return k.recordKey[domain] == boundKey
}

// keyState returns the key state of domain (the zero state of domain when
// it has no logged event).
func (d *directory) keyState(domain string) anp.KeyState {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if st, ok := d.keys.state[domain]; ok {
		return st
	}
	return anp.KeyState{Domain: domain}
}

// keyHistory returns a copy of domain's logged key events.
func (d *directory) keyHistory(domain string) []anp.KeyEventEntry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]anp.KeyEventEntry(nil), d.keys.history[domain]...)
}

// wasRevoked reports whether key was ever revoked for domain.
func (d *directory) wasRevoked(domain, key string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, e := range d.keys.history[domain] {
		if e.Leaf.Event.Kind == anp.KeyEventRevoke && e.Leaf.Event.Key == key {
			return true
		}
	}
	return false
}

// unlogged returns the bindings that have no key event (bound before key
// events were logged).
func (d *directory) unlogged() []anp.DomainBinding {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []anp.DomainBinding
	for domain, b := range d.bindings {
		if len(d.keys.history[domain]) == 0 {
			out = append(out, b)
		}
	}
	return out
}

// recordKeyEvent stores a logged key event and, when binding is not nil,
// the domain's new binding (a rotation, or a binding after a revocation).
// Callers serialise per domain and have checked that e follows.
func (d *directory) recordKeyEvent(ctx context.Context, e anp.KeyEventEntry, binding *anp.DomainBinding) error {
	ev := &e.Leaf.Event
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("registry: encode key event: %w", err)
	}
	if err := d.ledger.Put(ctx, bucketKeyEvents, keyEventKey(ev.Domain, ev.Seq), data); err != nil {
		return fmt.Errorf("registry: store key event %d of %s (log leaf %d): %w", ev.Seq, ev.Domain, e.LeafIndex, err)
	}
	if binding != nil {
		bd, err := json.Marshal(binding)
		if err != nil {
			return fmt.Errorf("registry: encode binding: %w", err)
		}
		if err := d.ledger.Put(ctx, bucketDomains, binding.Domain, bd); err != nil {
			return fmt.Errorf("registry: store binding of %s: %w", binding.Domain, err)
		}
	}
	d.mu.Lock()
	if binding != nil {
		d.bindings[binding.Domain] = *binding
	}
	err = d.keys.add(e)
	d.changedLocked(ev.Domain)
	d.mu.Unlock()
	d.changed(ctx, ev.Domain)
	return err
}

// claimGrant marks grant id as used for domain and reports whether it was
// unused before.
func (d *directory) claimGrant(ctx context.Context, id, domain string, at int64) (bool, error) {
	data, err := json.Marshal(usedGrant{Domain: domain, UsedAt: at})
	if err != nil {
		return false, err
	}
	ok, err := d.ledger.PutIfAbsent(ctx, bucketGrants, strings.ToLower(id), data)
	if err != nil {
		return false, fmt.Errorf("registry: record the use of an enrolment grant: %w", err)
	}
	return ok, nil
}
