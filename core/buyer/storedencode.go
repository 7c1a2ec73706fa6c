package buyer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// This file writes form 2 (storedRecord) without re-encoding the
// transcript on every save: a record is saved several times per move and
// its envelopes, signed and never changed in place, are most of its bytes.
// The bytes are exactly json.Marshal(storedRecordOf(r)): the members before
// the envelopes, the envelopes, and the members after them are each
// encoded as encoding/json encodes them inside the whole.

// encodedEnvelopes memoises, for one record, the JSON of the first
// len(of) envelopes of its transcript: "[" and the envelopes joined by
// commas, without the closing bracket. of holds the envelopes' pointers (its
// own array), so a transcript whose prefix is not those envelopes misses.
// json is a part of the record bytes last encoded (nothing writes to them
// once encoded); both slices are replaced, never appended to in place:
// copies of the record share them. size is the length of the record last
// encoded.
type encodedEnvelopes struct {
	of   []*anp.Envelope
	json []byte
	size int
}

// prefixOf reports whether the memo is of a prefix of envs.
func (m *encodedEnvelopes) prefixOf(envs []*anp.Envelope) bool {
	if len(m.of) == 0 || len(m.of) > len(envs) {
		return false
	}
	for i, e := range m.of {
		if envs[i] != e {
			return false
		}
	}
	return true
}

// write writes the envelopes member of a record with envs (nothing when
// there are none) to out, encoding with enc only the envelopes the memo
// does not hold, and holds the result.
func (m *encodedEnvelopes) write(out *bytes.Buffer, enc *json.Encoder, envs []*anp.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	if !m.prefixOf(envs) {
		m.of, m.json = nil, nil
	}
	out.WriteString(`,"envelopes":`)
	start := out.Len()
	out.Write(m.json)
	for i := len(m.of); i < len(envs); i++ {
		sep := byte(',')
		if i == 0 {
			sep = '['
		}
		out.WriteByte(sep)
		if err := enc.Encode(envs[i]); err != nil {
			return fmt.Errorf("envelope %d: %w", i+1, err)
		}
		out.Truncate(out.Len() - len("\n")) // the newline Encode ends with
	}
	if len(m.of) < len(envs) {
		m.of, m.json = slices.Clone(envs), slices.Clip(out.Bytes()[start:])
	}
	out.WriteByte(']')
	return nil
}

// encodeRecord is the stored form of r (form 2): the bytes of
// json.Marshal(storedRecordOf(r)), with the transcript's encoding memoised
// on r. The members before the envelopes are encoded as the record without
// the others; the few after them are written one by one.
func encodeRecord(r *record) ([]byte, error) {
	sr := storedRecordOf(r)
	envs, tail := sr.Envelopes, *sr
	sr.Envelopes, sr.AcceptSeq, sr.Pending, sr.Outbox, sr.OutboxFailed, sr.CascadeHold = nil, 0, nil, nil, false, false
	m := &r.encoded
	out := bytes.NewBuffer(make([]byte, 0, max(m.size+512, 2048+768*len(envs))))
	enc := json.NewEncoder(out)
	if err := enc.Encode(sr); err != nil {
		return nil, err
	}
	out.Truncate(out.Len() - len("}\n"))
	if err := m.write(out, enc, envs); err != nil {
		return nil, err
	}
	if err := writeTail(out, enc, &tail); err != nil {
		return nil, err
	}
	out.WriteByte('}')
	m.size = out.Len()
	return out.Bytes(), nil
}

// writeTail writes the members of sr after its envelopes as json.Marshal
// writes them (each is omitted when empty).
func writeTail(out *bytes.Buffer, enc *json.Encoder, sr *storedRecord) error {
	if sr.AcceptSeq != 0 {
		out.WriteString(`,"accept_seq":`)
		out.Write(strconv.AppendUint(out.AvailableBuffer(), sr.AcceptSeq, 10))
	}
	for _, member := range [...]struct {
		key   string
		value any
		set   bool
	}{{`,"pending":`, sr.Pending, sr.Pending != nil}, {`,"outbox":`, sr.Outbox, sr.Outbox != nil}} {
		if !member.set {
			continue
		}
		out.WriteString(member.key)
		if err := enc.Encode(member.value); err != nil {
			return fmt.Errorf("%s %w", member.key, err)
		}
		out.Truncate(out.Len() - len("\n"))
	}
	if sr.OutboxFailed {
		out.WriteString(`,"outbox_failed":true`)
	}
	if sr.CascadeHold {
		out.WriteString(`,"cascade_hold":true`)
	}
	return nil
}

// proposeMemo memoises, for one record, the PROPOSE body its transcript's
// first envelope decodes to (transcriptPropose), keyed by that envelope.
// The body is read only: copies of the record share it.
type proposeMemo struct {
	of   *anp.Envelope
	body anp.ProposeBody
	ok   bool
}

// sameAsTranscript reports whether p is the PROPOSE body of envs.
func (m *proposeMemo) sameAsTranscript(envs []*anp.Envelope, p *anp.ProposeBody) bool {
	if len(envs) == 0 {
		return false
	}
	if m.of != envs[0] {
		body, ok := transcriptPropose(envs)
		*m = proposeMemo{of: envs[0], body: body, ok: ok}
	}
	return m.ok && reflect.DeepEqual(&m.body, p)
}
