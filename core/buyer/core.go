// Package buyer is ClinchCore, the buyer engine: sessions with a state
// machine, signed envelopes under one ephemeral key per session, the budget
// guardrail, approval and triple signing, cascades, events and sealed
// export/import. It speaks to sellers only through the registry relay.
package buyer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/keyedlock"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// Registry is what the engine needs from the registry; *registry.Client
// implements it.
type Registry interface {
	Token(ctx context.Context) (string, error)
	// DiscoverMin lists sellers whose reputation (0..100) is at least minTrust.
	DiscoverMin(ctx context.Context, category string, mode anp.Mode, limit int, minTrust float64) ([]anp.Listing, error)
	// PartyReputation returns a party's reputation as the registry computes
	// it from its log, at its time (at zero) or at at.
	PartyReputation(ctx context.Context, party string, at time.Time) (*reputation.PartyReport, error)
	Listing(ctx context.Context, domain string) (*anp.Listing, error)
	Relay(ctx context.Context, domain string, env *anp.Envelope) (*anp.RelayResponse, error)
	// Notarize has the registry countersign and log a deal signed by both
	// parties. It returns only the same deal, fully verified against the
	// pinned registry root key (signatures, key chain, log inclusion); the
	// engine does not verify it again.
	Notarize(ctx context.Context, a *anp.Artifact) (*anp.Artifact, error)
	Subscribe(ctx context.Context, handle func(context.Context, *anp.Envelope) error, onStatus func(string)) error
}

// LogChecker is implemented by a Registry that watches the registry's
// transparency log (*registry.Client). CheckLog fetches the registry's
// current signed tree head and checks it against the newest one seen; it
// returns an error only when the log is forked (two signed heads that
// cannot both be true), and the engine then opens and signs no new deal.
type LogChecker interface {
	CheckLog(ctx context.Context) error
}

// Credentials seals a buyer's blind per-domain credentials for a seller
// (implemented by *secrets.BlindKeys). A nil Credentials, or one without a
// credential for a seller's domain, sends none.
type Credentials interface {
	// Has reports whether there is a credential for domain.
	Has(domain string) bool
	// Seal seals the credential for scope.Domain to the seller's encryption
	// key for one session and the buyer session key that signs its PROPOSE
	// (anp.SealCredential); ok is false when there is none.
	Seal(sellerEncKey string, scope anp.CredentialScope) (sealed string, ok bool, err error)
}

// Config configures an engine.
type Config struct {
	Identity    ed25519.PrivateKey // permanent identity; seals session keys and exports
	Registry    Registry
	Sessions    store.Sessions // nil => in memory
	BlindKeys   Credentials    // per-domain credentials, sealed to each seller
	Logger      zerolog.Logger
	Now         func() time.Time
	SessionTTL  time.Duration // default 24h
	MaxTurns    int           // default 8
	EnvelopeTTL time.Duration // default 5m
	// NudgeAfter is how long WaitForSeller waits in silence before it re-asks
	// the seller (default 10s).
	NudgeAfter time.Duration
	// AutoApproveBelow, when set, lets NegotiateAutonomously sign deals
	// strictly below this amount (same currency) without asking. Off by default.
	AutoApproveBelow *anp.Money
	// Notifier shares "session changed" events between engines (pods) that
	// share Sessions, so a pod waiting for a seller's answer wakes up when
	// another pod processed it. Nil: this engine only.
	Notifier Notifier
	// KeyPins remembers each seller's key as first dealt with, for this
	// engine's registry (pins.go). Nil: in memory.
	KeyPins KeyPins
	// Approval says who must approve a deal before it is signed
	// (approval.go). The zero value asks the person when the caller can
	// reach one and otherwise signs when the caller asks.
	Approval ApprovalPolicy
	// Participants are the names of the people who may sit in decision
	// rooms (each authenticated by its own credential at the entry point).
	Participants []string
	// PresentIdentity names the identity key in every PROPOSE (and so in
	// every deal): the buyer's deals then count toward its reputation, and
	// sellers that require a buyer minimum can see it. Off by default:
	// sessions stay unlinkable and the buyer is a newcomer to every seller.
	PresentIdentity bool
	// MinTrust is the lowest seller reputation (0..100, docs/reputation.md)
	// discovery and cascades accept: a floor that a request can raise but
	// not lower. 0: none.
	MinTrust float64
}

