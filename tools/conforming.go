package tools

import (
	"crypto/sha256"
	"sync"
)

// conforming remembers, by their SHA-256, the byte strings a schema has
// accepted: the same bytes against the same schema have the same verdict,
// so bytes seen again (get_session polled while a seller thinks, the same
// arguments sent again) are not decoded and validated again. It holds at
// most maxConforming digests; past that it starts over. Only acceptances
// are remembered: a refusal is worked out again each time, with its text.
type conforming struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

// maxConforming bounds what one schema's memory holds.
const maxConforming = 256

// has reports whether the bytes with this digest were accepted before.
func (c *conforming) has(sum [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[sum]
	return ok
}

// add remembers that the bytes with this digest were accepted.
func (c *conforming) add(sum [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= maxConforming {
		c.seen = make(map[[sha256.Size]byte]struct{}, 16)
	}
	c.seen[sum] = struct{}{}
}

// len is how many digests are remembered.
func (c *conforming) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
