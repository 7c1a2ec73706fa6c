package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/keyedlock"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/notify"
)

// Replicas. Any number of registry processes may serve one shared Ledger
// (PostgreSQL) when each is given a Shared. The Ledger and Nonces hold
// every piece of truth (directory, key histories, sessions, deals,
// undelivered callbacks, replay memory, redeemed challenges); what a
// replica keeps in memory is a cache of it:
//
//   - the directory is reloaded per domain when another replica announces
//     a change through the Notifier, and read from the Ledger before every
//     write that depends on it (bind, record, key change) and on a miss;
//   - undelivered callbacks are announced when queued and when ACKed, so a
//     buyer's callback reaches its WebSocket on whichever replica it is
//     connected to; a replica reads the buyer's queue from the Ledger when
//     the buyer authenticates, and every queue when its subscription
//     (re)starts, so nothing missed while disconnected is lost;
//   - the Merkle tree and the reputation book catch up with the Ledger's
//     log before each read of the log;
//   - work on one session or one domain is serialised across replicas by
//     a lease (store.Locks) on top of the in-process lock;
//   - rate limits take their tokens from buckets in the store
//     (store.RateLimiter) when one is given, and stay per process otherwise.
//
// The notifications only say what changed ("d/DOMAIN", "c+/BUYER/ID",
// "c-/BUYER/ID"); the Ledger stays the source of truth, and a lost
// notification costs freshness of a cached listing, never a callback.

// Shared is what registry replicas on one store share besides the Ledger
// and the Nonces (Config.Shared).
type Shared struct {
	Notifier notify.Notifier   // required: change announcements between replicas
	Locks    store.Locks       // required: session and domain leases
	Limiter  store.RateLimiter // optional: shared rate-limit buckets; nil => per process
}

// Notification prefixes between replicas.
const (
	msgDomain   = "d/"  // + domain: its binding, record or key history changed
	msgStats    = "s/"  // + domain: its statistics changed
	msgCallback = "c+/" // + buyer/id: a callback was queued for buyer
	msgACK      = "c-/" // + buyer/id: buyer ACKed it
)

// Lease timing. A lease is renewed every leaseRenew while its holder works
// under it, so work may take any time, and a lease of a process that died
// lapses within leaseTTL.
const (
	leaseTTL      = 8 * time.Second
	leaseRenew    = leaseTTL / 4
	leaseMinWait  = 2 * time.Millisecond  // first wait for a held lease
	leaseMaxWait  = 50 * time.Millisecond // longest wait between attempts
	unlockTimeout = 5 * time.Second
)

// ErrShared is returned by New for an incomplete Config.Shared.
var ErrShared = errors.New("registry: Config.Shared needs a Notifier and Locks")

func (sh *Shared) check() error {
	if sh.Notifier == nil || sh.Locks == nil {
		return ErrShared
	}
	return nil
}

// lockSession serialises work on session id: in this process, and with a
// lease across replicas.
func (s *Server) lockSession(ctx context.Context, id string) (func(), error) {
	return s.lockNamed(ctx, &s.sessions, id, "session/"+id)
}

// lockDomain serialises updates of one domain's directory entries.
func (s *Server) lockDomain(ctx context.Context, domain string) (func(), error) {
	return s.lockNamed(ctx, &s.domains, domain, "domain/"+domain)
}