// Notifier publishes and receives session-changed events across processes.
type Notifier interface {
	Publish(ctx context.Context, sessionID string) error
	// Subscribe calls fn for every published id until ctx ends.
	Subscribe(ctx context.Context, fn func(sessionID string)) error
}

// Core is the buyer engine. All methods are safe for concurrent use.
type Core struct {
	cfg     Config
	log     zerolog.Logger
	store   store.Sessions
	locks   keyedlock.Map // one lock per session id, shared by every move, callback and nudge
	events  eventBus
	waiters waiters
	changes hookSet[string]   // OnSessionChange
	checked *readonce.Digests // record bytes already read strictly or written (decodeRecord)
	hot     hotRecords        // the records saved last, decoded (decodeRecord)
	sigs    *anp.SigCache     // signatures this engine made or verified (the registry client's when it has one)

	subCancel  context.CancelFunc
	subDone    chan struct{}
	notifyDone chan struct{}
}

// New builds an engine. It does not contact the registry; call Initialize.
func New(cfg Config) (*Core, error) {
	if len(cfg.Identity) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("buyer: identity key is missing")
	}
	if cfg.Registry == nil {
		return nil, fmt.Errorf("buyer: registry is missing")
	}
	if cfg.Sessions == nil {
		cfg.Sessions = memstore.NewSessions()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyPins == nil {
		cfg.KeyPins = &MemPins{}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 8
	}
	if cfg.EnvelopeTTL <= 0 {
		cfg.EnvelopeTTL = 5 * time.Minute
	}
	if cfg.NudgeAfter <= 0 {
		cfg.NudgeAfter = 10 * time.Second
	}
	sigs := anp.NewSigCache(anp.DefaultSigCacheSize)
	if sc, ok := cfg.Registry.(interface{ SigCache() *anp.SigCache }); ok && sc.SigCache() != nil {
		sigs = sc.SigCache()
	}
	return &Core{cfg: cfg, log: cfg.Logger, store: cfg.Sessions, events: eventBus{status: StatusOffline}, sigs: sigs, checked: readonce.New(maxCheckedRecords)}, nil
}

// Initialize authenticates with the registry (proof of work, or a cached
// token already set on the registry client) and keeps a WebSocket open for
// seller callbacks, reconnecting with exponential backoff. It returns once
// the first connection is authenticated or ctx ends.
func (c *Core) Initialize(ctx context.Context) error {
	c.events.setStatus(StatusConnecting)
	if _, err := c.cfg.Registry.Token(ctx); err != nil {
		c.events.setStatus(StatusError)
		return fmt.Errorf("buyer: authenticate with registry: %w", err)
	}
	if c.subCancel != nil {
		return nil
	}
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.subCancel = cancel
	c.subDone = make(chan struct{})
	if c.cfg.Notifier != nil {
		c.notifyDone = make(chan struct{})
		go func() {
			defer close(c.notifyDone)
			if err := c.cfg.Notifier.Subscribe(subCtx, c.changed); err != nil && subCtx.Err() == nil {
				c.log.Error().Err(err).Msg("session notifications ended")
			}
		}()
	}
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(c.subDone)
		err := c.cfg.Registry.Subscribe(subCtx, c.handleCallback, func(s string) {
			c.events.setStatus(Status(s))
			if s == string(StatusIdle) {
				once.Do(func() { close(ready) })
			}
		})
		if err != nil && subCtx.Err() == nil {
			c.log.Error().Err(err).Msg("callback subscription ended")
			c.events.setStatus(StatusError)
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("buyer: waiting for the registry websocket: %w", ctx.Err())
	}
}

// Close stops the callback subscription.
func (c *Core) Close() {
	if c.subCancel != nil {
		c.subCancel()
		<-c.subDone
		if c.notifyDone != nil {
			<-c.notifyDone
		}
		c.subCancel = nil
	}
	c.events.setStatus(StatusOffline)
}

// moveWait bounds how long a move waits for a session lock held by
// bookkeeping (a seller answer being applied) before it reports ErrBusy.
const moveWait = 3 * time.Second

