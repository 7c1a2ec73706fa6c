package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("registry: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// handleChallenge issues a PoW challenge bound to the caller's public key.
// It keeps no state: the challenge id carries its expiry and difficulty
// under the registry's MAC (challenge.go).
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	if !s.allowSource(w, r, s.limits.auth) {
		return
	}
	var req anp.ChallengeRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := anp.ParsePublicKey(req.PubKey); err != nil {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "pubkey: %v", err))
		return
	}
	s.writeJSON(w, http.StatusOK, s.challenges.issue(req.PubKey, s.cfg.Difficulty, s.now().Add(challengeTTL)))
}

// handleToken checks a PoW solution and the possession signature, then
// issues a short-lived token bound to the key.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.allowSource(w, r, s.limits.auth) {
		return
	}
	var req anp.TokenRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.issueToken(r, &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, tok)
}

func (s *Server) issueToken(r *http.Request, req *anp.TokenRequest) (*anp.TokenResponse, error) {
	ch, err := s.challenges.open(req.ChallengeID, req.PubKey)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.UnixMilli() >= ch.Expires {
		return nil, anp.Errorf(anp.CodeExpired, "challenge expired at %s", time.UnixMilli(ch.Expires).UTC().Format(time.RFC3339))
	}
	if !anp.CheckPoW(ch.Nonce, ch.PubKey, req.Solution, ch.Difficulty) {
		return nil, anp.Errorf(anp.CodeUnauthorized, "proof of work does not meet difficulty %d", ch.Difficulty)
	}
	proof := anp.PossessionProof{ChallengeID: ch.ID, Nonce: ch.Nonce, PubKey: ch.PubKey, Solution: req.Solution}
	if err := anp.Verify(ch.PubKey, anp.PurposePoW, proof, req.Sig); err != nil {
		return nil, anp.Errorf(anp.CodeBadSignature, "proof of possession: %v", err)
	}
	if err := s.redeemChallenge(r.Context(), ch); err != nil {
		return nil, err
	}
	sign, entry, err := s.signer(r.Context())
	if err != nil {
		return nil, err
	}
	claims := anp.TokenClaims{
		Sub:      ch.PubKey,
		Iat:      now.UnixMilli(),
		Exp:      now.Add(s.cfg.TokenTTL).UnixMilli(),
		KeyIndex: entry.Index,
		ID:       randomHex(16),
	}
	tok, err := anp.IssueToken(claims, sign)
	if err != nil {
		return nil, err
	}
	s.log.Debug().Str("sub", ch.PubKey[:12]).Msg("token issued")
	return &anp.TokenResponse{Token: tok, ExpiresAt: claims.Exp}, nil
}

// tokenCacheSize bounds the token signatures the registry remembers: one
// per buyer connection in use.
const tokenCacheSize = 4096

// parseToken verifies a bearer token against the key chain. Beyond
// anp.ParseToken it refuses tokens whose lifetime is longer than TokenTTL or
// that claim to be issued outside their key's validity, so that a leaked
// retired key cannot mint long-lived tokens. A token that passed before
// (the same string) is only checked again against the clock and the key
// chain (s.passed); anything else takes the whole check.
func (s *Server) parseToken(ctx context.Context, tok string) (*anp.TokenClaims, error) {
	if c, ok := s.passedToken(ctx, tok); ok {
		return c, nil
	}
	var signer string
	c, err := anp.ParseTokenWith(s.tokens, tok, s.now(), func(kid uint64) (string, bool) {
		e, ok := s.chainKey(ctx, kid)
		signer = e.Key
		return e.Key, ok
	})
	if err != nil {
		return nil, err
	}
	e, _ := s.keys.entry(c.KeyIndex)
	if err := c.CheckKeyWindow(&e); err != nil {
		return nil, err
	}
	if c.Exp-c.Iat > s.cfg.TokenTTL.Milliseconds() {
		return nil, anp.Errorf(anp.CodeUnauthorized, "token lifetime is outside what this registry issues")
	}
	if _, err := anp.ParsePublicKey(c.Sub); err != nil {
		return nil, anp.Errorf(anp.CodeUnauthorized, "token subject: %v", err)
	}
	s.passed.add(tok, *c, signer)
	return c, nil
}

// passedToken returns the claims of tok if it passed parseToken before and
// still does: not expired, its signing key unchanged and its claims within
// that key's window. What else parseToken checks depends on the token's
// bytes only.
func (s *Server) passedToken(ctx context.Context, tok string) (*anp.TokenClaims, bool) {
	p, ok := s.passed.get(tok)
	if !ok || s.now().UnixMilli() >= p.claims.Exp {
		return nil, false
	}
	if signer, ok := s.chainKey(ctx, p.claims.KeyIndex); !ok || signer.Key != p.signer {
		return nil, false
	}
	e, _ := s.keys.entry(p.claims.KeyIndex)
	if p.claims.CheckKeyWindow(&e) != nil {
		return nil, false
	}
	return &p.claims, true
}

// bearer extracts the token from an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < len(operatorAuthPrefix) || !strings.EqualFold(h[:len(operatorAuthPrefix)], operatorAuthPrefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(operatorAuthPrefix):]), true
}

// authenticate returns the identity key (token subject) of the request.
func (s *Server) authenticate(r *http.Request) (string, error) {
	tok, ok := bearer(r)
	if !ok || tok == "" {
		return "", anp.Errorf(anp.CodeUnauthorized, "a bearer token is required (POST %s, then %s)", anp.RouteChallenge, anp.RouteToken)
	}
	c, err := s.parseToken(r.Context(), tok)
	if err != nil {
		return "", err
	}
	return c.Sub, nil
}
