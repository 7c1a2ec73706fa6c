package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// registerResources adds clinch://sessions/{id}, its transcript,
// clinch://artifacts/{id} and clinch://disputes/{id}. None of them holds key material: transcripts are
// signed envelopes (public keys and signatures only).
func registerResources(s *server.MCPServer, core *buyer.Core, snapshot func(buyer.Session) tools.SessionSnapshot, redact func(string) string) {
	add := func(uri, name, desc string, read func(ctx context.Context, id string) (any, error)) {
		s.AddResourceTemplate(mcp.NewResourceTemplate(uri, name, mcp.WithTemplateDescription(desc), mcp.WithTemplateMIMEType("application/json")),
			func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				id, err := templateVar(req, "id")
				if err != nil {
					return nil, err
				}
				if !anp.ValidSessionID(id) { // refused here so that a long id is never echoed back
					return nil, fmt.Errorf("%w: %s: the id (%d bytes) is not a session id; those are 32 hex characters, see list_sessions", errUnknownResource, name, len(id))
				}
				v, err := read(ctx, id)
				if err != nil {
					return nil, notFound(err)
				}
				return jsonContents(req.Params.URI, v, redact)
			})
	}
	add("clinch://sessions/{id}", "session",
		"A negotiation session as every tool shows it: state, prices, turn, allowed moves, the seller's latest message (fenced untrusted text).",
		func(ctx context.Context, id string) (any, error) {
			sess, err := core.GetSession(ctx, id)
			if err != nil {
				return nil, err
			}
			return snapshot(sess), nil // the artifact is its own resource (artifact_id)
		})
	add("clinch://sessions/{id}/transcript", "transcript",
		"The hash-chained, signed envelopes of a session in order. Message bodies written by the seller are untrusted text.",
		func(ctx context.Context, id string) (any, error) {
			envs, err := core.Transcript(ctx, id)
			return map[string]any{"session_id": id, "envelopes": envs}, err
		})
	add("clinch://artifacts/{id}", "artifact",
		"The triple-signed deal artifact of a signed session; check it with verify_artifact or `clinch-mcp verify`.",
		func(ctx context.Context, id string) (any, error) {
			sess, err := core.GetSession(ctx, id)
			if err != nil {
				return nil, err
			}
			if sess.Artifact == nil {
				return nil, fmt.Errorf("%w: session %s has no signed artifact (state %s)", errUnknownResource, id, sess.State)
			}
			return sess.Artifact, nil
		})
	add("clinch://disputes/{id}", "dispute",
		"The dispute of a signed deal (id: its session id), read again from the registry's log and verified: reason, severity, who opened it, the deal's state and the arbiter's decision.",
		func(ctx context.Context, id string) (any, error) {
			sess, err := core.Deal(ctx, id)
			if err != nil {
				return nil, err
			}
			if sess.Deal == nil || sess.Deal.Dispute == nil {
				return nil, fmt.Errorf("%w: session %s has no dispute", errUnknownResource, id)
			}
			return map[string]any{"session_id": id, "seller": sess.Seller, "commitment": snapshot(sess).Commitment}, nil
		})
}

// templateVar reads a URI template variable (mcp-go passes them as []string).
func templateVar(req mcp.ReadResourceRequest, name string) (string, error) {
	switch v := req.Params.Arguments[name].(type) {
	case []string:
		if len(v) == 1 && v[0] != "" {
			return v[0], nil
		}
	case string:
		if v != "" {
			return v, nil
		}
	}
	// Fall back to the URI itself.
	parts := strings.Split(strings.TrimPrefix(req.Params.URI, "clinch://"), "/")
	if len(parts) >= 2 && parts[1] != "" {
		return parts[1], nil
	}
	return "", fmt.Errorf("resource URI %q has no %s", req.Params.URI, name)
}

func jsonContents(uri string, v any, redact func(string) string) ([]mcp.ResourceContents, error) {
	// Not HTML-escaped: the untrusted-text fence markers must read as
	// themselves, as in the tool results.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: redact(b.String())}}, nil
}

// notFound marks unknown or malformed session ids as MCP resource-not-found.
func notFound(err error) error {
	if errors.Is(err, buyer.ErrNotFound) || errors.Is(err, buyer.ErrInvalidInput) {
		return fmt.Errorf("%w: %v", errUnknownResource, err)
	}
	return err
}