// lockNamed takes key in m and, with replicas, the lease name.
func (s *Server) lockNamed(ctx context.Context, m *keyedlock.Map, key, name string) (func(), error) {
	unlockLocal := m.Lock(key)
	if s.shared == nil {
		return unlockLocal, nil
	}
	owner := s.instance + "/" + randomHex(8)
	wait := leaseMinWait
	for {
		now := time.Now() // leases are wall-clock, whatever clock the registry runs on
		ok, err := s.shared.Locks.TryLock(ctx, name, owner, now, now.Add(leaseTTL))
		if err != nil {
			unlockLocal()
			if ctx.Err() != nil {
				return nil, anp.Errorf(anp.CodeUnavailable, "%s is busy on another registry replica: %v", name, ctx.Err())
			}
			return nil, fmt.Errorf("registry: take the lease on %s: %w", name, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			unlockLocal()
			return nil, anp.Errorf(anp.CodeUnavailable, "%s is busy on another registry replica: %v", name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, leaseMaxWait)
	}
	stopRenewing := s.renewLease(name, owner)
	return func() {
		stopRenewing()
		uctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		if err := s.shared.Locks.Unlock(uctx, name, owner); err != nil {
			s.log.Warn().Err(err).Str("lease", name).Msg("release lease: it expires on its own")
		}
		unlockLocal()
	}, nil
}

// renewLease renews owner's lease on name every leaseRenew until the
// returned function is called (and returns once the renewal stopped).
func (s *Server) renewLease(name, owner string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runEvery(ctx, leaseRenew, func(ctx context.Context) {
			now := time.Now()
			ok, err := s.shared.Locks.TryLock(ctx, name, owner, now, now.Add(leaseTTL))
			if ctx.Err() == nil && (err != nil || !ok) {
				s.log.Error().Err(err).Bool("lost", !ok).Str("lease", name).Msg("renew lease: another replica may take it")
			}
		})
	}()
	return func() { cancel(); <-done }
}

// announce tells the other replicas that something changed; a failure is
// logged (they catch up on a miss or on their next resubscription).
func (s *Server) announce(ctx context.Context, msg string) {
	if s.shared == nil {
		return
	}
	if err := s.shared.Notifier.Publish(ctx, msg); err != nil {
		s.log.Warn().Err(err).Str("change", msg).Msg("announce a change to the other replicas")
	}
}

// startSubscription subscribes to the other replicas' announcements, in
// the background until ctx ends, when there are replicas.
func (s *Server) startSubscription(ctx context.Context) {
	if s.shared == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.subscribe(ctx)
	}()
}

// subscribe applies the other replicas' announcements until ctx ends.
func (s *Server) subscribe(ctx context.Context) {
	err := s.shared.Notifier.Subscribe(ctx, func(msg string) { s.applyChange(ctx, msg) })
	if err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("replica subscription ended")
	}
}

// changeKind is what a replica announcement names.
type changeKind int

const (
	changeAll      changeKind = iota // anything may have changed (AllSessions)
	changeDomain                     // a domain's directory entries
	changeStats                      // a domain's statistics
	changeCallback                   // a callback queued for a buyer
	changeACK                        // a callback ACKed by its buyer
)

// change is a parsed announcement.
type change struct {
	kind      changeKind
	domain    string // changeDomain, changeStats
	buyer, id string // changeCallback, changeACK
}

// ErrBadChange is returned by parseChange for an announcement it cannot
// read (another program on the channel, or a newer registry).
var ErrBadChange = errors.New("registry: unreadable replica announcement")

// parseChange reads an announcement: AllSessions, d/DOMAIN, s/DOMAIN,
// c+/BUYER/ID or c-/BUYER/ID, where DOMAIN is a valid domain, BUYER a
// public key in hex and ID an envelope hash in hex.
func parseChange(msg string) (change, error) {
	if msg == notify.AllSessions {
		return change{kind: changeAll}, nil
	}
	for prefix, kind := range map[string]changeKind{msgDomain: changeDomain, msgStats: changeStats} {
		if d, ok := strings.CutPrefix(msg, prefix); ok {
			if err := anp.ValidateDomain(d); err != nil {
				return change{}, fmt.Errorf("%w %q: %v", ErrBadChange, msg, err)
			}
			return change{kind: kind, domain: d}, nil
		}
	}
	kind, rest := changeCallback, ""
	if r, ok := strings.CutPrefix(msg, msgCallback); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(msg, msgACK); ok {
		kind, rest = changeACK, r
	} else {
		return change{}, fmt.Errorf("%w %q: unknown kind", ErrBadChange, msg)
	}
	buyer, id, ok := strings.Cut(rest, "/")
	if !ok || !isHex(buyer, 64) || !isHex(id, 64) {
		return change{}, fmt.Errorf("%w %q: want BUYER/ID, 64 hex digits each", ErrBadChange, msg)
	}
	return change{kind: kind, buyer: buyer, id: id}, nil
}

