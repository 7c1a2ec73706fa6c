package buyer

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// exportFile is the plaintext inside a sealed export.
type exportFile struct {
	V        int               `json:"v"`
	Sessions []exportedSession `json:"sessions"`
}

// ExportSessions returns every session, ephemeral keys included, sealed with
// authenticated encryption under a key derived from the identity key. Only an
// engine with the same identity can import it; any change makes it unreadable.
func (c *Core) ExportSessions(ctx context.Context) ([]byte, error) {
	recs, err := c.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("buyer: export: %w", err)
	}
	// Sessions is never nil: strict decoding refuses null, and an export
	// of no sessions holds "sessions":[].
	f := exportFile{V: 1, Sessions: []exportedSession{}}
	for _, sr := range recs {
		rp, err := c.decodeRecord(sr)
		if err != nil {
			return nil, fmt.Errorf("buyer: export: %w", err)
		}
		r := *rp
		r.Session.Version = 0
		seed, err := anp.OpenSecretBytes(c.cfg.Identity, anp.SecretSessionKey, r.SealedKey)
		if err != nil {
			return nil, fmt.Errorf("buyer: export: session key of %s: %w", sr.ID, err)
		}
		r.SealedKey = nil
		f.Sessions = append(f.Sessions, exportedSession{Record: r, KeySeed: seed})
	}
	plain, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("buyer: export: %w", err)
	}
	defer clear(plain)
	return anp.SealExport(c.cfg.Identity, plain)
}

// ImportSessions opens a sealed export and stores every session in it. The
// export is rejected whole when it was tampered with or sealed by another
// identity, and every session's transcript is re-verified before anything is
// written — with the deal it binds, when the session holds an artifact
// (checkDeal). Existing sessions with the same id are replaced.
func (c *Core) ImportSessions(ctx context.Context, sealed []byte) (int, error) {
	plain, err := anp.OpenExport(c.cfg.Identity, sealed)
	if err != nil {
		return 0, fmt.Errorf("buyer: import: %w", err)
	}
	defer clear(plain)
	var f exportFile
	if err := anp.DecodeStrict(plain, &f); err != nil {
		return 0, fmt.Errorf("buyer: import: %w", err)
	}
	if f.V != 1 {
		return 0, fmt.Errorf("buyer: import: export version %d is not supported", f.V)
	}
	recs := make([]record, 0, len(f.Sessions))
	for _, es := range f.Sessions {
		r := es.Record
		if !anp.ValidSessionID(r.Session.ID) || len(es.KeySeed) != 32 {
			return 0, fmt.Errorf("buyer: import: malformed session %q", r.Session.ID)
		}
		head, err := anp.VerifyChain(r.Transcript.Envelopes)
		if err != nil || head != r.Transcript.Head {
			return 0, fmt.Errorf("buyer: import: transcript of %s does not verify: %v", r.Session.ID, err)
		}
		if err := r.checkDeal(es.KeySeed); err != nil {
			return 0, fmt.Errorf("buyer: import: session %s: %w: %w", r.Session.ID, ErrCorruptRecord, err)
		}
		if r.SealedKey, err = anp.SealSecretBytes(c.cfg.Identity, anp.SecretSessionKey, es.KeySeed); err != nil {
			return 0, fmt.Errorf("buyer: import: %w", err)
		}
		recs = append(recs, r)
	}
	for i := range recs {
		r := &recs[i]
		cur, err := c.store.Load(ctx, r.Session.ID)
		switch {
		case err == nil:
			r.Session.Version = cur.Version
		case errors.Is(err, store.ErrNotFound):
			r.Session.Version = 0
		default:
			return i, fmt.Errorf("buyer: import %s: %w", r.Session.ID, err)
		}
		if err := c.save(ctx, r); err != nil {
			return i, fmt.Errorf("buyer: import %s: %w", r.Session.ID, err)
		}
	}
	return len(recs), nil
}

// checkDeal checks a session's artifacts — the signed one and one waiting
// for approval — against its transcript: the transcript is the one each
// deal binds (anp.VerifyDealTranscript: chain, head, session, parties,
// PROPOSE and ACCEPT), and the session key is the deal's buyer key.
func (r *record) checkDeal(keySeed []byte) error {
	key := buyerKey(ed25519.NewKeyFromSeed(keySeed))
	for _, a := range []*anp.Artifact{r.Session.Artifact, r.Pending} {
		if a == nil {
			continue
		}
		if err := anp.VerifyDealTranscript(&a.Terms, r.Transcript.Envelopes); err != nil {
			return fmt.Errorf("the transcript does not bind the artifact: %w", err)
		}
		if a.Terms.BuyerKey != key || a.Terms.SessionID != r.Session.ID {
			return fmt.Errorf("the artifact is not this session's deal (session id or buyer key)")
		}
	}
	return nil
}
