package seller

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Registry is what a node needs from the registry; core/registry.Client
// implements exactly these methods.
type Registry interface {
	Bind(ctx context.Context, domain, operatorToken string) (*anp.DomainBinding, error)
	PublishRecord(ctx context.Context, rec anp.SignedRecord) (*anp.Listing, error)
	PostCallback(ctx context.Context, env *anp.Envelope) error
	// KeyChainFor returns the registry's key chain, verified under the
	// pinned registry root key, fetched again when it does not hold key
	// index kid yet. The node verifies the registry's relay signatures with
	// it (relayauth.go).
	KeyChainFor(ctx context.Context, kid uint64) (*anp.KeysResponse, error)
}

// Config configures a Node.
type Config struct {
	Domain       string
	Identity     ed25519.PrivateKey // permanent key bound to Domain; signs every reply and artifacts
	Policy       Policy
	Modes        []anp.Mode // default [ANP/C]
	Categories   []string
	Capabilities []string
	DisplayName  string
	Demo         bool
	Async        bool          // answer COUNTERs through callbacks instead of synchronously
	AsyncDelay   time.Duration // delay before an async answer (tests/demo)
	// AsyncRelease, when set, holds every asynchronous answer after
	// AsyncDelay until it receives one value: whoever holds the channel (a
	// test, a demo) decides when an answer is made, not a clock.
	AsyncRelease <-chan struct{}
	// Attributes are the facts a buyer's QUERY is answered from (warranty,
	// delivery, condition, returns…); nil: the policy answers alone.
	Attributes Attributes
	// Registry is required: the node takes only requests the registry relayed,
	// verified against its key chain, and registers and posts callbacks there.
	Registry   Registry
	SessionTTL time.Duration // idle sessions expire after this, default 1h
	// MinBuyerTrust answers with a REJECT (its message starts with
	// ErrBuyerTrust's text) a PROPOSE whose buyer's reputation (0..100,
	// docs/reputation.md) is below it; a buyer who presents no identity
	// counts as a newcomer (50). 0: no minimum.
	MinBuyerTrust float64
	MaxBodyBytes  int64 // default 64 KiB
	Logger        zerolog.Logger
	Now           func() time.Time

	// Limits of the session table (table.go); zero values take the defaults.
	MaxSessions      int           // sessions held at once, default DefaultMaxSessions
	MaxFreshSessions int           // sessions whose buyer sent only its PROPOSE, default DefaultMaxFreshSessions
	ProposeTTL       time.Duration // how long such a session waits for the buyer's next message, default DefaultProposeTTL
	MaxSessionBytes  int64         // bytes one session may hold, default DefaultMaxSessionBytes
	MaxTotalBytes    int64         // bytes all sessions may hold together, default DefaultMaxTotalBytes()
	// StateDir keeps what must survive a restart: the session ids of the
	// PROPOSEs taken in the last minutes, so that none is taken twice. ""
	// keeps them in memory only (tests and the in-process demo market).
	// One node at a time may use a directory.
	StateDir string
	// Store, when set, keeps every session (store.go): a restart continues
	// each open negotiation, and processes sharing the store apply each
	// buyer message once. nil keeps sessions in memory only.
	Store store.Sessions

	// asyncGate, when set (by tests in this package), holds every
	// asynchronous answer after AsyncDelay until it receives one value from
	// the gate: the test, not a clock, decides when an answer is made.
	asyncGate <-chan struct{}
}

// Defaults and limits of a node.
const (
	DefaultSessionTTL   = time.Hour
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxSessions bounds the sessions a node keeps in memory.
	DefaultMaxSessions = 100_000
	// DefaultMaxFreshSessions bounds the sessions whose buyer sent only its
	// PROPOSE; past it the oldest of them is evicted.
	DefaultMaxFreshSessions = 25_000
	// DefaultProposeTTL is how long a session whose buyer sent only its
	// PROPOSE waits for the buyer's next message before it is evicted: long
	// enough for a person asked by the host to answer, short next to the idle TTL.
	DefaultProposeTTL = 15 * time.Minute
	// DefaultMaxSessionBytes bounds the bytes one session holds.
	DefaultMaxSessionBytes = 256 << 10
	// MaxTranscript bounds the envelopes of one session.
	MaxTranscript = 1024
	// retention is the shortest time an idle session is kept after its last
	// envelope, so that a PROPOSE can never be replayed into a swept id
	// while it is still within its own expiry.
	retention = anp.MaxTTL + anp.MaxClockSkew
)

