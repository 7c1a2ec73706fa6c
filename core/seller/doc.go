// Package seller is ClinchSeller, the seller node of the Agent Negotiation
// Protocol: an HTTP handler the registry relays buyer envelopes to, the
// per-session state machine that guards it, a pluggable pricing Policy with
// a built-in concession curve, blind credential opening, and registration
// of the node's signed endpoint record with the registry.
//
// Every buyer envelope is verified against the session transcript (signer,
// recipient, sequence, hash chain, expiry, replay) before a policy sees it,
// and every answer is an envelope signed with the identity key bound to the
// seller's domain. The node signs a deal artifact only when it matches, field
// by field, the deal it accepted.
//
// Routes, relative to the endpoint URL published in the record:
//
//	POST /handshake     PROPOSE
//	POST /counter       COUNTER, QUERY
//	POST /cancel        CANCEL
//	POST /sign_request  COMMIT
//	GET  /healthz
//
// A route answers 200 with anp.RelayResponse{Reply} or, for COUNTERs in
// asynchronous mode, 202 with {"pending":true}; the signed answer then goes
// to the registry's callback route. Failures are anp.ErrorBody JSON.
//
// Prices on the wire are totals for the whole quantity of a session.
package seller