// isHex reports whether v is n lower-case hex digits.
func isHex(v string, n int) bool {
	if len(v) != n {
		return false
	}
	for _, c := range v {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// applyChange refreshes what announcement msg names.
func (s *Server) applyChange(ctx context.Context, msg string) {
	c, err := parseChange(msg)
	if err == nil {
		err = s.apply(ctx, c)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Str("change", msg).Msg("apply another replica's change")
	}
}

func (s *Server) apply(ctx context.Context, c change) error {
	switch c.kind {
	case changeAll:
		if err := s.directory.reloadAll(ctx); err != nil {
			return err
		}
		if err := s.hub.syncAll(ctx); err != nil {
			return err
		}
		s.subscribed.Store(true)
	case changeDomain:
		return s.directory.refreshDomain(ctx, c.domain)
	case changeStats:
		return s.directory.refreshStats(ctx, c.domain)
	case changeCallback:
		return s.hub.fetch(ctx, pendingKey(c.buyer, c.id))
	case changeACK:
		s.hub.drop(c.buyer, c.id)
	}
	return nil
}

// freshDomain reads domain's directory entries from the Ledger when other
// replicas may have changed them.
func (s *Server) freshDomain(ctx context.Context, domain string) error {
	if s.shared == nil {
		return nil
	}
	return s.directory.refreshDomain(ctx, domain)
}

// domainOnMiss reads domain from the Ledger when this replica does not know
// it: another replica may have bound it a moment ago.
func (s *Server) domainOnMiss(ctx context.Context, domain string) error {
	if _, ok := s.directory.binding(domain); ok {
		return nil
	}
	return s.freshDomain(ctx, domain)
}

// freshLog brings the Merkle tree and what is read from it up to the
// Ledger's log, which other replicas append to.
func (s *Server) freshLog(ctx context.Context) error {
	if s.shared == nil {
		return nil
	}
	return s.tree.refresh(ctx)
}

// refresh replaces the chain with the Ledger's (a rotation by another
// replica).
func (k *keyChain) refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reload(ctx)
}

// chainKey returns the chain entry kid; with replicas, an index just past
// the known chain reads the chain again (another replica rotated).
func (s *Server) chainKey(ctx context.Context, kid uint64) (anp.KeyEntry, bool) {
	e, ok := s.keys.entry(kid)
	if ok || s.shared == nil || kid > uint64(len(s.keys.chain()))+1 {
		return e, ok
	}
	if err := s.keys.refresh(ctx); err != nil {
		s.log.Warn().Err(err).Msg("read the key chain rotated by another replica")
		return anp.KeyEntry{}, false
	}
	return s.keys.entry(kid)
}

// Readiness. /healthz says the process runs; /readyz says it should get
// traffic: not draining, its Ledger answers, and (with replicas) it has
// subscribed to the other replicas' changes.

// RouteReady is the registry's readiness route.
const RouteReady = "/readyz"

// readyTimeout bounds the Ledger check of /readyz.
const readyTimeout = 2 * time.Second

// Ready reports whether the registry should get traffic.
func (s *Server) Ready(ctx context.Context) error {
	if s.draining.Load() {
		return anp.Errorf(anp.CodeUnavailable, "the registry is draining: it is shutting down")
	}
	if s.shared != nil && !s.subscribed.Load() {
		return anp.Errorf(anp.CodeUnavailable, "the registry has not yet subscribed to the other replicas' changes")
	}
	cctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := s.ledger.Size(cctx); err != nil {
		return anp.Errorf(anp.CodeUnavailable, "the ledger does not answer: %v", err)
	}
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.Ready(r.Context()); err != nil {
		var ae *anp.Error
		if !errors.As(err, &ae) {
			ae = anp.Errorf(anp.CodeUnavailable, "%v", err)
		}
		s.writeJSON(w, http.StatusServiceUnavailable, anp.ErrorBody{Error: ae}) // what load balancers read as "not ready"
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// OnDrain registers fn to run when Drain is called, before the listener
// closes (a hand-off of work this replica holds, such as a log lease).
func (s *Server) OnDrain(fn func(context.Context)) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	s.drainHooks = append(s.drainHooks, fn)
}

// Drain makes /readyz answer 503 from now on, so that a load balancer
// stops sending new requests, and runs the OnDrain hooks once. Requests
// in flight are not affected: the HTTP server's Shutdown waits for them.
func (s *Server) Drain(ctx context.Context) {
	if s.draining.Swap(true) {
		return
	}
	s.drainMu.Lock()
	hooks := append([]func(context.Context){}, s.drainHooks...)
	s.drainMu.Unlock()
	for _, fn := range hooks {
		fn(ctx)
	}
}

// withFreshLog catches the tree up with the Ledger before a log route.
func (s *Server) withFreshLog(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.freshLog(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	}
}
