// Package reputation computes the reputation of the parties of the
// transparency log from the log's entries alone, so that anyone who reads
// the log can recompute every figure the registry serves.
//
// The computation has two steps. Leaf decoding (FactsFromLeaf, or a
// Replayer, which also replays each deal event through its deal's
// lifecycle rules) turns one log entry into typed facts: a deal signed, a
// delivery made, a receipt, a breach, a dispute opened or resolved. The formula (Book, Compute) turns
// the facts of a log, in log order, and a point in time into scores, each
// with the evidence behind it. Both are pure: no clock, no network, no
// storage. The formula is versioned (FormulaVersion) and written down in
// docs/reputation.md, completely enough for a second implementation.
package reputation

// FormulaVersion names the formula that produced a score. A change to any
// constant or rule of the formula is a new version.
const FormulaVersion = "clinch-reputation/1"
