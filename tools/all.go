package tools

import "github.com/mark3labs/mcp-go/server"

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
		s.AddTool(t.Def, t.Handler)
	}
}
