package registry

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// checkOperator enforces the operator bearer secret on the control plane.
func (s *Server) checkOperator(r *http.Request) error {
	if s.cfg.OpenEnrollment {
		return nil
	}
	if s.cfg.OperatorToken == "" {
		return anp.Errorf(anp.CodeForbidden, "domain binding is closed: this registry has no operator token configured")
	}
	tok, ok := bearer(r)
	if !ok || tok == "" {
		return anp.Errorf(anp.CodeUnauthorized, "binding a domain needs the operator token as a bearer token")
	}
	// Compare digests so that neither content nor length leaks through timing.
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.OperatorToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return anp.Errorf(anp.CodeForbidden, "the operator token is wrong")
	}
	return nil
}

// handleBind binds a domain to a permanent key. The first binding wins.
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOperator(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req anp.BindRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	b, created, err := s.bind(r, &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.log.Info().Str("domain", b.Domain).Str("key", b.Key[:12]).Msg("domain bound")
	}
	s.writeJSON(w, status, b)
}

func (s *Server) bind(r *http.Request, req *anp.BindRequest) (anp.DomainBinding, bool, error) {
	if err := req.Verify(); err != nil {
		return anp.DomainBinding{}, false, err
	}
	if err := s.checkSignedTS("bind request", req.TS, signedTSWindow); err != nil {
		return anp.DomainBinding{}, false, err
	}
	if old, ok := s.directory.binding(req.Domain); ok {
		return sameBinding(old, req)
	}
	sign, entry, err := s.signer(r.Context())
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	b := anp.DomainBinding{Domain: req.Domain, Key: req.Key, BoundAt: s.now().UnixMilli(), KeyIndex: entry.Index}
	if err := anp.SignDomainBinding(&b, sign); err != nil {
		return anp.DomainBinding{}, false, err
	}
	got, created, err := s.directory.bind(r.Context(), b)
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	if !created {
		return sameBinding(got, req)
	}
	return got, true, nil
}

// sameBinding returns the existing binding when it is for the requested key
// and a conflict otherwise: bindings are permanent.
func sameBinding(old anp.DomainBinding, req *anp.BindRequest) (anp.DomainBinding, bool, error) {
	if old.Key != req.Key {
		return anp.DomainBinding{}, false, anp.Errorf(anp.CodeConflict, "domain %s is already bound to another key", req.Domain)
	}
	return old, false, nil
}

// handleGetDomain returns the binding of a domain.
func (s *Server) handleGetDomain(w http.ResponseWriter, r *http.Request) {
	domain, err := pathDomain(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, ok := s.directory.binding(domain)
	if !ok {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "domain %s is not bound", domain))
		return
	}
	s.writeJSON(w, http.StatusOK, b)
}

// pathDomain reads and normalises the {domain} path value.
func pathDomain(r *http.Request) (string, error) {
	d, err := anp.NormalizeDomain(r.PathValue("domain"))
	if err != nil {
		return "", anp.Errorf(anp.CodeBadRequest, "domain: %v", err)
	}
	return d, nil
}

// handlePublishRecord stores a seller-signed endpoint record.
func (s *Server) handlePublishRecord(w http.ResponseWriter, r *http.Request) {
	var sr anp.SignedRecord
	if err := s.decodeBody(w, r, &sr); err != nil {
		s.writeError(w, r, err)
		return
	}
	l, err := s.publishRecord(r, &sr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, l)
}

func (s *Server) publishRecord(r *http.Request, sr *anp.SignedRecord) (anp.Listing, error) {
	domain := sr.Record.Domain
	if err := anp.ValidateDomain(domain); err != nil {
		return anp.Listing{}, anp.Errorf(anp.CodeBadRequest, "endpoint record domain: %v", err)
	}
	b, ok := s.directory.binding(domain)
	if !ok {
		return anp.Listing{}, anp.Errorf(anp.CodeNotFound, "domain %s is not bound: bind it on the control plane first", domain)
	}
	if err := sr.Verify(b.Key); err != nil {
		return anp.Listing{}, err
	}
	if err := s.checkSignedTS("endpoint record", sr.Record.TS, signedTSWindow); err != nil {
		return anp.Listing{}, err
	}
	if !s.cfg.AllowPrivateEndpoints {
		if err := guardEndpoint(r.Context(), s.lookup, sr.Record.Endpoint); err != nil {
			return anp.Listing{}, err
		}
	}
	unlock := s.domains.Lock(domain)
	defer unlock()
	if old, ok := s.directory.record(domain); ok && sr.Record.Seq <= old.Record.Seq {
		return anp.Listing{}, anp.Errorf(anp.CodeReplay, "endpoint record seq %d is not greater than the stored seq %d", sr.Record.Seq, old.Record.Seq)
	}
	if err := s.directory.putRecord(r.Context(), *sr); err != nil {
		return anp.Listing{}, err
	}
	l, _ := s.directory.listing(domain)
	s.log.Info().Str("domain", domain).Uint64("seq", sr.Record.Seq).Msg("endpoint record published")
	return l, nil
}

// handleDiscover lists sellers by category and mode (token required).
func (s *Server) handleDiscover(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	category := q.Get("category")
	if len(category) > 64 {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "category is longer than 64 bytes"))
		return
	}
	var mode anp.Mode
	if m := q.Get("mode"); m != "" {
		var err error
		if mode, err = anp.ParseMode(m); err != nil {
			s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "mode: %v", err))
			return
		}
	}
	limit := defaultDiscover
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "limit %q must be a positive integer", l))
			return
		}
		limit = min(n, maxDiscover)
	}
	s.writeJSON(w, http.StatusOK, anp.DiscoverResponse{Results: s.directory.discover(category, mode, limit)})
}

// handleListing returns one seller's listing (token required).
func (s *Server) handleListing(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	domain, err := pathDomain(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l, ok := s.directory.listing(domain)
	if !ok {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "no listing for %s", domain))
		return
	}
	s.writeJSON(w, http.StatusOK, l)
}
