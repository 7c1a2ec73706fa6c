package buyer

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// ErrCorruptRecord is the failure of a stored session record that does not
// decode in its one reading: a duplicate key, a key that is not exactly the
// field's name, an unknown member, an integer out of range or malformed
// JSON (anp.DecodeStrict; errors.Is also finds the named anp failure). A
// record holds signed envelopes and the pinned seller key, so a store that
// was written to behind the engine's back is refused, not read leniently.
// An imported session whose transcript does not bind its artifact fails
// with it too.
var ErrCorruptRecord = errors.New("stored session record does not decode strictly")

// decodeRecord decodes a stored session record strictly. Bytes this engine
// wrote or already read strictly (the same session, the same SHA-256) are
// not scanned again: the strict pre-pass costs several times a plain decode
// and a session is read on every move, while identical bytes have one
// reading.
func (c *Core) decodeRecord(sr store.SessionRecord) (*record, error) {
	var r record
	sum := sha256.Sum256(sr.Data)
	if c.checked.has(sr.ID, sum) {
		if err := json.Unmarshal(sr.Data, &r); err != nil {
			return nil, fmt.Errorf("buyer: session %s: %w", sr.ID, err)
		}
	} else {
		if err := anp.DecodeStrict(sr.Data, &r); err != nil {
			return nil, fmt.Errorf("buyer: session %s: %w: %w", sr.ID, ErrCorruptRecord, err)
		}
		c.checked.add(sr.ID, sum)
	}
	r.Session.Version = sr.Version
	r.sigs = c.sigs
	return &r, nil
}

// maxCheckedRecords bounds checkedRecords; past it the memory starts over.
const maxCheckedRecords = 1 << 16

// checkedRecords remembers, per session, the digest of the record bytes
// that last passed strict decoding or that this engine saved.
type checkedRecords struct {
	mu sync.Mutex
	m  map[string][sha256.Size]byte
}

func (cr *checkedRecords) has(id string, sum [sha256.Size]byte) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	got, ok := cr.m[id]
	return ok && got == sum
}

func (cr *checkedRecords) add(id string, sum [sha256.Size]byte) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.m == nil || len(cr.m) >= maxCheckedRecords {
		cr.m = make(map[string][sha256.Size]byte)
	}
	cr.m[id] = sum
}
