package registry

import (
	"context"
	"net/http"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// callbackAccepted is the body of a 202 answer to a callback.
type callbackAccepted struct {
	ID string `json:"id"` // envelope hash, the buyer's dedupe key
}

// handleCallback takes a seller-signed envelope for a session, witnesses it
// and queues it for the buyer's WebSocket.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	env, err := s.readEnvelope(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.acceptCallback(r.Context(), env)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusAccepted, callbackAccepted{ID: id})
}

// acceptCallback witnesses env and enqueues it. A callback that is already
// in the transcript is accepted again without effect, so sellers may retry.
func (s *Server) acceptCallback(ctx context.Context, env *anp.Envelope) (string, error) {
	if !anp.SellerMayAnswer(env.Type) {
		return "", anp.Errorf(anp.CodeForbidden, "a seller may not send %s", env.Type)
	}
	unlock, err := s.lockSession(ctx, env.Session)
	if err != nil {
		return "", err
	}
	defer unlock()
	ws, err := s.loadSession(ctx, env.Session)
	if err != nil {
		return "", err
	}
	if ws == nil {
		return "", anp.Errorf(anp.CodeNotFound, "session %s not found", env.Session)
	}
	if err := env.VerifySignature(); err != nil {
		return "", err
	}
	if env.From != ws.SellerKey {
		// Only the session's seller learns anything about the session.
		return "", anp.Errorf(anp.CodeNotFound, "session %s not found", env.Session)
	}
	if err := s.refuseRevokedSeller(ws); err != nil {
		return "", err
	}
	h, err := env.Hash()
	if err != nil {
		return "", err
	}
	held, err := ws.Transcript.Holds(env)
	if err != nil {
		return "", err
	}
	if held {
		return h, nil
	}
	release, err := s.hub.reserve(ws.Buyer, ws.Domain)
	if err != nil {
		return "", err
	}
	defer release()
	h, ev, err := s.witnessSeller(ctx, ws, env, false)
	if err != nil {
		return "", err
	}
	if err := s.saveSession(ctx, ws); err != nil {
		return "", err
	}
	s.countEvents(ctx, ws.Domain, ev)
	if err := s.hub.enqueue(ctx, ws.Buyer, ws.Domain, h, env); err != nil {
		return "", err
	}
	return h, nil
}

// refuseRevokedSeller refuses, with forbidden, every envelope of a session
// whose seller key was revoked for its domain, even if the session was
// opened before the revocation (and if the domain has a new key since): a
// revoked key is presumed to be in other hands, so the session takes
// nothing more from it, and the buyer relays nothing more in it.
func (s *Server) refuseRevokedSeller(ws *witnessSession) error {
	for _, e := range s.directory.keyHistory(ws.Domain) {
		if ev := &e.Leaf.Event; ev.Kind == anp.KeyEventRevoke && ev.Key == ws.SellerKey {
			return anp.Errorf(anp.CodeForbidden, "the seller key of session %s was revoked for %s (key event %d, log index %d): the session takes no more envelopes",
				ws.ID, ws.Domain, ev.Seq, e.LeafIndex)
		}
	}
	return nil
}
