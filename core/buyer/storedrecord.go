package buyer

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
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
	sum := readonce.Sum(sr.Data)
	if c.checked.Has(sr.ID, sum) {
		if err := json.Unmarshal(sr.Data, &r); err != nil {
			return nil, fmt.Errorf("buyer: session %s: %w", sr.ID, err)
		}
	} else {
		if err := anp.DecodeStrict(sr.Data, &r); err != nil {
			return nil, fmt.Errorf("buyer: session %s: %w: %w", sr.ID, ErrCorruptRecord, err)
		}
		c.checked.Add(sr.ID, sum)
	}
	r.Session.Version = sr.Version
	r.sigs = c.sigs
	return &r, nil
}

// maxCheckedRecords bounds Core.checked; past it the memory starts over.
const maxCheckedRecords = 1 << 16
