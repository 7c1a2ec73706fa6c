package registry

import (
	"net/http"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// handleDeal returns a deal's lifecycle and logged events.
func (s *Server) handleDeal(w http.ResponseWriter, r *http.Request) {
	identity, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.DealStatus(r.Context(), identity, r.PathValue("session"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleDealEvent takes one event envelope of a deal.
func (s *Server) handleDealEvent(w http.ResponseWriter, r *http.Request) {
	identity, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var env anp.Envelope
	if err := s.decodeBody(w, r, &env); err != nil {
		s.writeError(w, r, err)
		return
	}
	if env.Session != r.PathValue("session") {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "the envelope is for session %s, the route for %s", env.Session, r.PathValue("session")))
		return
	}
	data, err := anp.Canonical(&env)
	if err != nil {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "envelope: %v", err))
		return
	}
	e, err := anp.DecodeEnvelope(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.SubmitDealEvent(r.Context(), identity, e)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleDisputes lists the disputes, for the arbiter key only.
func (s *Server) handleDisputes(w http.ResponseWriter, r *http.Request) {
	identity, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if identity != s.arbiterCert.Key {
		s.writeError(w, r, anp.Errorf(anp.CodeForbidden, "only the registry's arbiter key lists disputes"))
		return
	}
	out, err := s.Disputes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// handleArbiter returns the arbiter key certificate.
func (s *Server) handleArbiter(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, s.arbiterCert)
}
