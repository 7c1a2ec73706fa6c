package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger buckets of the deal lifecycle: each notarised deal's record
// (lifecycle, buyer identity, an event countersigned but not yet known to
// be in the log), the index of open disputes, and the arbiter key.
const (
	bucketDeals    = "lifecycles"
	bucketDisputes = "disputes"
	bucketArbiter  = "arbiter"
	arbiterSeedKey = "seed"
	arbiterCertKey = "cert"
)

// pendingEvent is a countersigned deal event whose leaf may or may not be
// in the log yet: From is the log size before the first attempt to append
// it, where a retry starts looking for it.
type pendingEvent struct {
	Leaf []byte `json:"leaf"`
	From uint64 `json:"from"`
}

// dealRecord is what the registry keeps per notarised deal.
type dealRecord struct {
	Life    anp.Lifecycle `json:"life"`
	Buyer   string        `json:"buyer"` // identity key of the buyer's token
	Pending *pendingEvent `json:"pending,omitempty"`

	// storedDue and storedNeeded are rec.due() of the record as stored
	// last: what its entry in the due index says (see bucketDealsDue).
	storedDue    int64
	storedNeeded bool
}

// loadArbiter sets the arbiter key: cfg.Arbiter, or the seed kept in the
// ledger (created on first start), and its root-signed certificate, which
// is kept too and renewed (next index) only when the key changes.
func (s *Server) loadArbiter(ctx context.Context) error {
	key := s.cfg.Arbiter
	if key == nil {
		seed, err := s.ledger.Get(ctx, bucketArbiter, arbiterSeedKey)
		if errors.Is(err, store.ErrNotFound) {
			_, key, err = ed25519.GenerateKey(nil)
			if err != nil {
				return err
			}
			if err := s.ledger.Put(ctx, bucketArbiter, arbiterSeedKey, key.Seed()); err != nil {
				return fmt.Errorf("registry: store the arbiter key: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("registry: load the arbiter key: %w", err)
		} else if len(seed) != ed25519.SeedSize {
			return fmt.Errorf("registry: the stored arbiter key is %d bytes, want %d", len(seed), ed25519.SeedSize)
		} else {
			key = ed25519.NewKeyFromSeed(seed)
		}
	}
	s.arbiter = key
	var cert anp.ArbiterKey
	if data, err := s.ledger.Get(ctx, bucketArbiter, arbiterCertKey); err == nil && anp.DecodeStrict(data, &cert) == nil {
		if cert.Key == anp.PublicKeyHex(key.Public().(ed25519.PublicKey)) && cert.Verify(s.keys.rootHex, cert.ValidFrom) == nil {
			s.arbiterCert = cert
			return nil
		}
		cert.Index++
	}
	next, err := anp.NewArbiterKey(s.cfg.Root, cert.Index, key.Public().(ed25519.PublicKey), s.now())
	if err != nil {
		return err
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.ledger.Put(ctx, bucketArbiter, arbiterCertKey, data); err != nil {
		return fmt.Errorf("registry: store the arbiter key certificate: %w", err)
	}
	s.arbiterCert = next
	return nil
}

// ArbiterKey returns the arbiter key's certificate.
func (s *Server) ArbiterKey() anp.ArbiterKey { return s.arbiterCert }

// startLifecycle stores the lifecycle of the deal a notarised at leaf idx,
// in session ws, whose chain the events extend. An existing record is kept.
func (s *Server) startLifecycle(ctx context.Context, ws *witnessSession, a *anp.Artifact, idx uint64) error {
	l, err := anp.NewLifecycle(a, idx, uint64(len(ws.Transcript.Envelopes)), ws.Transcript.Head)
	if err != nil {
		return err
	}
	rec := dealRecord{Life: *l, Buyer: ws.Buyer}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if at, needed := rec.due(); needed { // the due entry first (bucketDealsDue)
		if err := s.addDue(ctx, ws.ID, at); err != nil {
			return err
		}
	}
	if _, err := s.ledger.PutIfAbsent(ctx, bucketDeals, ws.ID, data); err != nil {
		return fmt.Errorf("registry: store the lifecycle of session %s: %w", ws.ID, err)
	}
	return nil
}

// loadDeal returns the deal record of session, creating it from the stored
// artifact for a deal notarised before lifecycles were kept; ErrNoDeal
// when the session has no notarised deal.
func (s *Server) loadDeal(ctx context.Context, session string) (*dealRecord, error) {
	data, err := s.ledger.Get(ctx, bucketDeals, session)
	if errors.Is(err, store.ErrNotFound) {
		return s.lateLifecycle(ctx, session)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: load the lifecycle of session %s: %w", session, err)
	}
	var rec dealRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("registry: decode the lifecycle of session %s: %w", session, err)
	}
	rec.storedDue, rec.storedNeeded = rec.due()
	return &rec, nil
}

// lateLifecycle starts the lifecycle of a deal notarised before lifecycles
// were kept.
func (s *Server) lateLifecycle(ctx context.Context, session string) (*dealRecord, error) {
	ws, err := s.loadSession(ctx, session)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		return nil, anp.Errorf(anp.CodeNotFound, "session %s not found", session)
	}
	if !ws.Notarized {
		return nil, anp.Errorf(anp.CodeBadState, "%v", fmt.Errorf("%w: session %s", anp.ErrNoDeal, session))
	}
	data, err := s.ledger.Get(ctx, bucketArtifacts, session)
	if err != nil {
		return nil, fmt.Errorf("registry: load the artifact of session %s: %w", session, err)
	}
	var a anp.Artifact
	if err := anp.DecodeStrict(data, &a); err != nil || a.Receipt == nil {
		return nil, fmt.Errorf("registry: decode the artifact of session %s: %v", session, err)
	}
	if err := s.startLifecycle(ctx, ws, &a, a.Receipt.LeafIndex); err != nil {
		return nil, err
	}
	return s.loadDeal(ctx, session)
}

// SubmitDealEvent takes a party's (or the arbiter's) event envelope for its
// session from identity (the token's key), checks it against the deal's
// lifecycle and logs it. The same envelope again returns the entry it was
// logged as. A refusal changes nothing.
func (s *Server) SubmitDealEvent(ctx context.Context, identity string, env *anp.Envelope) (anp.DealEventEntry, error) {
	if !anp.ValidSessionID(env.Session) || !anp.IsDealEvent(env.Type) {
		return anp.DealEventEntry{}, anp.Errorf(anp.CodeBadRequest, "%v", fmt.Errorf("%w: a %s envelope is not an event of a deal", anp.ErrDealEventMalformed, env.Type))
	}
	unlock, err := s.lockSession(ctx, env.Session)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	defer unlock()
	rec, err := s.readyDeal(ctx, env.Session)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	if err := s.checkParty(rec, identity); err != nil {
		return anp.DealEventEntry{}, err
	}
	if entry, ok, err := s.loggedBefore(ctx, rec, env); ok || err != nil {
		return entry, err
	}
	ev, err := rec.Life.Check(env, &s.arbiterCert, s.now().UnixMilli())
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	if env.Type == anp.TypeDispute {
		if err := s.checkEvidence(ctx, rec, env); err != nil {
			return anp.DealEventEntry{}, err
		}
	}
	return s.logDealEvent(ctx, rec, ev)
}

// readyDeal loads a deal record and finishes an event an interrupted
// attempt left pending.
func (s *Server) readyDeal(ctx context.Context, session string) (*dealRecord, error) {
	rec, err := s.loadDeal(ctx, session)
	if err != nil {
		return nil, err
	}
	if rec.Pending != nil {
		if _, err := s.finishPending(ctx, rec); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// checkParty lets the deal's buyer identity, its seller key and the
// arbiter key send events of the deal; anyone else learns nothing.
func (s *Server) checkParty(rec *dealRecord, identity string) error {
	if identity == rec.Buyer || identity == rec.Life.SellerKey || identity == s.arbiterCert.Key {
		return nil
	}
	return anp.Errorf(anp.CodeNotFound, "session %s not found", rec.Life.Session)
}

// loggedBefore returns the entry of env when it is an event already logged.
func (s *Server) loggedBefore(ctx context.Context, rec *dealRecord, env *anp.Envelope) (anp.DealEventEntry, bool, error) {
	h, err := env.Hash()
	if err != nil {
		return anp.DealEventEntry{}, false, err
	}
	for _, e := range rec.Life.Events {
		if e.Hash == h {
			entry, err := s.dealEventAt(ctx, e.LeafIndex)
			return entry, true, err
		}
	}
	return anp.DealEventEntry{}, false, nil
}

// dealEventAt reads the deal event logged at idx.
func (s *Server) dealEventAt(ctx context.Context, idx uint64) (anp.DealEventEntry, error) {
	leaves, err := s.ledger.Leaves(ctx, idx, idx+1)
	if err != nil || len(leaves) != 1 {
		return anp.DealEventEntry{}, fmt.Errorf("registry: read log leaf %d: %v", idx, err)
	}
	l, err := anp.ParseLogLeaf(leaves[0])
	if err != nil || l.DealEvent == nil {
		return anp.DealEventEntry{}, fmt.Errorf("registry: log leaf %d is not a deal event: %v", idx, err)
	}
	return anp.DealEventEntry{LeafIndex: idx, Leaf: *l.DealEvent}, nil
}

// checkEvidence refuses a dispute whose evidence names an envelope that is
// not in the session's chain.
func (s *Server) checkEvidence(ctx context.Context, rec *dealRecord, env *anp.Envelope) error {
	var b anp.DisputeBody
	if err := env.DecodeBody(&b); err != nil {
		return err
	}
	known := make(map[string]bool)
	for _, e := range rec.Life.Events {
		known[e.Hash] = true
	}
	ws, err := s.loadSession(ctx, rec.Life.Session)
	if err != nil {
		return err
	}
	if ws != nil {
		for _, e := range ws.Transcript.Envelopes {
			if h, err := e.Hash(); err == nil {
				known[h] = true
			}
		}
	}
	for i, h := range b.Evidence {
		if !known[h] {
			return anp.Errorf(anp.CodeBadRequest, "%v", fmt.Errorf("%w: evidence[%d] is not an envelope of session %s", anp.ErrDealEventMalformed, i, rec.Life.Session))
		}
	}
	return nil
}

// logDealEvent countersigns ev, stores it as pending, appends its leaf and
// applies it: a crash at any point leaves either nothing or a pending
// event that finishPending completes, never a second leaf.
func (s *Server) logDealEvent(ctx context.Context, rec *dealRecord, ev anp.DealEvent) (anp.DealEventEntry, error) {
	priv, entry, err := s.keys.current(ctx)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	leaf, err := anp.CountersignDealEvent(ev, priv, entry, s.now())
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	data, err := leaf.LeafData()
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	from, err := s.logSize(ctx)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	rec.Pending = &pendingEvent{Leaf: data, From: from}
	if err := s.saveDeal(ctx, rec); err != nil {
		return anp.DealEventEntry{}, err
	}
	return s.finishPending(ctx, rec)
}

// finishPending logs rec's pending event once — finding its leaf when an
// earlier attempt appended it — applies it to the lifecycle, updates the
// dispute index and clears it.
func (s *Server) finishPending(ctx context.Context, rec *dealRecord) (anp.DealEventEntry, error) {
	p := rec.Pending
	l, err := anp.ParseLogLeaf(p.Leaf)
	if err != nil || l.DealEvent == nil {
		return anp.DealEventEntry{}, fmt.Errorf("registry: the pending event of session %s does not decode: %v", rec.Life.Session, err)
	}
	idx, err := s.appendOnce(ctx, p.From, p.Leaf)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	ev := &l.DealEvent.Event
	if err := rec.Life.Apply(ev, l.DealEvent.Registry.NotarizedAt, idx); err != nil {
		return anp.DealEventEntry{}, fmt.Errorf("registry: apply the logged %s of session %s: %w", ev.Kind, rec.Life.Session, err)
	}
	rec.Pending = nil
	if err := s.indexDispute(ctx, rec); err != nil {
		return anp.DealEventEntry{}, err
	}
	if err := s.saveDeal(ctx, rec); err != nil {
		return anp.DealEventEntry{}, err
	}
	s.log.Info().Str("session", rec.Life.Session).Str("kind", ev.Kind).Str("by", ev.By).Uint64("leaf", idx).Str("state", string(rec.Life.State)).Msg("deal event logged")
	return anp.DealEventEntry{LeafIndex: idx, Leaf: *l.DealEvent}, nil
}

// appendOnce appends leaf unless it is in the log from index from on
// already, and returns its index.
func (s *Server) appendOnce(ctx context.Context, from uint64, leaf []byte) (uint64, error) {
	lg, err := s.appendLeaf(ctx, from, leaf, true)
	return lg.Index, err
}

// findLeaf looks for leaf among the log's leaves from index from on.
func (s *Server) findLeaf(ctx context.Context, from uint64, leaf []byte) (uint64, bool, error) {
	size := s.tree.size()
	for ; from < size; from += maxBatchLeaves {
		leaves, err := s.ledger.Leaves(ctx, from, min(from+maxBatchLeaves, size))
		if err != nil {
			return 0, false, fmt.Errorf("registry: scan log: %w", err)
		}
		for i, l := range leaves {
			if bytes.Equal(l, leaf) {
				return from + uint64(i), true, nil
			}
		}
	}
	return 0, false, nil
}

// DisputeSummary is one dispute as the arbiter lists it.
type DisputeSummary struct {
	Session      string          `json:"session"`
	SellerDomain string          `json:"seller_domain"`
	DealLeaf     uint64          `json:"deal_leaf"`
	By           string          `json:"by"`
	Reason       string          `json:"reason"`
	Severity     int             `json:"severity"`
	At           int64           `json:"at"`
	State        string          `json:"state"`
	Resolution   *anp.Resolution `json:"resolution,omitempty"`
}

// indexDispute keeps the dispute index in step with rec: a disputed deal
// is listed, a resolved one is listed with its resolution.
func (s *Server) indexDispute(ctx context.Context, rec *dealRecord) error {
	l := &rec.Life
	if l.Dispute == nil {
		return nil
	}
	d := DisputeSummary{Session: l.Session, SellerDomain: l.SellerDomain, DealLeaf: l.DealLeaf, By: l.Dispute.By, Reason: l.Dispute.Reason,
		Severity: l.Dispute.Severity, At: l.Dispute.At, State: string(l.State), Resolution: l.Resolution}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.ledger.Put(ctx, bucketDisputes, l.Session, data); err != nil {
		return fmt.Errorf("registry: index the dispute of session %s: %w", l.Session, err)
	}
	return nil
}

// Disputes lists the disputes, open and resolved, by session id.
func (s *Server) Disputes(ctx context.Context) ([]DisputeSummary, error) {
	kvs, err := s.ledger.List(ctx, bucketDisputes)
	if err != nil {
		return nil, fmt.Errorf("registry: list disputes: %w", err)
	}
	out := make([]DisputeSummary, 0, len(kvs))
	for _, kv := range kvs {
		var d DisputeSummary
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			return nil, fmt.Errorf("registry: decode the dispute of session %s: %w", kv.Key, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DealStatus returns a deal's lifecycle and its logged events, for a party
// of the deal or the arbiter.
func (s *Server) DealStatus(ctx context.Context, identity, session string) (*anp.DealStatus, error) {
	if !anp.ValidSessionID(session) {
		return nil, anp.Errorf(anp.CodeBadRequest, "session id must be 32 lower-case hex characters")
	}
	unlock, err := s.lockSession(ctx, session)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := s.readyDeal(ctx, session)
	if err != nil {
		return nil, err
	}
	if err := s.checkParty(rec, identity); err != nil {
		return nil, err
	}
	out := &anp.DealStatus{Lifecycle: rec.Life, Arbiter: s.arbiterCert}
	for _, e := range rec.Life.Events {
		entry, err := s.dealEventAt(ctx, e.LeafIndex)
		if err != nil {
			return nil, err
		}
		out.Events = append(out.Events, entry)
	}
	return out, nil
}

// SweepDeals applies the published rules at the registry's clock to every
// deal they apply to: a breach past deliver_by, a lapse past the receipt
// window, the rule resolution of a non-delivery dispute past its grace
// period; and it finishes any event an interrupted attempt left pending.
// It reads only the deals the due index names as due (bucketDealsDue). It
// returns how many events it logged.
func (s *Server) SweepDeals(ctx context.Context) (int, error) {
	sessions, err := s.dealsDue(ctx, s.now().UnixMilli())
	if err != nil {
		return 0, err
	}
	logged := 0
	for _, session := range sessions {
		n, err := s.sweepDeal(ctx, session)
		logged += n
		if err != nil {
			return logged, err
		}
	}
	return logged, nil
}

// sweepDeal applies the rules to one deal, under its session lock. An
// entry of the due index that names no deal, or a deal with nothing due,
// is set right.
func (s *Server) sweepDeal(ctx context.Context, session string) (int, error) {
	unlock, err := s.lockSession(ctx, session)
	if err != nil {
		return 0, err
	}
	defer unlock()
	rec, err := s.loadDeal(ctx, session)
	if errors.Is(err, anp.ErrNoDeal) || anp.CodeOf(err) == anp.CodeNotFound {
		return 0, s.deleteDue(ctx, session)
	}
	if err != nil {
		return 0, err
	}
	n, err := s.applyRules(ctx, rec)
	if err == nil && n == 0 {
		err = s.correctDue(ctx, rec)
	}
	return n, err
}

// applyRules logs what is due of rec at the registry's clock, and returns
// how many events it logged.
func (s *Server) applyRules(ctx context.Context, rec *dealRecord) (int, error) {
	n := 0
	if rec.Pending != nil {
		if _, err := s.finishPending(ctx, rec); err != nil {
			return n, err
		}
		n++
	}
	now := s.now().UnixMilli()
	if ev, ok := rec.Life.Due(now); ok {
		if _, err := s.logDealEvent(ctx, rec, ev); err != nil {
			return n, err
		}
		n++
	}
	if outcome, rule, ok := rec.Life.DueResolution(now); ok {
		if _, err := s.resolveAs(ctx, rec, outcome, anp.Decider{Kind: anp.DecidedByRule, ID: rule}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// resolveAs has the arbiter key sign the RESOLVE of rec's dispute and logs
// it (the automatic resolutions; a person resolves with a RESOLVE signed by
// the arbiter key file, `clinch-mcp arbiter resolve`).
func (s *Server) resolveAs(ctx context.Context, rec *dealRecord, outcome string, by anp.Decider) (anp.DealEventEntry, error) {
	env, err := SealResolve(s.arbiter, &rec.Life, outcome, by, s.now())
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	ev, err := rec.Life.Check(env, &s.arbiterCert, s.now().UnixMilli())
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	return s.logDealEvent(ctx, rec, ev)
}

// SealResolve signs with the arbiter key the RESOLVE of l's dispute, as the
// next envelope of its chain.
func SealResolve(arbiter ed25519.PrivateKey, l *anp.Lifecycle, outcome string, by anp.Decider, now time.Time) (*anp.Envelope, error) {
	if l.Dispute == nil {
		return nil, anp.Errorf(anp.CodeBadState, "%v", fmt.Errorf("%w: session %s has no dispute to resolve", anp.ErrDealEventOrder, l.Session))
	}
	return anp.Seal(arbiter, anp.EnvelopeSpec{
		Type: anp.TypeResolve, Session: l.Session, Seq: l.Seq + 1, Prev: l.Head, To: l.SellerDomain, Now: now,
		Body: &anp.ResolveBody{Deal: l.Deal, Dispute: l.Dispute.Hash, Outcome: outcome, DecidedBy: by},
	})
}

// sweepDealsLogged is one round of the deal sweep, logged.
func (s *Server) sweepDealsLogged(ctx context.Context) {
	if !s.isWriter() { // one process applies the rules: the log writer
		return
	}
	n, err := s.SweepDeals(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("apply the deal rules")
	}
	if n > 0 {
		s.log.Info().Int("events", n).Msg("deal rules applied")
	}
}

// Resolve has the arbiter key decide the dispute of session, as a person
// (by names them) — the operator's path inside the registry process; the
// arbiter CLI signs the same RESOLVE with the arbiter key file.
func (s *Server) Resolve(ctx context.Context, session, outcome string, by anp.Decider) (anp.DealEventEntry, error) {
	if !anp.ValidSessionID(session) {
		return anp.DealEventEntry{}, anp.Errorf(anp.CodeBadRequest, "session id must be 32 lower-case hex characters")
	}
	unlock, err := s.lockSession(ctx, session)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	defer unlock()
	rec, err := s.readyDeal(ctx, session)
	if err != nil {
		return anp.DealEventEntry{}, err
	}
	return s.resolveAs(ctx, rec, outcome, by)
}
