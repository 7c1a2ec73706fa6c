package tools

import (
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// SecretFilter keeps the server's secrets out of tool traffic: arguments that
// contain one are refused, and results that would contain one (a seller
// echoing a credential, say) are redacted before they reach the model.
type SecretFilter struct {
	red *secrets.Redactor
}

// NewSecretFilter keeps the given secret values out of tool traffic.
func NewSecretFilter(r *secrets.Redactor) *SecretFilter { return &SecretFilter{red: r} }

func (g *SecretFilter) holdsSecret(s string) bool {
	return g != nil && g.red != nil && g.red.String(s) != s
}

// Redact returns s with every guarded secret replaced.
func (g *SecretFilter) Redact(s string) string {
	if g == nil || g.red == nil {
		return s
	}
	return g.red.String(s)
}

// redactResult scrubs text and structured content of a result.
func (g *SecretFilter) redactResult(r *mcp.CallToolResult) *mcp.CallToolResult {
	if g == nil || g.red == nil || r == nil {
		return r
	}
	for i, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			t.Text = g.red.String(t.Text)
			r.Content[i] = t
		}
	}
	if r.StructuredContent != nil {
		// Content already encoded (structuredResult) is read as it is: the
		// bytes that go out, not an HTML-escaped copy in which a secret
		// holding <, > or & would not be found.
		b, raw := r.StructuredContent.(json.RawMessage)
		if !raw {
			var err error
			if b, err = json.Marshal(r.StructuredContent); err != nil {
				r.StructuredContent = nil // fail closed: what cannot be checked is not sent
				return r
			}
		}
		if clean := g.red.String(string(b)); clean != string(b) {
			var v any
			if json.Unmarshal([]byte(clean), &v) != nil {
				v = nil // redaction broke the JSON (a secret inside a number): send the text only
			}
			r.StructuredContent = v
		}
	}
	return r
}
