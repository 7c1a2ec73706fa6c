package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/keyedlock"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// directoryPeers is how a directory shared by replicas locks a domain's
// statistics and announces its changes; nil for the only registry process.
type directoryPeers struct {
	lock     func(ctx context.Context, name string) (func(), error)
	announce func(ctx context.Context, msg string)
}

// directoryPeers returns the directory's link to the other replicas, or
// nil without them.
func (s *Server) directoryPeers() *directoryPeers {
	if s.shared == nil {
		return nil
	}
	var stats keyedlock.Map
	return &directoryPeers{
		lock: func(ctx context.Context, domain string) (func(), error) {
			return s.lockNamed(ctx, &stats, domain, "stats/"+domain)
		},
		announce: s.announce,
	}
}

// changedLocked counts a change of domain's cached entries. Callers hold
// d.mu.
func (d *directory) changedLocked(domain string) {
	if d.gen == nil {
		d.gen = make(map[string]uint64)
	}
	d.gen[domain]++
}

// generation returns the count of domain's cache changes.
func (d *directory) generation(domain string) uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.gen[domain]
}

// changed announces a change of domain's entries to the other replicas.
func (d *directory) changed(ctx context.Context, domain string) {
	if d.peers != nil {
		d.peers.announce(ctx, msgDomain+domain)
	}
}

// getJSON reads and strictly decodes bucket/key; ok is false when the key
// is not stored.
func getJSON[T any](ctx context.Context, ledger store.Ledger, bucket, key string) (T, bool, error) {
	var v T
	raw, err := ledger.Get(ctx, bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("registry: read %s/%s: %w", bucket, key, err)
	}
	if err := anp.DecodeStrict(raw, &v); err != nil {
		return v, false, fmt.Errorf("registry: decode %s/%s: %w", bucket, key, err)
	}
	return v, true, nil
}

// domainEntries is one domain's directory entries as stored.
type domainEntries struct {
	binding         anp.DomainBinding
	record          anp.SignedRecord
	stats           anp.Stats
	bound, recorded bool
	statsStored     bool
	keys            domainKeys
}

// readDomain reads domain's entries from the Ledger.
func (d *directory) readDomain(ctx context.Context, domain string) (*domainEntries, error) {
	var e domainEntries
	var err error
	if e.binding, e.bound, err = getJSON[anp.DomainBinding](ctx, d.ledger, bucketDomains, domain); err != nil {
		return nil, err
	}
	if e.record, e.recorded, err = getJSON[anp.SignedRecord](ctx, d.ledger, bucketRecords, domain); err != nil {
		return nil, err
	}
	if e.stats, e.statsStored, err = getJSON[anp.Stats](ctx, d.ledger, bucketStats, domain); err != nil {
		return nil, err
	}
	e.keys = domainKeys{history: map[string][]anp.KeyEventEntry{}, state: map[string]anp.KeyState{}, recordKey: map[string]string{}}
	kvs, err := d.ledger.ListPrefix(ctx, bucketKeyEvents, domain+"/") // that domain's events, not every domain's
	if err != nil {
		return nil, fmt.Errorf("registry: read %s of %s: %w", bucketKeyEvents, domain, err)
	}
	for _, kv := range kvs { // ordered by key: seq order
		var ev anp.KeyEventEntry
		if err := anp.DecodeStrict(kv.Value, &ev); err != nil {
			return nil, fmt.Errorf("registry: decode %s/%s: %w", bucketKeyEvents, kv.Key, err)
		}
		if err := e.keys.add(ev); err != nil {
			return nil, fmt.Errorf("registry: replay %s/%s: %w", bucketKeyEvents, kv.Key, err)
		}
	}
	return &e, nil
}

// refreshDomain replaces the cached entries of domain by the Ledger's. A
// read that the cache changed during (a write here, or another refresh)
// may be older than the cache: it is read again.
func (d *directory) refreshDomain(ctx context.Context, domain string) error {
	for {
		before := d.generation(domain)
		e, err := d.readDomain(ctx, domain)
		if err != nil {
			return err
		}
		if d.install(domain, e, before) {
			return nil
		}
	}
}

// install puts e in the cache unless the cache of domain changed since
// generation before, and reports whether it did.
func (d *directory) install(domain string, e *domainEntries, before uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen[domain] != before {
		return false
	}
	d.changedLocked(domain)
	setOrDelete(d.bindings, domain, e.binding, e.bound)
	setOrDelete(d.records, domain, e.record, e.recorded)
	setOrDelete(d.stats, domain, e.stats, e.statsStored)
	setOrDelete(d.keys.history, domain, e.keys.history[domain], len(e.keys.history[domain]) > 0)
	st, ok := e.keys.state[domain]
	setOrDelete(d.keys.state, domain, st, ok)
	verified := e.bound && e.recorded && e.record.Verify(e.binding.Key) == nil
	setOrDelete(d.keys.recordKey, domain, e.binding.Key, verified)
	return true
}

func setOrDelete[T any](m map[string]T, key string, v T, set bool) {
	if set {
		m[key] = v
		return
	}
	delete(m, key)
}

// reloadAll replaces the whole cache by the Ledger's directory, except the
// domains whose cache changed during the read: their entries are as new.
func (d *directory) reloadAll(ctx context.Context) error {
	d.mu.RLock()
	before := maps.Clone(d.gen)
	d.mu.RUnlock()
	fresh, err := loadDirectory(ctx, d.ledger)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for domain, g := range d.gen {
		if before[domain] == g {
			continue
		}
		setOrDelete(fresh.bindings, domain, d.bindings[domain], hasKey(d.bindings, domain))
		setOrDelete(fresh.records, domain, d.records[domain], hasKey(d.records, domain))
		setOrDelete(fresh.stats, domain, d.stats[domain], hasKey(d.stats, domain))
		setOrDelete(fresh.keys.history, domain, d.keys.history[domain], hasKey(d.keys.history, domain))
		setOrDelete(fresh.keys.state, domain, d.keys.state[domain], hasKey(d.keys.state, domain))
		setOrDelete(fresh.keys.recordKey, domain, d.keys.recordKey[domain], hasKey(d.keys.recordKey, domain))
	}
	d.bindings, d.records, d.stats, d.keys = fresh.bindings, fresh.records, fresh.stats, fresh.keys
	return nil
}

func hasKey[T any](m map[string]T, k string) bool {
	_, ok := m[k]
	return ok
}

// bumpSharedStats is bumpStats across replicas: the statistics are read
// from the Ledger under a lease, so that no replica's increment is lost.
func (d *directory) bumpSharedStats(ctx context.Context, domain string, f func(*anp.Stats)) error {
	unlock, err := d.peers.lock(ctx, domain)
	if err != nil {
		return err
	}
	defer unlock()
	st, _, err := getJSON[anp.Stats](ctx, d.ledger, bucketStats, domain)
	if err != nil {
		return err
	}
	if st, err = d.storeStats(ctx, domain, st, f); err != nil {
		return err
	}
	d.mu.Lock()
	d.stats[domain] = st
	d.changedLocked(domain)
	d.mu.Unlock()
	d.peers.announce(ctx, msgStats+domain)
	return nil
}

// refreshStats replaces the cached statistics of domain by the Ledger's
// (another replica counted a session or a deal), unless the cache of the
// domain changed during the read: that change is as new.
func (d *directory) refreshStats(ctx context.Context, domain string) error {
	before := d.generation(domain)
	st, ok, err := getJSON[anp.Stats](ctx, d.ledger, bucketStats, domain)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen[domain] == before {
		setOrDelete(d.stats, domain, st, ok)
		d.changedLocked(domain)
	}
	return nil
}
