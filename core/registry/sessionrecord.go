package registry

import (
	"bytes"
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
	head := *ws
	head.Transcript.Envelopes = nil
	h, err := encodeSession(&head)
	if err != nil {
		return nil, envelopesSpan{}, err
	}
	i := bytes.Index(h, []byte(envelopesNull))
	if i < 0 {
		return nil, envelopesSpan{}, fmt.Errorf("registry: session %s: no envelopes in the record's encoding", ws.ID)
	}
	cut := i + len(envelopesNull) - len("null")
	out := make([]byte, 0, len(h)+len(ws.envs)+1024)
	out = append(append(out, h[:cut]...), '[')
	span := envelopesSpan{start: len(out), count: len(ws.Transcript.Envelopes)}
	if out, err = ws.appendEnvelopes(out); err != nil {
		return nil, envelopesSpan{}, err
	}
	span.end = len(out)
	out = append(append(out, ']'), h[cut+len("null"):]...)
	return out, span, nil
}

// appendEnvelopes appends the envelopes' encodings, joined by commas: the
// known ones as last stored, the others encoded now.
func (ws *witnessSession) appendEnvelopes(out []byte) ([]byte, error) {
	envs := ws.Transcript.Envelopes
	known := 0
	if ws.envs != nil && ws.envsCount <= len(envs) {
		out, known = append(out, ws.envs...), ws.envsCount
	}
	for i := known; i < len(envs); i++ {
		e, err := encodeCompact(envs[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e...)
	}
	return out, nil
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
