package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// A stored session record is encodeSession's JSON; most of it is the
// envelopes, which never change once witnessed. encodeRecord writes the
// same bytes reusing the encoding of the envelopes the record held when
// last saved, so a save encodes only what is new.

// envelopesNull is where the envelopes go in the encoding of a record
// without them. The bytes cannot occur inside a string of the record's
// earlier fields, where every quote is escaped.
const envelopesNull = `"transcript":{"envelopes":null`

// envelopesSpan locates the envelopes' encodings, joined by commas, in a
// record's bytes: data[start:end], for the first count envelopes.
type envelopesSpan struct{ start, end, count int }

// encodeRecord returns encodeSession(ws) and where its envelopes are.
func encodeRecord(ws *witnessSession) ([]byte, envelopesSpan, error) {
	if ws.Transcript.Envelopes == nil {
		data, err := encodeSession(ws)
		return data, envelopesSpan{}, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(ws.size, 0)+recordSlack))
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	head := *ws
	head.Transcript.Envelopes = nil
	if err := enc.Encode(&head); err != nil {
		return nil, envelopesSpan{}, err
	}
	i := bytes.Index(buf.Bytes(), []byte(envelopesNull))
	if i < 0 {
		return nil, envelopesSpan{}, fmt.Errorf("registry: session %s: no envelopes in the record's encoding", ws.ID)
	}
	cut := i + len(envelopesNull) - len("null")
	tail := bytes.TrimSuffix(bytes.Clone(buf.Bytes()[cut+len("null"):]), []byte{'\n'})
	buf.Truncate(cut)
	buf.WriteByte('[')
	span := envelopesSpan{start: buf.Len(), count: len(ws.Transcript.Envelopes)}
	if err := ws.writeEnvelopes(buf, enc); err != nil {
		return nil, envelopesSpan{}, err
	}
	span.end = buf.Len()
	buf.WriteByte(']')
	buf.Write(tail)
	return buf.Bytes(), span, nil
}

// writeEnvelopes writes the envelopes' encodings, joined by commas, with
// enc, which writes to buf: the known ones as last stored, the others
// encoded now.
func (ws *witnessSession) writeEnvelopes(buf *bytes.Buffer, enc *json.Encoder) error {
	envs := ws.Transcript.Envelopes
	known := 0
	if ws.envs != nil && ws.envsCount <= len(envs) {
		buf.Write(ws.envs)
		known = ws.envsCount
	}
	for i := known; i < len(envs); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(envs[i]); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
	}
	return nil
}

// knowEnvelopes records that data, ws's stored record, holds the
// encodings of its first span.count envelopes at span.
func (ws *witnessSession) knowEnvelopes(data []byte, span envelopesSpan) {
	if span.count == 0 || span.end > len(data) {
		ws.envs, ws.envsCount = nil, 0
		return
	}
	ws.envs, ws.envsCount = data[span.start:span.end:span.end], span.count
}
