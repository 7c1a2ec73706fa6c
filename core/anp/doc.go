// Package anp holds the wire format of the Agent Negotiation Protocol as
// Clinch implements it: addresses, money, canonical signing bytes, signed
// envelopes chained into a transcript, deal artifacts, registry key chains,
// transparency-log receipts, the proof-of-work used for registry auth,
// blind-credential sealing, sealing under the identity key (session exports
// and session keys at rest) and the cleaning of body text.
//
// Everything here is pure: no network, no storage, no clocks except those
// passed in. The format is written down in docs/protocol.md, and the test
// vectors under testdata/ pin it byte for byte.
package anp

// Version is the protocol version carried in every envelope and artifact.
const Version = 1
