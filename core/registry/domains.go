package registry

import (
	"context"
	"net/http"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// handleBind binds a domain to a key. Binding an unbound domain (or one
// whose key was revoked) needs an enrolment grant for exactly that domain
// as the bearer token, unless the registry runs with open enrollment; the
// same key again gets the existing binding without one.
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	var req anp.BindRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	grant, _ := bearer(r)
	b, created, err := s.bind(r.Context(), &req, grant)
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

func (s *Server) bind(ctx context.Context, req *anp.BindRequest, grant string) (anp.DomainBinding, bool, error) {
	if err := req.Verify(); err != nil {
		return anp.DomainBinding{}, false, err
	}
	if err := s.checkSignedTS("bind request", req.TS, signedTSWindow); err != nil {
		return anp.DomainBinding{}, false, err
	}
	unlock, err := s.lockDomain(ctx, req.Domain)
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	defer unlock()
	if err := s.freshDomain(ctx, req.Domain); err != nil {
		return anp.DomainBinding{}, false, err
	}
	st := s.directory.keyState(req.Domain)
	old, bound := s.directory.binding(req.Domain)
	if bound && !st.Revoked {
		return sameBinding(old, req) // nothing changes, so no grant is needed
	}
	if s.directory.wasRevoked(req.Domain, req.Key) {
		return anp.DomainBinding{}, false, anp.Errorf(anp.CodeRefused, "key %s… was revoked for %s and cannot be bound to it again", req.Key[:12], req.Domain)
	}
	b, err := s.signBinding(ctx, req.Domain, req.Key)
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	ev := anp.KeyEvent{Domain: req.Domain, Seq: st.Next, Kind: anp.KeyEventBind, Key: req.Key, Bind: req}
	if ev.Grant, err = s.redeemGrant(ctx, req.Domain, grant); err != nil { // last: a grant is spent only on a binding that is made
		return anp.DomainBinding{}, false, err
	}
	entry, err := s.logKeyEvent(ctx, st, ev)
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	if bound { // bound before, revoked since: the new key replaces it
		return b, true, s.directory.recordKeyEvent(ctx, entry, &b)
	}
	got, created, err := s.directory.bind(ctx, b)
	if err != nil {
		return anp.DomainBinding{}, false, err
	}
	if !created {
		return sameBinding(got, req)
	}
	return got, true, s.directory.recordKeyEvent(ctx, entry, nil)
}

// signBinding returns the registry's binding of domain to key, signed now
// with the current chain key.
func (s *Server) signBinding(ctx context.Context, domain, key string) (anp.DomainBinding, error) {
	sign, entry, err := s.signer(ctx)
	if err != nil {
		return anp.DomainBinding{}, err
	}
	b := anp.DomainBinding{Domain: domain, Key: key, BoundAt: s.now().UnixMilli(), KeyIndex: entry.Index}
	if err := anp.SignDomainBinding(&b, sign); err != nil {
		return anp.DomainBinding{}, err
	}
	return b, nil
}

// sameBinding returns the existing binding when it is for the requested key
// and a conflict otherwise: only a logged rotation or revocation changes it.
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
	if err := s.domainOnMiss(r.Context(), domain); err != nil {
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
	ctx := r.Context()
	unlock, err := s.lockDomain(ctx, domain) // the bound key cannot rotate between the check and the store
	if err != nil {
		return anp.Listing{}, err
	}
	defer unlock()
	if err := s.freshDomain(ctx, domain); err != nil {
		return anp.Listing{}, err
	}
	b, ok := s.directory.binding(domain)
	if !ok {
		return anp.Listing{}, anp.Errorf(anp.CodeNotFound, "domain %s is not bound: bind it on the control plane first", domain)
	}
	if err := s.refuseRevoked(domain); err != nil {
		return anp.Listing{}, err
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
	if old, ok := s.directory.record(domain); ok && sr.Record.Seq <= old.Record.Seq {
		return anp.Listing{}, anp.Errorf(anp.CodeReplay, "endpoint record seq %d is not greater than the stored seq %d", sr.Record.Seq, old.Record.Seq)
	}
	if err := s.directory.putRecord(r.Context(), *sr, b.Key); err != nil {
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
	minTrust, err := queryMinTrust(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ls, err := s.scoreListings(r.Context(), s.directory.discover(category, mode), minTrust, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ls == nil {
		ls = []anp.Listing{}
	}
	s.writeJSON(w, http.StatusOK, anp.DiscoverResponse{Results: ls})
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
	if err := s.domainOnMiss(r.Context(), domain); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.refuseRevoked(domain); err != nil {
		s.writeError(w, r, err)
		return
	}
	l, ok := s.directory.listing(domain)
	if !ok {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "no listing for %s", domain))
		return
	}
	scored, err := s.scoreListings(r.Context(), []anp.Listing{l}, 0, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, scored[0])
}
