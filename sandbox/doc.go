// Package sandbox decides a buyer's next move with a local model: an Ollama
// decider (JSON-schema-constrained output, a strict reply parser, one retry)
// that hands the move to a deterministic concession decider (package
// concession) when the model fails, plus the Ollama host resolution and
// availability check.
//
// Whatever decides, buyer.Guard applies afterwards: offers stay in
// (0, max_budget], never go down, accept happens only at or under budget.
// The Ollama decider applies Guard itself before returning as well, and the
// engine (buyer.Core.Negotiate) applies it again with the turn limit, and
// keeps the budget out of every message it sends. Seller text reaches a
// model only inside the untrusted-data fence of agentprompt.Render.
//
// Select picks a decider for a server mode ("ollama", "strategy", "auto",
// "off"). The negotiation-quality benchmark lives in sandbox/bench.
package sandbox
