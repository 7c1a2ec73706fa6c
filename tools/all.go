package tools

import (
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// All returns every tool, in the order they are listed.
func All(d *Deps) []Tool {
	return []Tool{
		discoverSellers(d),
		proposeDeal(d),
		counter(d),
		askSeller(d),
		getSession(d),
		listSessions(d),
		approveAndSign(d),
		cancelSession(d),
		cascade(d),
		verifyArtifact(d),
		openDecision(d),
		castVote(d),
		getDecision(d),
		confirmDelivery(d),
		openDispute(d),
		getReputation(d),
	}
}

// Register adds every tool to s.
func Register(s *server.MCPServer, d *Deps) {
	for _, t := range All(d) {
		s.AddTool(withRawOutputSchema(t.Def), t.Handler)
	}
}

// withRawOutputSchema returns def with its output schema encoded once, as
// RawOutputSchema: the same bytes in tools/list, and the server's output
// validation (WithOutputSchemaValidation) no longer encodes the schema
// again on every call.
func withRawOutputSchema(def mcp.Tool) mcp.Tool {
	if def.OutputSchema.Type == "" {
		return def
	}
	raw, err := json.Marshal(def.OutputSchema)
	if err != nil {
		return def
	}
	def.RawOutputSchema = raw
	def.OutputSchema = mcp.ToolOutputSchema{}
	return def
}
