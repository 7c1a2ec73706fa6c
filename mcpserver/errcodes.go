package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/prompts"
)

// mcp-go answers every error a prompt or resource handler returns with
// -32603 (internal error), but the spec wants -32602 (invalid params) for bad
// prompt arguments and resource-not-found for an unknown resource inside a
// matched template: -32002 up to protocol 2025-11-25, -32602 from 2026-07-28
// on (SEP-2164), as mcp-go itself answers for a URI no template matches.
//
// So our handlers mark those errors (prompts.ErrInvalidArgument,
// errUnknownResource), an OnError hook records the code each one's response
// must carry, keyed by the response's exact message, and the transports'
// writers (stdio, Streamable HTTP, SSE) change "-32603" to that code in the
// one response carrying the message. Every code involved has six
// characters, so a response's length, and its Content-Length, stay valid.

// errUnknownResource marks a resource read for a session or artifact that
// does not exist.
var errUnknownResource = errors.New("resource not found")

// internalCode is what mcp-go writes for a handler error.
var internalCode = []byte(`"code":` + strconv.Itoa(mcp.INTERNAL_ERROR) + `,"message":`)

// maxPendingCodes bounds the recorded corrections: a response that never
// reaches one of our writers (an in-process client, a client gone before
// the answer) leaves its entry behind.
const maxPendingCodes = 1024

// codeFix is the correction for one response.
type codeFix struct {
	code   int // JSON-RPC error code to write instead of -32603
	status int // HTTP status for a JSON response, 0 to keep mcp-go's
	n      int // responses waiting for it
}

// codeFixes are the recorded corrections, by the JSON encoding of the
// error message.
type codeFixes struct {
	mu      sync.Mutex
	pending map[string]*codeFix
}

func newCodeFixes() *codeFixes { return &codeFixes{pending: map[string]*codeFix{}} }

// hook records the correction for a failed prompts/get or resources/read.
func (c *codeFixes) hook(ctx context.Context, _ any, method mcp.MCPMethod, _ any, err error) {
	inner := errors.Unwrap(err) // mcp-go's request error wraps the handler's error, whose text is the message
	if inner == nil {
		return
	}
	fix := codeFix{}
	modern := mcp.IsModernProtocol(server.RequestProtocolVersion(ctx))
	switch {
	case method == mcp.MethodPromptsGet && errors.Is(inner, prompts.ErrInvalidArgument):
		fix.code = mcp.INVALID_PARAMS
	case method == mcp.MethodResourcesRead && errors.Is(inner, errUnknownResource):
		fix.code = mcp.RESOURCE_NOT_FOUND
		if modern {
			fix.code = mcp.INVALID_PARAMS
		}
	default:
		return
	}
	if modern { // 2026-07-28 maps error codes onto HTTP statuses
		fix.status = http.StatusBadRequest
	}
	key, _ := json.Marshal(inner.Error())
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) >= maxPendingCodes {
		clear(c.pending)
	}
	if f, ok := c.pending[string(key)]; ok && f.code == fix.code && f.status == fix.status {
		f.n++
		return
	}
	fix.n = 1
	c.pending[string(key)] = &fix
}

// rewrite returns p (one JSON-RPC message, or SSE events carrying them)
// with the code of every recorded error response corrected, copying p only
// when it changes anything, and the HTTP status the last correction asks
// for (0: none).
func (c *codeFixes) rewrite(p []byte) ([]byte, int) {
	if !bytes.Contains(p, internalCode) {
		return p, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out, status := p, 0
	for at := 0; ; {
		i := bytes.Index(p[at:], internalCode)
		if i < 0 {
			return out, status
		}
		i += at
		msgStart := i + len(internalCode)
		at = msgStart
		msgEnd := endOfJSONString(p, msgStart)
		if msgEnd < 0 {
			continue
		}
		msg := string(p[msgStart:msgEnd])
		f, ok := c.pending[msg]
		if !ok {
			continue
		}
		if &out[0] == &p[0] {
			out = bytes.Clone(p) // a Writer must not modify the caller's slice
		}
		codeAt := i + len(`"code":`)
		copy(out[codeAt:codeAt+6], strconv.Itoa(f.code))
		if f.status != 0 {
			status = f.status
		}
		if f.n--; f.n == 0 {
			delete(c.pending, msg)
		}
		at = msgEnd
	}
}

// endOfJSONString returns the index after the JSON string literal starting
// at p[i], or -1.
func endOfJSONString(p []byte, i int) int {
	if i >= len(p) || p[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// codeFixingWriter applies codeFixes to an HTTP response. A JSON response's
// status is held back until its body is seen, so that a corrected error gets
// the status its new code maps to.
type codeFixingWriter struct {
	http.ResponseWriter
	fixes      *codeFixes
	heldStatus int
	wroteHead  bool
}

func (w *codeFixingWriter) WriteHeader(status int) {
	if w.wroteHead || w.heldStatus != 0 {
		return
	}
	if status == http.StatusOK && w.Header().Get("Content-Type") == "application/json" {
		w.heldStatus = status
		return
	}
	w.wroteHead = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *codeFixingWriter) Write(p []byte) (int, error) {
	out, status := w.fixes.rewrite(p)
	if !w.wroteHead {
		if w.heldStatus != 0 {
			if status == 0 {
				status = w.heldStatus
			}
			w.ResponseWriter.WriteHeader(status)
		}
		w.wroteHead = true
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush sends a held status first; mcp-go streams (SSE) through it.
func (w *codeFixingWriter) Flush() {
	if !w.wroteHead && w.heldStatus != 0 {
		w.ResponseWriter.WriteHeader(w.heldStatus)
	}
	w.wroteHead = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (write deadlines).
func (w *codeFixingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fixCodes wraps an HTTP handler's responses with codeFixes.
func fixCodes(next http.Handler, fixes *codeFixes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&codeFixingWriter{ResponseWriter: w, fixes: fixes}, r)
	})
}