// Node is a seller node. It is safe for concurrent use.
type Node struct {
	domain  string
	key     ed25519.PrivateKey
	keyHex  string
	credKey *anp.CredentialKey
	policy  Policy
	modes   []anp.Mode
	cfg     Config
	log     zerolog.Logger
	now     func() time.Time

	mu        sync.Mutex
	sessions  map[string]*session
	lastSweep time.Time
	lastSeq   uint64 // endpoint record sequence
	table     table  // limits and accounting of sessions, guarded by mu

	relayKeys relayKeys     // the registry key chain relay signatures are verified with
	used      *usedSessions // session ids of recent PROPOSEs
	stored    storeState    // with Config.Store: tombstones to write
	draining  atomic.Bool   // Drain was called: not ready for new requests
	creds     credSealer    // seals opened credentials in stored sessions

	ctx    context.Context // cancelled by Close; parent of async work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Callback delivery schedule; tests shorten it.
	retryMin, retryMax, retryFor time.Duration
}

// NewNode checks cfg and returns a node.
func NewNode(cfg Config) (*Node, error) {
	cfg, modes, err := cfg.checked()
	if err != nil {
		return nil, err
	}
	credKey, err := anp.DeriveCredentialKey(cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("seller: %w", err)
	}
	used, err := openUsedSessions(cfg.StateDir, cfg.Now(), max(4*cfg.MaxSessions, minUsedSessions))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	keyHex := anp.PublicKeyHex(cfg.Identity.Public().(ed25519.PublicKey))
	n := &Node{
		domain:   cfg.Domain,
		key:      cfg.Identity,
		keyHex:   keyHex,
		credKey:  credKey,
		policy:   cfg.Policy,
		modes:    modes,
		cfg:      cfg,
		log:      cfg.Logger.With().Str("component", "seller").Str("domain", cfg.Domain).Str("key", keyHex[:12]).Logger(),
		now:      cfg.Now,
		sessions: make(map[string]*session),
		table:    newTable(),
		used:     used,
		creds:    newCredSealer(cfg.Identity),
		ctx:      ctx,
		cancel:   cancel,
		retryMin: 250 * time.Millisecond,
		retryMax: 8 * time.Second,
		retryFor: time.Minute,
	}
	n.relayKeys.reg = cfg.Registry
	if cfg.Store != nil {
		n.stored.swept = make(chan struct{})
		go n.sweepStoreLoop()
	}
	return n, nil
}

// checked validates cfg and returns it with its domain normalised and its
// defaults filled in, and the modes the node negotiates in.
func (cfg Config) checked() (Config, []anp.Mode, error) {
	domain, err := anp.NormalizeDomain(cfg.Domain)
	if err != nil {
		return cfg, nil, fmt.Errorf("seller: domain: %w", err)
	}
	cfg.Domain = domain
	if len(cfg.Identity) != ed25519.PrivateKeySize {
		return cfg, nil, fmt.Errorf("seller: identity must be an Ed25519 private key of %d bytes, got %d", ed25519.PrivateKeySize, len(cfg.Identity))
	}
	if err := checkPolicy(cfg.Policy); err != nil {
		return cfg, nil, err
	}
	modes, err := nodeModes(cfg.Modes)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.Registry == nil {
		return cfg, nil, errors.New("seller: a registry is required: the node takes only requests the registry relays, verified against its key chain")
	}
	if cfg.AsyncDelay < 0 {
		return cfg, nil, fmt.Errorf("seller: async delay %s is negative", cfg.AsyncDelay)
	}
	if cfg.asyncGate == nil {
		cfg.asyncGate = cfg.AsyncRelease
	}
	if err := cfg.Attributes.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("seller: %w", err)
	}
	cfg.Attributes = maps.Clone(cfg.Attributes)
	cfg.SessionTTL = defaults.Positive(cfg.SessionTTL, DefaultSessionTTL)
	cfg.MaxBodyBytes = defaults.Positive(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	if err := cfg.checkLimits(); err != nil {
		return cfg, nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, modes, nil
}

// checkPolicy requires a policy, valid when it can tell (a validator).
func checkPolicy(p Policy) error {
	if p == nil {
		return errors.New("seller: a policy is required")
	}
	if v, ok := p.(validator); ok {
		return v.Validate()
	}
	return nil
}

// nodeModes returns a copy of the configured modes, ANP/C when there are
// none, and refuses a mode that is not ANP/A, ANP/B or ANP/C.
func nodeModes(configured []anp.Mode) ([]anp.Mode, error) {
	if len(configured) == 0 {
		return []anp.Mode{anp.ModeC}, nil
	}
	for _, m := range configured {
		if !m.Valid() {
			return nil, fmt.Errorf("seller: mode %q is not ANP/A, ANP/B or ANP/C", m)
		}
	}
	return append([]anp.Mode(nil), configured...), nil
}

// Domain returns the node's normalised domain.
func (n *Node) Domain() string { return n.domain }

// PublicKey returns the hex identity public key that signs the node's envelopes.
func (n *Node) PublicKey() string { return n.keyHex }

// EncryptionKey returns the hex X25519 public key buyers seal blind
// credentials to (see anp.DeriveCredentialKey).
func (n *Node) EncryptionKey() string { return n.credKey.PublicHex() }

// Close stops asynchronous workers and waits for them, and closes the state
// directory's file. Callbacks not yet delivered are abandoned. Close is
// idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	n.cancel() // under mu, so that beginWork never adds a worker after Wait starts
	n.mu.Unlock()
	n.wg.Wait()
	if n.stored.swept != nil {
		<-n.stored.swept
	}
	return n.used.close()
}

