package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger bucket of notarised artifacts, keyed by session id.
const bucketArtifacts = "artifacts"

// bucketNotarising holds a countersigned artifact from before its log append,
// so that a retry after a failure reuses it (and finds its leaf) instead of
// logging the same deal twice; under notarisingFromPfx+session it holds the
// log size before the append, where the retry's search for the leaf starts.
// Both are deleted once the artifact is stored.
const (
	bucketNotarising  = "notarising"
	notarisingFromPfx = "from/"
)

// handleNotary countersigns a buyer- and seller-signed artifact that matches
// the witnessed transcript, logs it and returns it with its receipt.
func (s *Server) handleNotary(w http.ResponseWriter, r *http.Request) {
	buyer, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req anp.NotarizeRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Artifact == nil {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "artifact is missing"))
		return
	}
	out, err := s.notarize(r.Context(), buyer, req.Artifact)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// notarize runs the notary checks and, when they pass, countersigns and logs.
func (s *Server) notarize(ctx context.Context, buyer string, a *anp.Artifact) (*anp.Artifact, error) {
	t := &a.Terms
	if !anp.ValidSessionID(t.SessionID) {
		return nil, anp.Errorf(anp.CodeBadRequest, "artifact session_id is not a 32-character hex id")
	}
	unlock, err := s.lockSession(ctx, t.SessionID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ws, err := s.notarySession(ctx, buyer, a)
	if err != nil {
		return nil, err
	}
	if ws.Notarized {
		return s.renotarize(ctx, a)
	}
	if err := s.refuseRevokedSeller(ws); err != nil { // a revoked key's signature makes no new deal
		return nil, err
	}
	if err := s.checkDeal(ws, t); err != nil {
		return nil, err
	}
	out, idx, err := s.logArtifact(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := s.recordNotarized(ctx, ws, out, idx); err != nil {
		return nil, err
	}
	return out, nil
}

// notarySession returns buyer's witnessed session of a, once a carries
// valid buyer and seller signatures.
func (s *Server) notarySession(ctx context.Context, buyer string, a *anp.Artifact) (*witnessSession, error) {
	ws, err := s.loadSession(ctx, a.Terms.SessionID)
	if err != nil {
		return nil, err
	}
	if ws == nil || ws.Buyer != buyer {
		return nil, anp.Errorf(anp.CodeNotFound, "session %s not found", a.Terms.SessionID)
	}
	if err := a.VerifyBuyer(); err != nil {
		return nil, err
	}
	if a.SellerSig == "" {
		return nil, anp.Errorf(anp.CodeBadSignature, "artifact has no seller signature")
	}
	if err := a.VerifySeller(); err != nil {
		return nil, err
	}
	return ws, nil
}

// logArtifact countersigns a, appends it to the transparency log (once,
// however often an interrupted attempt is retried) and returns it with its
// receipt, and its leaf index.
func (s *Server) logArtifact(ctx context.Context, a *anp.Artifact) (*anp.Artifact, uint64, error) {
	now := s.now()
	at := now
	if a.Terms.CreatedAt > now.UnixMilli() { // the buyer's clock runs a little ahead
		at = time.UnixMilli(a.Terms.CreatedAt)
	}
	priv, entry, err := s.keys.current(ctx)
	if err != nil {
		return nil, 0, err
	}
	out, retry, err := s.countersigned(ctx, a, priv, entry, at)
	if err != nil {
		return nil, 0, err
	}
	leaf, err := out.LeafData()
	if err != nil {
		return nil, 0, err
	}
	lg, err := s.appendLeaf(ctx, s.notarisingFrom(ctx, a.Terms.SessionID), leaf, retry)
	if err != nil {
		return nil, 0, err
	}
	idx := lg.Index
	if facts, err := reputation.FactsFromArtifact(idx, out); err == nil {
		s.ownLeaves.add(idx, leaf, facts)
	}
	head := anp.SignedTreeHead{Size: lg.Size, RootHash: hex.EncodeToString(lg.Root), Timestamp: max(now.UnixMilli(), at.UnixMilli()), KeyIndex: entry.Index}
	if err := anp.SignTreeHead(&head, anp.Signer(priv)); err != nil {
		return nil, 0, err
	}
	out.Receipt = &anp.Receipt{LeafIndex: idx, TreeHead: head, Inclusion: hexAll(lg.Inclusion), KeyChain: s.keys.chain(), RootKey: s.keys.rootHex}
	return out, idx, nil
}

// recordNotarized stores the notarised artifact out, logged at leaf idx,
// marks ws notarised and counts the deal.
func (s *Server) recordNotarized(ctx context.Context, ws *witnessSession, out *anp.Artifact, idx uint64) error {
	if err := s.startLifecycle(ctx, ws, out, idx); err != nil {
		return err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("registry: encode artifact: %w", err)
	}
	if err := s.ledger.Put(ctx, bucketArtifacts, ws.ID, data); err != nil {
		return fmt.Errorf("registry: store artifact of session %s (log leaf %d): %w", ws.ID, idx, err)
	}
	ws.Notarized = true
	if err := s.saveSession(ctx, ws); err != nil {
		return err
	}
	for _, key := range []string{ws.ID, notarisingFromPfx + ws.ID} {
		if err := s.ledger.Delete(ctx, bucketNotarising, key); err != nil {
			s.log.Warn().Err(err).Str("session", ws.ID).Msg("delete the notarising record")
		}
	}
	if err := s.directory.bumpStats(ctx, ws.Domain, func(st *anp.Stats) { st.Deals++ }); err != nil {
		s.log.Error().Err(err).Str("domain", ws.Domain).Msg("update statistics")
	}
	s.log.Info().Str("session", ws.ID).Str("domain", ws.Domain).Uint64("leaf", idx).Msg("artifact notarised")
	return nil
}

// checkDeal compares the signed terms with the witnessed transcript.
func (s *Server) checkDeal(ws *witnessSession, t *anp.DealTerms) error {
	if err := s.checkDealParties(ws, t); err != nil {
		return err
	}
	if err := checkDealAccept(ws, t); err != nil {
		return err
	}
	return checkDealGoods(ws, t)
}

// checkDealParties compares the parties and the extent of the signed terms
// with the session, and refuses a deal made in the future or in a session
// that was ended.
func (s *Server) checkDealParties(ws *witnessSession, t *anp.DealTerms) error {
	switch {
	case t.SellerDomain != ws.Domain:
		return anp.Errorf(anp.CodeBadRequest, "artifact names seller %s, the session is with %s", t.SellerDomain, ws.Domain)
	case t.BuyerKey != ws.BuyerKey:
		return anp.Errorf(anp.CodeBadRequest, "artifact buyer_key is not the session key that opened the session")
	case t.SellerKey != ws.SellerKey:
		return anp.Errorf(anp.CodeBadRequest, "artifact seller_key is not the key bound to %s", ws.Domain)
	case ws.Closed != "":
		return anp.Errorf(anp.CodeBadState, "session %s was ended by %s and cannot be notarised", ws.ID, ws.Closed)
	case t.TranscriptLen > uint64(len(ws.Transcript.Envelopes)):
		return anp.Errorf(anp.CodeConflict, "artifact transcript_len %d is beyond the %d envelopes the registry witnessed", t.TranscriptLen, len(ws.Transcript.Envelopes))
	case t.CreatedAt > s.now().Add(anp.MaxClockSkew).UnixMilli():
		return anp.Errorf(anp.CodeBadRequest, "artifact created_at is in the future")
	}
	return nil
}

// checkDealAccept checks that the signed terms end on the seller's
// witnessed ACCEPT, at its price and time.
func checkDealAccept(ws *witnessSession, t *anp.DealTerms) error {
	env := ws.Transcript.Envelopes[t.TranscriptLen-1]
	h, err := env.Hash()
	if err != nil {
		return err
	}
	if h != t.TranscriptHead {
		return anp.Errorf(anp.CodeConflict, "artifact transcript_head is not the hash of witnessed envelope %d", t.TranscriptLen)
	}
	if env.Type != anp.TypeAccept || env.From != ws.SellerKey {
		return anp.Errorf(anp.CodeBadState, "witnessed envelope %d is a %s, not the seller's ACCEPT", t.TranscriptLen, env.Type)
	}
	var offer anp.OfferBody
	if err := env.DecodeBody(&offer); err != nil {
		return err
	}
	if offer.Price != t.Price {
		return anp.Errorf(anp.CodeConflict, "artifact price %s is not the accepted price %s", t.Price, offer.Price)
	}
	if t.AgreedAt != env.TS {
		return anp.Errorf(anp.CodeBadRequest, "artifact agreed_at %d is not the ACCEPT timestamp %d", t.AgreedAt, env.TS)
	}
	return nil
}

// checkDealGoods compares what the signed terms sell with the PROPOSE.
func checkDealGoods(ws *witnessSession, t *anp.DealTerms) error {
	p, err := ws.propose()
	if err != nil {
		return err
	}
	switch {
	case t.Item != p.Item:
		return anp.Errorf(anp.CodeConflict, "artifact item %q is not the proposed item %q", t.Item, p.Item)
	case t.Quantity != p.Quantity:
		return anp.Errorf(anp.CodeConflict, "artifact quantity %d is not the proposed quantity %d", t.Quantity, p.Quantity)
	case t.Mode != p.Mode:
		return anp.Errorf(anp.CodeConflict, "artifact mode %s is not the proposed mode %s", t.Mode, p.Mode)
	case t.Price.Currency != p.Currency:
		return anp.Errorf(anp.CodeConflict, "artifact currency %s is not the proposed currency %s", t.Price.Currency, p.Currency)
	case !sameTerms(t.Terms, p.Terms):
		return anp.Errorf(anp.CodeConflict, "artifact terms are not the proposed terms")
	case t.BuyerIdentity != p.BuyerIdentity:
		return anp.Errorf(anp.CodeConflict, "artifact buyer_identity is not the identity the PROPOSE presented")
	}
	return nil
}

// sameTerms compares term maps, treating nil and empty alike.
func sameTerms(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return maps.Equal(a, b)
}

// renotarize answers a repeated request for a notarised session: the same
// deal gets the stored artifact, any other deal a conflict.
func (s *Server) renotarize(ctx context.Context, a *anp.Artifact) (*anp.Artifact, error) {
	data, err := s.ledger.Get(ctx, bucketArtifacts, a.Terms.SessionID)
	if err != nil {
		return nil, fmt.Errorf("registry: load artifact of session %s: %w", a.Terms.SessionID, err)
	}
	var stored anp.Artifact
	if err := anp.DecodeStrict(data, &stored); err != nil {
		return nil, fmt.Errorf("registry: decode artifact of session %s: %w", a.Terms.SessionID, err)
	}
	same, err := anp.SameDeal(&stored, a)
	if err != nil {
		return nil, err
	}
	if !same {
		return nil, anp.Errorf(anp.CodeConflict, "session %s was already notarised with a different artifact", a.Terms.SessionID)
	}
	return &stored, nil
}

// countersigned returns the registry-signed artifact for a, reusing one an
// interrupted earlier attempt stored (retry is then true).
func (s *Server) countersigned(ctx context.Context, a *anp.Artifact, priv ed25519.PrivateKey, entry anp.KeyEntry, at time.Time) (*anp.Artifact, bool, error) {
	if data, err := s.ledger.Get(ctx, bucketNotarising, a.Terms.SessionID); err == nil {
		var prev anp.Artifact
		if err := anp.DecodeStrict(data, &prev); err == nil {
			if same, _ := anp.SameDeal(&prev, a); same {
				return &prev, true, nil
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("registry: load notarising record: %w", err)
	}
	out := &anp.Artifact{Terms: a.Terms, BuyerSig: a.BuyerSig, SellerSig: a.SellerSig}
	if err := out.Countersign(priv, entry, at); err != nil {
		return nil, false, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, false, err
	}
	size, err := s.logSize(ctx)
	if err != nil {
		return nil, false, err
	}
	from := strconv.FormatUint(size, 10)
	if err := s.ledger.Put(ctx, bucketNotarising, notarisingFromPfx+a.Terms.SessionID, []byte(from)); err != nil {
		return nil, false, fmt.Errorf("registry: store notarising record: %w", err)
	}
	if err := s.ledger.Put(ctx, bucketNotarising, a.Terms.SessionID, data); err != nil {
		return nil, false, fmt.Errorf("registry: store notarising record: %w", err)
	}
	return out, false, nil
}

// notarisingFrom returns the log size stored before session's first
// attempt to log its deal, or 0 when there is none.
func (s *Server) notarisingFrom(ctx context.Context, session string) uint64 {
	data, err := s.ledger.Get(ctx, bucketNotarising, notarisingFromPfx+session)
	if err != nil {
		return 0
	}
	from, err := strconv.ParseUint(string(data), 10, 64)
	if err != nil {
		return 0
	}
	return from
}

func hexAll(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}
