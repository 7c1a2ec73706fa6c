// Package httpbody reads and writes the JSON bodies of the core packages'
// HTTP exchanges (registry, registry client, seller node): bodies are read
// into a buffer their Content-Length reserves, and written once, whole,
// with their Content-Length.
package httpbody

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// MaxPresize bounds the buffer an announced Content-Length reserves before
// any of the bytes arrived: a peer announcing a huge body makes the reader
// reserve no more than this.
const MaxPresize = 16 << 10

// ReadAllSized is io.ReadAll into a buffer that the announced size (the
// Content-Length, -1 when unknown) reserves, up to MaxPresize: a body is
// read without growing the buffer on the way. It reads exactly what r
// holds, whatever was announced; r enforces any size cap.
func ReadAllSized(r io.Reader, announced int64) ([]byte, error) {
	size := 512
	if announced >= 0 {
		size = int(min(announced, MaxPresize)) + 1 // +1: the read that sees EOF needs room
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ReadRequest reads the whole body of r, refusing it (too_large) as soon
// as more than limit bytes arrived, and any failure to read it as a bad
// request.
func ReadRequest(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := ReadAllSized(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, anp.Errorf(anp.CodeTooLarge, "request body is larger than %d bytes", tooBig.Limit)
		}
		return nil, anp.Errorf(anp.CodeBadRequest, "reading request body: %v", err)
	}
	return data, nil
}

// MarshalJSON returns v as JSON followed by a newline: the bytes a
// json.Encoder writes for v.
func MarshalJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Header values every answer or request carries. Header.Set makes a new
// slice for each; these are shared: net/http only reads a header's values,
// and a later Set or Add on the same header replaces the slice instead of
// writing into it (each has no room to grow in place).
var (
	valueJSON    = []string{"application/json"}
	valueNoStore = []string{"no-store"}
	valueNoSniff = []string{"nosniff"}
)

// SetNoStore sets the headers of every answer of the registry and the
// seller: Cache-Control: no-store and X-Content-Type-Options: nosniff.
func SetNoStore(h http.Header) {
	h["Cache-Control"] = valueNoStore
	h["X-Content-Type-Options"] = valueNoSniff
}

// SetJSON sets Content-Type: application/json (and, for a request,
// Accept: application/json).
func SetJSON(h http.Header, accept bool) {
	h["Content-Type"] = valueJSON
	if accept {
		h["Accept"] = valueJSON
	}
}

// serverBufferBytes is the size of net/http's response buffer: a handler
// whose whole body fits it, written without a flush, gets its
// Content-Length from the server; a larger one would be sent chunked.
const serverBufferBytes = 2048

// Write sends data as the whole JSON body of the answer with the given
// status, with its Content-Length (so it is never sent chunked): set here
// for a body above net/http's buffer, by the server for a smaller one. A
// write error means the peer went away: there is nothing left to do.
func Write(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	SetJSON(h, false)
	if len(data) > serverBufferBytes {
		h.Set("Content-Length", strconv.Itoa(len(data)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
