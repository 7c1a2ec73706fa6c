package registry

import (
	"crypto/sha256"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// maxDecodedSessions bounds decodedSessions: enough for the sessions in
// the middle of an exchange (a session is read again moments after this
// registry wrote it), small enough that idle sessions cost it nothing.
const maxDecodedSessions = 8

// decodedSessions remembers the decoded form of the stored record of a few
// sessions, each under the SHA-256 of the exact bytes it was decoded from
// or encoded to, so that reading those bytes again skips their decoding. A
// record with other bytes (written by another replica sharing the store,
// or changed in any way) misses. It holds at most max records, dropping
// the oldest first; it is safe for concurrent use. Every session it hands
// out is a copy the caller may change.
type decodedSessions struct {
	mu      sync.Mutex
	max     int
	entries map[string]decodedSession
	order   []string // ids, oldest first
}

// decodedSession is a session, the digest of its stored bytes and, when
// known, where the bytes hold its envelopes.
type decodedSession struct {
	sum  [sha256.Size]byte
	ws   *witnessSession
	span envelopesSpan
}

func newDecodedSessions(max int) *decodedSessions {
	return &decodedSessions{max: max, entries: make(map[string]decodedSession, max)}
}

// get returns a copy of the session decoded from the bytes with digest sum
// for id, and where those bytes hold its envelopes, if it is remembered.
func (c *decodedSessions) get(id string, sum [sha256.Size]byte) (*witnessSession, envelopesSpan, bool) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || e.sum != sum {
		return nil, envelopesSpan{}, false
	}
	return e.ws.clone(), e.span, true
}

// put remembers a copy of ws as the decoding of the bytes with digest sum
// stored for id, which hold its envelopes at span (zero: not known).
func (c *decodedSessions) put(id string, sum [sha256.Size]byte, ws *witnessSession, span envelopesSpan) {
	e := decodedSession{sum: sum, ws: ws.clone(), span: span}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.entries[id]; !known {
		if len(c.order) >= c.max {
			delete(c.entries, c.order[0])
			c.order = append(c.order[:0], c.order[1:]...)
		}
		c.order = append(c.order, id)
	}
	c.entries[id] = e
}

// forget drops id.
func (c *decodedSessions) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.entries[id]; !known {
		return
	}
	delete(c.entries, id)
	for i, o := range c.order {
		if o == id {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// clone returns a copy of ws that shares nothing a caller changes: the
// envelopes are copied (their bodies, which are replaced and never written
// in place, are shared). The copy does not hold on to ws's stored bytes.
func (ws *witnessSession) clone() *witnessSession {
	c := *ws
	c.envs, c.envsCount = nil, 0
	if ws.Transcript.Envelopes == nil {
		return &c
	}
	envs := make([]anp.Envelope, len(ws.Transcript.Envelopes))
	c.Transcript.Envelopes = make([]*anp.Envelope, len(envs))
	for i, e := range ws.Transcript.Envelopes {
		envs[i] = *e
		c.Transcript.Envelopes[i] = &envs[i]
	}
	return &c
}
