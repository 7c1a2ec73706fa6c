package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger buckets of the directory.
const (
	bucketDomains = "domains"
	bucketRecords = "records"
	bucketStats   = "stats"
)

// directory is the in-memory view of domain bindings, endpoint records and
// per-domain statistics. The Ledger is the source of truth; the directory is
// loaded from it on start and written through on every change.
type directory struct {
	ledger store.Ledger

	mu       sync.RWMutex
	bindings map[string]anp.DomainBinding
	records  map[string]anp.SignedRecord
	stats    map[string]anp.Stats
	keys     domainKeys // key histories (directory_keys.go)

	peers *directoryPeers   // other replicas on the Ledger (directory_shared.go); nil if none
	gen   map[string]uint64 // per domain: changes of the cache, so that a refresh never installs a read older than one
}

func loadDirectory(ctx context.Context, ledger store.Ledger) (*directory, error) {
	d := &directory{
		ledger:   ledger,
		bindings: make(map[string]anp.DomainBinding),
		records:  make(map[string]anp.SignedRecord),
		stats:    make(map[string]anp.Stats),
	}
	if err := loadBucket(ctx, ledger, bucketDomains, d.bindings); err != nil {
		return nil, err
	}
	if err := loadBucket(ctx, ledger, bucketRecords, d.records); err != nil {
		return nil, err
	}
	if err := loadBucket(ctx, ledger, bucketStats, d.stats); err != nil {
		return nil, err
	}
	if err := d.loadKeys(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func loadBucket[T any](ctx context.Context, ledger store.Ledger, bucket string, into map[string]T) error {
	kvs, err := ledger.List(ctx, bucket)
	if err != nil {
		return fmt.Errorf("registry: load %s: %w", bucket, err)
	}
	for _, kv := range kvs {
		var v T
		if err := anp.DecodeStrict(kv.Value, &v); err != nil {
			return fmt.Errorf("registry: load %s/%s: %w", bucket, kv.Key, err)
		}
		into[kv.Key] = v
	}
	return nil
}

// binding returns the binding of domain.
func (d *directory) binding(domain string) (anp.DomainBinding, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	b, ok := d.bindings[domain]
	return b, ok
}

// bind stores b unless the domain is already bound, and returns the binding
// that holds afterwards and whether it is new.
func (d *directory) bind(ctx context.Context, b anp.DomainBinding) (anp.DomainBinding, bool, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return anp.DomainBinding{}, false, fmt.Errorf("registry: encode binding: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.bindings[b.Domain]; ok {
		return old, false, nil
	}
	stored, err := d.ledger.PutIfAbsent(ctx, bucketDomains, b.Domain, data)
	if err != nil {
		return anp.DomainBinding{}, false, fmt.Errorf("registry: store binding of %s: %w", b.Domain, err)
	}
	if !stored { // another registry process sharing the Ledger bound it first
		raw, err := d.ledger.Get(ctx, bucketDomains, b.Domain)
		if err != nil {
			return anp.DomainBinding{}, false, fmt.Errorf("registry: read binding of %s: %w", b.Domain, err)
		}
		var old anp.DomainBinding
		if err := anp.DecodeStrict(raw, &old); err != nil {
			return anp.DomainBinding{}, false, fmt.Errorf("registry: decode binding of %s: %w", b.Domain, err)
		}
		d.bindings[b.Domain] = old
		d.changedLocked(b.Domain)
		return old, false, nil
	}
	d.bindings[b.Domain] = b
	d.changedLocked(b.Domain)
	d.changed(ctx, b.Domain)
	return b, true, nil
}

// record returns the stored record of domain.
func (d *directory) record(domain string) (anp.SignedRecord, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r, ok := d.records[domain]
	return r, ok
}

// putRecord stores rec, which verified with the bound key; callers
// serialise per domain and check Seq first.
func (d *directory) putRecord(ctx context.Context, rec anp.SignedRecord, key string) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("registry: encode record: %w", err)
	}
	if err := d.ledger.Put(ctx, bucketRecords, rec.Record.Domain, data); err != nil {
		return fmt.Errorf("registry: store record of %s: %w", rec.Record.Domain, err)
	}
	d.mu.Lock()
	d.records[rec.Record.Domain] = rec
	d.keys.recordKey[rec.Record.Domain] = key
	d.changedLocked(rec.Record.Domain)
	d.mu.Unlock()
	d.changed(ctx, rec.Record.Domain)
	return nil
}

// listing assembles the listing of domain.
func (d *directory) listing(domain string) (anp.Listing, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.listingLocked(domain)
}

func (d *directory) listingLocked(domain string) (anp.Listing, bool) {
	b, ok := d.bindings[domain]
	if !ok {
		return anp.Listing{}, false
	}
	r, ok := d.records[domain]
	if !ok || !d.keys.usableLocked(domain, b.Key) {
		return anp.Listing{}, false
	}
	return anp.Listing{Binding: b, Record: r, Stats: d.stats[domain]}, true
}

// discover returns the listings that offer category (exact,
// case-insensitive; "" = any) in mode ("" = any), in no order: the server
// ranks them by reputation (scoreListings).
func (d *directory) discover(category string, mode anp.Mode) []anp.Listing {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []anp.Listing
	for domain, rec := range d.records {
		if mode != "" && !rec.Record.Supports(mode) {
			continue
		}
		if category != "" && !hasCategory(rec.Record.Categories, category) {
			continue
		}
		if l, ok := d.listingLocked(domain); ok {
			out = append(out, l)
		}
	}
	return out
}

func hasCategory(cats []string, want string) bool {
	for _, c := range cats {
		if strings.EqualFold(c, want) {
			return true
		}
	}
	return false
}

// bumpStats applies f to the statistics of domain and persists them.
func (d *directory) bumpStats(ctx context.Context, domain string, f func(*anp.Stats)) error {
	if d.peers != nil {
		return d.bumpSharedStats(ctx, domain, f)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.storeStats(ctx, domain, d.stats[domain], f)
	if err != nil {
		return err
	}
	d.stats[domain] = st
	return nil
}

// storeStats applies f to st, the statistics of domain, and stores them.
func (d *directory) storeStats(ctx context.Context, domain string, st anp.Stats, f func(*anp.Stats)) (anp.Stats, error) {
	f(&st)
	st.Score = 0 // the reputation, set when served
	data, err := json.Marshal(st)
	if err != nil {
		return st, fmt.Errorf("registry: encode stats: %w", err)
	}
	if err := d.ledger.Put(ctx, bucketStats, domain, data); err != nil {
		return st, fmt.Errorf("registry: store stats of %s: %w", domain, err)
	}
	return st, nil
}