// beginMove serialises one buyer move on a session. It waits briefly for the
// lock, then refuses with ErrBusy when the session changed while it waited:
// of several concurrent moves exactly one applies, the others get a conflict
// instead of silently playing the next turn. It returns the unlock function
// and the session as loaded under the lock.
func (c *Core) beginMove(ctx context.Context, id string) (func(), *record, error) {
	entry, err := c.loadStored(ctx, id) // the version only: the record is decoded once, under the lock
	if err != nil {
		return nil, nil, err
	}
	unlock, err := c.locks.LockWithin(ctx, id, moveWait)
	if err != nil {
		return nil, nil, fmt.Errorf("session %s: %w; wait for it to finish and read the session again", id, ErrBusy)
	}
	r, err := c.load(ctx, id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if r.Session.Version != entry.Version {
		unlock()
		return nil, nil, fmt.Errorf("session %s: %w: it changed while this move waited (now %s, turn %d); read it again before moving", id, ErrBusy, r.Session.State, r.Session.Turn)
	}
	return unlock, r, nil
}

// load reads and decodes a session record.
func (c *Core) load(ctx context.Context, id string) (*record, error) {
	sr, err := c.loadStored(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.decodeRecord(sr)
}

// loadStored reads the stored bytes of a session record without decoding them.
func (c *Core) loadStored(ctx context.Context, id string) (store.SessionRecord, error) {
	if !anp.ValidSessionID(id) {
		return store.SessionRecord{}, fmt.Errorf("session id %q: %w: must be 32 hex characters", id, ErrInvalidInput)
	}
	sr, err := c.store.Load(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.SessionRecord{}, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("buyer: load session %s: %w", id, err)
	}
	return sr, nil
}

// save writes a record with optimistic concurrency and notifies waiters.
func (c *Core) save(ctx context.Context, r *record) error {
	r.Session.UpdatedAt = c.cfg.Now().UTC()
	r.Session.TranscriptLen = len(r.Transcript.Envelopes)
	data, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("buyer: encode session: %w", err)
	}
	v, err := c.store.Save(ctx, store.SessionRecord{ID: r.Session.ID, Version: r.Session.Version, Data: data, UpdatedAt: r.Session.UpdatedAt})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("session %s: %w", r.Session.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("buyer: save session %s: %w", r.Session.ID, err)
	}
	r.Session.Version = v
	sum := readonce.Sum(data)
	c.checked.Add(r.Session.ID, sum)
	c.hot.put(sum, r)
	c.changed(r.Session.ID)
	if c.cfg.Notifier != nil {
		if err := c.cfg.Notifier.Publish(ctx, r.Session.ID); err != nil {
			c.log.Warn().Err(err).Str("session", r.Session.ID).Msg("publish session change")
		}
	}
	return nil
}

func (c *Core) sessionKey(r *record) (ed25519.PrivateKey, error) {
	seed, err := anp.OpenSecretBytes(c.cfg.Identity, anp.SecretSessionKey, r.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("buyer: open session key of %s: %w", r.Session.ID, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("buyer: session key of %s has the wrong size", r.Session.ID)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func newSessionKey() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

// GetSession returns a snapshot. Expired sessions are reported as EXPIRED.
func (c *Core) GetSession(ctx context.Context, id string) (Session, error) {
	if s, ok := c.peekSession(ctx, id); ok {
		return s, nil
	}
	r, err := c.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	c.expireIfDue(ctx, r)
	if d := r.Session.Decision; d != nil {
		r.Session.Decision = d.settle(c.cfg.Now().UTC())
	}
	return r.Session, nil
}

// peekSession reads only the session snapshot of a stored record whose
// bytes were already read strictly (or written) by this engine, and that
// needs no expiry: a read that skips the transcript instead of decoding it.
// ok is false when the full path (load, expireIfDue) must answer.
func (c *Core) peekSession(ctx context.Context, id string) (Session, bool) {
	if !anp.ValidSessionID(id) {
		return Session{}, false
	}
	sr, err := c.store.Load(ctx, id)
	if err != nil {
		return Session{}, false
	}
	sum := readonce.Sum(sr.Data)
	if !c.checked.Has(sr.ID, sum) {
		return Session{}, false
	}
	s, ok := c.hot.session(id, sum) // the record this engine saved last, as these bytes
	if !ok {
		s, ok = leadingSession(sr.Data)
	}
	if !ok {
		return Session{}, false
	}
	if !s.State.Terminal() && !c.cfg.Now().Before(s.Deadline) {
		return Session{}, false
	}
	s.Version = sr.Version
	return s, true
}

// leadingSession decodes the session snapshot of a record whose bytes were
// already read strictly: the record's first member, or its second after
// the form of a form-2 record, as the engine writes them (the field order
// of record and storedRecord), decoded without scanning the transcript
// after it. Bytes whose session comes later take the whole decode.
func leadingSession(data []byte) (Session, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Session{}, false
	}
	k, err := dec.Token()
	if err == nil && k == "form" {
		var form int
		if dec.Decode(&form) != nil || form != recordForm {
			return Session{}, false
		}
		var ss storedSession
		if k, err := dec.Token(); err != nil || k != "session" || dec.Decode(&ss) != nil {
			return Session{}, false
		}
		return ss.toSession(), true
	}
	if err == nil && k == "session" {
		var s Session
		if dec.Decode(&s) != nil {
			return Session{}, false
		}
		return s, true
	}
	var only struct {
		Session Session `json:"session"`
	}
	if json.Unmarshal(data, &only) != nil {
		return Session{}, false
	}
	return only.Session, true
}

// ListSessions returns snapshots of every session, oldest first.
func (c *Core) ListSessions(ctx context.Context) ([]Session, error) {
	recs, err := c.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("buyer: list sessions: %w", err)
	}
	out := make([]Session, 0, len(recs))
	for _, sr := range recs {
		r, err := c.decodeRecord(sr)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Session)
	}
	sortSessions(out)
	return out, nil
}

// Transcript returns the verified envelopes of a session.
func (c *Core) Transcript(ctx context.Context, id string) ([]*anp.Envelope, error) {
	r, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Transcript.Envelopes, nil
}

// expireIfDue moves a non-terminal session past its deadline to EXPIRED.
func (c *Core) expireIfDue(ctx context.Context, r *record) {
	if r.Session.State.Terminal() || c.cfg.Now().Before(r.Session.Deadline) {
		return
	}
	unlock, err := c.locks.LockWithin(ctx, r.Session.ID, 0)
	if err != nil {
		return // somebody is moving the session; it expires on their save or the next read
	}
	defer unlock()
	fresh, err := c.load(ctx, r.Session.ID)
	if err != nil || fresh.Session.State.Terminal() {
		return
	}
	fresh.Session.State = StateExpired
	fresh.Session.Reason = "the session deadline passed"
	fresh.Session.AwaitingSeller = false
	if err := c.save(ctx, fresh); err == nil {
		*r = *fresh
		c.events.emit(Event{Type: EventStatusChanged, Session: &fresh.Session})
	}
}

// checkRegistryLog refuses a new deal when the registry's log watcher has
// seen a fork. A Registry without a log watcher checks nothing.
func (c *Core) checkRegistryLog(ctx context.Context, op string) error {
	lc, ok := c.cfg.Registry.(LogChecker)
	if !ok {
		return nil
	}
	if err := lc.CheckLog(ctx); err != nil {
		c.log.Error().Err(err).Str("op", op).Msg("refusing a new deal: the registry's log is not trustworthy")
		return fmt.Errorf("%s: %w: %w", op, ErrRefused, err)
	}
	return nil
}

// Discover lists verified sellers in a category (all categories when empty).
func (c *Core) Discover(ctx context.Context, category string, mode anp.Mode, limit int, minTrust float64) ([]anp.Listing, error) {
	l, err := c.cfg.Registry.DiscoverMin(ctx, category, mode, limit, c.minTrust(minTrust))
	if err != nil {
		return nil, remoteError("discover sellers", err)
	}
	return l, nil
}

// minTrust is the reputation floor of a discovery: the one requested, or
// the engine's MinTrust when that is higher.
func (c *Core) minTrust(requested float64) float64 { return max(requested, c.cfg.MinTrust) }

// Reputation returns a party's reputation (a seller domain, or a buyer as
// id:KEY or key:KEY) as the registry computes it from its public log.
func (c *Core) Reputation(ctx context.Context, party string) (*reputation.PartyReport, error) {
	r, err := c.cfg.Registry.PartyReputation(ctx, party, time.Time{})
	if err != nil {
		return nil, remoteError("reputation of "+party, err)
	}
	return r, nil
}
