// Package sandbox decides a buyer's next move on its own: an Ollama decider
// (a local model with JSON-schema-constrained output) and deterministic
// concession strategies, used as the fallback and as baselines.
//
// Whatever decides, buyer.Guard applies afterwards: offers stay in
// (0, max_budget], never go down, accept happens only at or under budget.
// The Ollama decider applies Guard itself before returning as well, and the
// engine (buyer.Core.Negotiate) applies it again. Seller text reaches a model
// only inside the untrusted-data fence of agentprompt.Render.
//
// Select picks a decider for a server mode ("ollama", "strategy", "auto",
// "off"). The negotiation-quality benchmark lives in sandbox/bench.
package sandbox
