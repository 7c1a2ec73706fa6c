// Package readonce remembers, per record, the digest of the stored bytes a
// process wrote itself or already read strictly, so that the same bytes,
// read again, need only a plain decoding: the strict pre-pass costs several
// times a plain decode, and a record is read on every move.
package readonce

import (
	"crypto/sha256"
	"sync"
)

// Digests maps record ids to the SHA-256 of their checked bytes. When it
// holds max ids it starts over. The zero value is not usable; use New.
type Digests struct {
	mu  sync.Mutex
	m   map[string][sha256.Size]byte
	max int
}

// New returns an empty set that holds at most max ids.
func New(max int) *Digests { return &Digests{max: max} }

// Sum is the digest of data.
func Sum(data []byte) [sha256.Size]byte { return sha256.Sum256(data) }

// Has reports whether sum is the digest checked for id.
func (d *Digests) Has(id string, sum [sha256.Size]byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	got, ok := d.m[id]
	return ok && got == sum
}

// Add records sum as the checked digest of id.
func (d *Digests) Add(id string, sum [sha256.Size]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= d.max {
		d.m = make(map[string][sha256.Size]byte)
	}
	d.m[id] = sum
}

// Forget drops id.
func (d *Digests) Forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, id)
}
