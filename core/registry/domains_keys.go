package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ErrGrantUsed marks an enrolment grant presented a second time: a grant
// binds one domain once.
var ErrGrantUsed = errors.New("enrolment grant was used before")

// redeemGrant checks the enrolment grant for binding domain and marks it
// used; it returns the grant's id. Without a grant it refuses, unless the
// registry runs with open enrollment (the id is then "").
func (s *Server) redeemGrant(ctx context.Context, domain, grant string) (string, error) {
	if grant == "" {
		if s.cfg.OpenEnrollment {
			return "", nil
		}
		return "", anp.Errorf(anp.CodeUnauthorized, "binding %s needs an enrolment grant for it as the bearer token: the registry operator issues one with `clinch-mcp registry grant %s`", domain, domain)
	}
	c, err := anp.ParseGrant(grant, s.keys.rootHex, domain, s.now())
	if err != nil {
		return "", err
	}
	fresh, err := s.directory.claimGrant(ctx, c.ID, domain, s.now().UnixMilli())
	if err != nil {
		return "", err
	}
	if !fresh {
		return "", anp.Errorf(anp.CodeReplay, "%v: the enrolment grant for %s was redeemed before; ask the registry operator for a new one", ErrGrantUsed, domain)
	}
	return c.ID, nil
}

// logKeyEvent checks that ev follows the domain's key state st, then
// countersigns it with the current chain key and appends it to the
// transparency log. The caller records the returned entry in the directory.
func (s *Server) logKeyEvent(ctx context.Context, st anp.KeyState, ev anp.KeyEvent) (anp.KeyEventEntry, error) {
	if err := st.Apply(&ev, 0); err != nil { // st is a copy
		return anp.KeyEventEntry{}, err
	}
	priv, entry, err := s.keys.current(ctx)
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	leaf, err := anp.CountersignKeyEvent(ev, priv, entry, s.now())
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	data, err := leaf.LeafData()
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	idx, _, _, _, err := s.logLeaf(ctx, data)
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	s.log.Info().Str("domain", ev.Domain).Str("kind", ev.Kind).Uint64("seq", ev.Seq).Str("key", ev.Key[:12]).Uint64("leaf", idx).Msg("key event logged")
	return anp.KeyEventEntry{LeafIndex: idx, Leaf: *leaf}, nil
}

// logUnloggedBindings logs a bind event for every binding made before key
// events were logged, so that every bound key has a logged history.
func (s *Server) logUnloggedBindings(ctx context.Context) error {
	for _, b := range s.directory.unlogged() {
		ev := anp.KeyEvent{Domain: b.Domain, Kind: anp.KeyEventBind, Key: b.Key}
		entry, err := s.logKeyEvent(ctx, anp.KeyState{Domain: b.Domain}, ev)
		if err != nil {
			return err
		}
		if err := s.directory.recordKeyEvent(ctx, entry, nil); err != nil {
			return err
		}
	}
	return nil
}

// refuseRevoked refuses, with forbidden, a domain whose key is revoked:
// it has no usable key until a new one is bound.
func (s *Server) refuseRevoked(domain string) error {
	if st := s.directory.keyState(domain); st.Revoked {
		return anp.Errorf(anp.CodeForbidden, "the key of %s was revoked (key event %d, log index %d): no new sessions until a new key is bound",
			domain, st.Next-1, st.LeafIndex)
	}
	return nil
}

// handleKeyHistory returns a domain's logged key events.
func (s *Server) handleKeyHistory(w http.ResponseWriter, r *http.Request) {
	domain, err := pathDomain(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events := s.directory.keyHistory(domain)
	if len(events) == 0 {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "domain %s has no key history", domain))
		return
	}
	s.writeJSON(w, http.StatusOK, anp.KeyHistory{Domain: domain, Events: events})
}

// handleKeyChange logs a rotation or revocation of a domain's key.
func (s *Server) handleKeyChange(w http.ResponseWriter, r *http.Request) {
	domain, err := pathDomain(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var sc anp.SignedKeyChange
	if err := s.decodeBody(w, r, &sc); err != nil {
		s.writeError(w, r, err)
		return
	}
	entry, err := s.changeKey(r.Context(), domain, &sc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, entry)
}

// changeKey verifies a signed rotation or revocation of domain's key,
// logs it and applies it: a rotation binds the new key (its endpoint record
// must be published again, signed by the new key), a revocation leaves the
// domain without a usable key until a grant binds a new one.
func (s *Server) changeKey(ctx context.Context, domain string, sc *anp.SignedKeyChange) (anp.KeyEventEntry, error) {
	c := &sc.Change
	if c.Domain != domain {
		return anp.KeyEventEntry{}, anp.Errorf(anp.CodeBadRequest, "the key change is for %s, not %s", c.Domain, domain)
	}
	if err := sc.Verify(s.keys.rootHex); err != nil {
		return anp.KeyEventEntry{}, err
	}
	if err := s.checkSignedTS("key change", c.TS, signedTSWindow); err != nil {
		return anp.KeyEventEntry{}, err
	}
	unlock, err := s.lockDomain(ctx, domain)
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	defer unlock()
	if err := s.freshDomain(ctx, domain); err != nil {
		return anp.KeyEventEntry{}, err
	}
	if _, ok := s.directory.binding(domain); !ok {
		return anp.KeyEventEntry{}, anp.Errorf(anp.CodeNotFound, "domain %s is not bound", domain)
	}
	if c.Kind == anp.KeyEventRotate && s.directory.wasRevoked(domain, c.NewKey) {
		return anp.KeyEventEntry{}, anp.Errorf(anp.CodeRefused, "key %s… was revoked for %s and cannot be bound to it again", c.NewKey[:12], domain)
	}
	ev := anp.KeyEvent{Domain: domain, Seq: c.Seq, Kind: c.Kind, Key: c.Key, Change: sc}
	var nb *anp.DomainBinding
	if c.Kind == anp.KeyEventRotate {
		ev.Key = c.NewKey
		b, err := s.signBinding(ctx, domain, c.NewKey)
		if err != nil {
			return anp.KeyEventEntry{}, err
		}
		nb = &b
	}
	entry, err := s.logKeyEvent(ctx, s.directory.keyState(domain), ev)
	if err != nil {
		return anp.KeyEventEntry{}, err
	}
	return entry, s.directory.recordKeyEvent(ctx, entry, nb)
}
