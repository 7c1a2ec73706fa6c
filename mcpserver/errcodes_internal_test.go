package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/prompts"
)

// requestError stands in for mcp-go's: it wraps the handler's error.
type requestError struct{ err error }

func (e requestError) Error() string { return "request error: " + e.err.Error() }
func (e requestError) Unwrap() error { return e.err }

func errorLine(id int, code int, msg string) []byte {
	b, _ := json.Marshal(mcp.JSONRPCError{JSONRPC: "2.0", ID: mcp.NewRequestId(id), Error: mcp.NewJSONRPCErrorDetails(code, msg, nil)})
	return append(b, '\n')
}

func TestCodeFixesRewrite(t *testing.T) {
	msg := `resource not found: session "x<y>": unknown session` // quotes and HTML characters are escaped in JSON
	handlerErr := fmt.Errorf("%w: session \"x<y>\": unknown session", errUnknownResource)
	if handlerErr.Error() != msg {
		t.Fatal(handlerErr)
	}
	for _, tc := range []struct {
		name   string
		method mcp.MCPMethod
		err    error
		line   []byte
		want   int
	}{
		{"marked resource error", mcp.MethodResourcesRead, handlerErr, errorLine(7, mcp.INTERNAL_ERROR, msg), mcp.RESOURCE_NOT_FOUND},
		{"marked prompt error", mcp.MethodPromptsGet, fmt.Errorf("p: %w: x", prompts.ErrInvalidArgument), errorLine(8, mcp.INTERNAL_ERROR, "p: invalid argument: x"), mcp.INVALID_PARAMS},
		{"unmarked error stays internal", mcp.MethodResourcesRead, errors.New(msg + "!"), errorLine(9, mcp.INTERNAL_ERROR, msg+"!"), mcp.INTERNAL_ERROR},
		{"marker on the wrong method stays internal", mcp.MethodToolsCall, handlerErr, errorLine(10, mcp.INTERNAL_ERROR, msg), mcp.INTERNAL_ERROR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCodeFixes()
			f.hook(context.Background(), 1, tc.method, nil, requestError{tc.err})
			orig := string(tc.line)
			out, _ := f.rewrite(tc.line)
			if string(tc.line) != orig {
				t.Fatal("rewrite modified the caller's slice")
			}
			var m struct{ Error struct{ Code int } }
			if err := json.Unmarshal(out, &m); err != nil || len(out) != len(tc.line) {
				t.Fatalf("rewrite broke the message: %s (%v)", out, err)
			}
			if m.Error.Code != tc.want {
				t.Fatalf("code %d, want %d: %s", m.Error.Code, tc.want, out)
			}
			// A correction is used once: a second identical response is not
			// corrected unless it was recorded again.
			if again, _ := f.rewrite(tc.line); tc.want != mcp.INTERNAL_ERROR && string(again) != orig {
				t.Fatal("a correction was applied twice")
			}
		})
	}
}

// TestCodeFixingWriterStatus: for a modern (2026-07-28) request the JSON
// response's HTTP status follows the corrected code (400), while a response
// that needs no correction keeps mcp-go's status.
func TestCodeFixingWriterStatus(t *testing.T) {
	f := newCodeFixes()
	ctx := server.WithRequestProtocolInfo(context.Background(), &server.RequestProtocolInfo{ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, Modern: true})
	f.hook(ctx, 1, mcp.MethodResourcesRead, nil, requestError{fmt.Errorf("%w: gone", errUnknownResource)})
	for _, tc := range []struct {
		body   []byte
		status int
		code   int
	}{
		{errorLine(1, mcp.INTERNAL_ERROR, "resource not found: gone"), http.StatusBadRequest, mcp.INVALID_PARAMS},
		{errorLine(2, mcp.INTERNAL_ERROR, "something else broke"), http.StatusOK, mcp.INTERNAL_ERROR},
	} {
		rec := httptest.NewRecorder()
		h := fixCodes(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(tc.body)
		}), f)
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", nil))
		var m struct{ Error struct{ Code int } }
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		if rec.Code != tc.status || m.Error.Code != tc.code {
			t.Errorf("status %d code %d, want %d and %d: %s", rec.Code, m.Error.Code, tc.status, tc.code, rec.Body)
		}
	}
}