// Session returns a snapshot of a session. The credential is left out.
func (n *Node) Session(id string) (SessionView, bool) {
	s := n.get(id)
	if s == nil {
		return SessionView{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return SessionView{}, false
	}
	n.expireIfIdle(s, n.now())
	v := s.view()
	v.Credential = ""
	return v, true
}

// Transcript returns a copy of a session's envelopes as the node holds them
// (buyer envelopes and the node's own replies, in order).
func (n *Node) Transcript(id string) ([]*anp.Envelope, bool) {
	s := n.get(id)
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return nil, false
	}
	return append([]*anp.Envelope(nil), s.transcript.Envelopes...), true
}

// NewHTTPServer returns an http.Server for the node's handler with
// conservative timeouts and header limits. It serves the routes at /; see
// NewHTTPServerAt for an endpoint with a path.
func (n *Node) NewHTTPServer(addr string) *http.Server {
	return n.newHTTPServer(addr, n.Handler())
}

// NewHTTPServerAt is NewHTTPServer serving under the path of endpoint, the
// base URL the node publishes (see HandlerAt).
func (n *Node) NewHTTPServerAt(addr, endpoint string) (*http.Server, error) {
	h, err := n.HandlerAt(endpoint)
	if err != nil {
		return nil, err
	}
	return n.newHTTPServer(addr, h), nil
}

// HandlerAt returns Handler mounted under the path of endpoint, the base URL
// published in the node's endpoint record. Buyers' envelopes arrive at that
// URL plus the route (the registry relays to endpoint + "/handshake" and so
// on), so a node registered as https://shop.example/anp must answer
// /anp/handshake. An endpoint without a path serves the routes at /.
func (n *Node) HandlerAt(endpoint string) (http.Handler, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("seller: endpoint %q is not an http(s) URL", endpoint)
	}
	base := strings.TrimRight(u.Path, "/")
	h := n.Handler()
	if base == "" {
		return h, nil
	}
	inner := http.StripPrefix(base, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, base); !ok || (rest != "" && rest[0] != '/') {
			n.writeError(w, r, anp.Errorf(anp.CodeNotFound, "no route %s: this seller serves under %s", anp.Truncate(r.URL.Path, 100), base))
			return
		}
		inner.ServeHTTP(w, r)
	}), nil
}

func (n *Node) newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(n.log.With().Str("source", "http.Server").Logger(), "", 0),
	}
}

// get returns the session with id, or nil.
func (n *Node) get(id string) *session {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sessions[id]
}

// expireIfIdle moves an open or accepted session that has been idle longer
// than SessionTTL to EXPIRED. The caller holds s.mu.
func (n *Node) expireIfIdle(s *session, now time.Time) {
	if (s.state == StateOpen || s.state == StateAccepted) && !s.pending && now.Sub(s.lastActive) > n.cfg.SessionTTL {
		s.state = StateExpired
		n.log.Info().Str("session", s.id).Msg("session expired")
	}
}

func (n *Node) supports(m anp.Mode) bool {
	for _, x := range n.modes {
		if x == m {
			return true
		}
	}
	return false
}
