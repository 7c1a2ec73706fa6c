// Package registry is the ANP registry server and its Go client.
//
// The registry authenticates clients with a key-bound proof of work, binds
// seller domains to keys with per-domain enrolment grants and logs every
// binding, rotation and revocation (control plane), stores seller-signed
// endpoint records (data plane) and ranks them for discovery, relays buyer
// envelopes to sellers while witnessing every session transcript, pushes
// seller callbacks to buyers over an authenticated WebSocket, and notarises
// deal artifacts into an RFC 9162 transparency log.
package registry

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/defaults"
	"github.com/clinch-protocol/clinch-mcp/core/internal/keyedlock"
	"github.com/clinch-protocol/clinch-mcp/core/internal/readonce"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/memstore"
)

// Defaults of Config.
const (
	DefaultDifficulty         = 18
	DefaultTokenTTL           = 15 * time.Minute
	DefaultKeyLifetime        = 24 * time.Hour
	DefaultSellerTimeout      = 10 * time.Second
	DefaultMaxBodyBytes       = 256 << 10
	DefaultMaxSessionBytes    = 256 << 10
	MinMaxSessionBytes        = 16 << 10 // the smallest Config.MaxSessionBytes
	DefaultRedeliveryInterval = 2 * time.Second
	DefaultDealSweep          = time.Minute
)

// Limits and windows the registry enforces.
const (
	challengeTTL       = 2 * time.Minute
	signedTSWindow     = 5 * time.Minute // bind requests and endpoint records
	wsAuthWindow       = 2 * time.Minute
	wsAuthDeadline     = 10 * time.Second
	maxSellerResponse  = 256 << 10
	defaultDiscover    = 10
	maxDiscover        = 50
	maxBatchLeaves     = 1024
	operatorAuthPrefix = "Bearer "
)

// Config configures a registry Server. Zero values take the defaults above.
type Config struct {
	Root                  ed25519.PrivateKey // long-term root identity; signs key-chain entries
	Ledger                store.Ledger       // durable state; nil => in memory
	Nonces                store.Nonces       // replay memory; nil => in memory
	Difficulty            int                // PoW bits demanded (default 18)
	TokenTTL              time.Duration      // default 15m
	KeyLifetime           time.Duration      // chain signing key rotation period, default 24h
	OpenEnrollment        bool               // dev/demo: domains may be bound without an enrolment grant (first come)
	AllowPrivateEndpoints bool               // dev: endpoint records may point at loopback/private/link-local
	SellerTimeout         time.Duration      // per relayed request to a seller, default 10s
	MaxBodyBytes          int64              // default 256 KiB; larger => 413
	MaxSessionBytes       int64              // bytes of one witnessed session's stored record, default 256 KiB, at least 16 KiB; past it => 413
	RedeliveryInterval    time.Duration      // WS callback redelivery until ACK, default 2s
	Logger                zerolog.Logger
	Now                   func() time.Time // default time.Now
	SellerHTTP            *http.Client     // optional override for relaying; default is SSRF-guarded

	// Shared makes this process one of several registry replicas on one
	// shared Ledger (replicas.go); nil => the only registry process on it.
	Shared *Shared

	// Abuse limits (limits.go), kept per process unless Shared has a
	// Limiter. Rates are per second; 0
	// takes the default, a negative rate turns that limit off.
	AuthRate              float64        // challenge + token requests per source address, default 20
	AuthBurst             int            // default 200
	WSUpgradeRate         float64        // WebSocket upgrades per source address, default 2
	WSUpgradeBurst        int            // default 50
	SessionRate           float64        // new sessions per buyer identity, default 1
	SessionBurst          int            // default 60
	ReportRate            float64        // full reputation reports (GET /v1/reputation) per source address, default 1
	ReportBurst           int            // default 20
	MaxPendingWS          int            // WebSockets not yet authenticated, at once, default 256
	MaxWS                 int            // WebSockets at once, authenticated or not, default 4096
	MaxWSPerIdentity      int            // authenticated WebSockets per identity, default 16
	MaxCallbacksPerSeller int            // undelivered callbacks one seller may queue for one buyer, default 64
	LimiterTable          int            // sources (or identities) each rate limiter remembers, default 65536
	TrustedProxies        []netip.Prefix // TCP peers whose X-Forwarded-For names the client; none by default
	EndpointPorts         []uint16       // endpoint ports allowed besides 80, 443 and 8443
	SessionTTL            time.Duration  // a witnessed session idle this long is deleted unless notarised, default 24h
	SessionSweep          time.Duration  // how often idle sessions are deleted, default 10m

	// The log writer (logwriter.go), on a Ledger several processes share
	// (one that implements store.LogLeaser, PostgreSQL): the process
	// holding the lease appends, the others forward to the URL it
	// advertises.
	Advertise   string        // this process's URL as the other registry processes reach it (RouteLogForward)
	LogLeaseTTL time.Duration // the lease lapses this long after its last renewal, default 5s; renewed every third of it

	// The deal lifecycle (deals.go).
	Arbiter   ed25519.PrivateKey // signs RESOLVE envelopes; nil => a key kept in the Ledger
	DealSweep time.Duration      // how often the deal rules (breach, lapse, rule resolutions) run, default 1m
}

// Server is a registry. Create it with New.
type Server struct {
	cfg         Config
	log         zerolog.Logger
	now         func() time.Time
	ledger      store.Ledger
	nonces      store.Nonces
	keys        *keyChain
	tree        *merkleLog
	writer      *logWriter // nil: this process is the log's only writer
	challenges  *challengeMinter
	limits      *limits
	sellerHTTP  *http.Client
	lookup      *endpointGuard // the endpoint checks of published records (resolver, ports)
	sessions    keyedlock.Map  // per-session serialisation of relay, callback, notary
	idle        *idleSessions  // sessions the sweep may delete
	domains     keyedlock.Map  // per-domain serialisation of record updates
	directory   *directory
	rep         *reputationLog // reputation.go
	hub         *hub
	upgrader    *websocket.Upgrader
	handler     http.Handler
	arbiter     ed25519.PrivateKey
	arbiterCert anp.ArbiterKey
	tokens      *anp.SigCache     // token signatures verified: a token is checked once, not on every request
	checked     *readonce.Digests // stored session bytes written or already read strictly
	decoded     *decodedSessions  // the decoded records of the sessions used last
	passed      *passedTokens     // bearer tokens that passed every check of their bytes
	ownLeaves   *ownLeaves        // reputation facts of the leaves this registry appended

	shared     *Shared     // nil: the only process on the Ledger
	instance   string      // names this process's leases
	subscribed atomic.Bool // the replica subscription is established
	draining   atomic.Bool // Drain was called: /readyz answers 503
	drainMu    sync.Mutex
	drainHooks []func(context.Context)

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New creates a registry: it loads (or creates) the key chain from the
// Ledger, opens the Merkle tree stored there (hashing only leaves stored
// without their tree nodes), loads bindings, records and statistics,
// indexes the sessions the idle sweep may delete, restores undelivered
// callbacks, and starts the callback redelivery loop and the idle-session
// sweep. Call Close to stop it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		tokens:     anp.NewSigCache(tokenCacheSize),
		checked:    readonce.New(maxCheckedSessions),
		decoded:    newDecodedSessions(maxDecodedSessions),
		passed:     newPassedTokens(tokenCacheSize),
		ownLeaves:  newOwnLeaves(maxOwnLeaves),
		cfg:        cfg,
		log:        cfg.Logger.With().Str("component", "registry").Logger(),
		now:        cfg.Now,
		ledger:     cfg.Ledger,
		nonces:     cfg.Nonces,
		limits:     newLimits(cfg),
		idle:       newIdleSessions(),
		sellerHTTP: cfg.SellerHTTP,
		shared:     cfg.Shared,
		instance:   randomHex(8),
	}
	s.shareLimits()
	s.lookup = newEndpointGuard(defaultLookup, cfg.EndpointPorts, s.log)
	if s.challenges, err = newChallengeMinter(cfg.Root); err != nil {
		return nil, err
	}
	if s.sellerHTTP == nil {
		s.sellerHTTP = newSellerClient(cfg.AllowPrivateEndpoints)
	}
	var relayPorts map[uint16]bool // development mode relays to any port
	if !cfg.AllowPrivateEndpoints {
		relayPorts = s.lookup.ports
	}
	s.sellerHTTP = quietClient(s.sellerHTTP, relayPorts, s.log)
	if s.keys, err = loadKeyChain(ctx, cfg.Root, s.ledger, cfg.KeyLifetime, s.now, s.log); err != nil {
		return nil, err
	}
	if s.tree, err = openMerkleLog(ctx, s.ledger, s.log); err != nil {
		return nil, err
	}
	if err := s.startLogWriter(ctx); err != nil {
		return nil, err
	}
	if err := s.loadArbiter(ctx); err != nil {
		return nil, err
	}
	if s.directory, err = loadDirectory(ctx, s.ledger); err != nil {
		return nil, err
	}
	s.directory.peers = s.directoryPeers()
	if err := s.logUnloggedBindings(ctx); err != nil {
		return nil, err
	}
	s.rep = newReputationLog()
	if err := s.withReputation(ctx, func(*reputation.Book, uint64, time.Time) {}); err != nil { // read the log once at start
		return nil, err
	}
	if err := s.loadIdleSessions(ctx); err != nil {
		return nil, err
	}
	if s.hub, err = newHub(ctx, s); err != nil {
		return nil, err
	}
	s.upgrader = s.newUpgrader()
	s.handler = s.routes()

	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(3)
	s.startSubscription(runCtx)
	go func() {
		defer s.wg.Done()
		runEvery(runCtx, cfg.RedeliveryInterval, s.hub.redeliver)
	}()
	go func() {
		defer s.wg.Done()
		runEvery(runCtx, cfg.SessionSweep, s.sweep)
	}()
	go func() {
		defer s.wg.Done()
		runEvery(runCtx, cfg.DealSweep, s.sweepDealsLogged)
	}()
	if s.writer != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			runEvery(runCtx, s.writer.ttl/3, s.tendLease)
		}()
	}
	s.log.Info().Str("root_key", s.keys.rootHex[:12]).Uint64("log_size", s.tree.size()).Msg("registry started")
	return s, nil
}

// withDefaults checks cfg and returns it with every zero value replaced
// by its default.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Root) != ed25519.PrivateKeySize {
		return cfg, errors.New("registry: config needs the Ed25519 root key")
	}
	if cfg.Difficulty == 0 {
		cfg.Difficulty = DefaultDifficulty
	}
	if cfg.Difficulty < 0 || cfg.Difficulty > 64 {
		return cfg, fmt.Errorf("registry: difficulty %d is outside 0..64 bits", cfg.Difficulty)
	}
	cfg.TokenTTL = defaults.Positive(cfg.TokenTTL, DefaultTokenTTL)
	cfg.KeyLifetime = defaults.Positive(cfg.KeyLifetime, DefaultKeyLifetime)
	cfg.SellerTimeout = defaults.Positive(cfg.SellerTimeout, DefaultSellerTimeout)
	cfg.MaxBodyBytes = defaults.Positive(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	cfg.MaxSessionBytes = defaults.Positive(cfg.MaxSessionBytes, DefaultMaxSessionBytes)
	if cfg.MaxSessionBytes < MinMaxSessionBytes {
		return cfg, fmt.Errorf("registry: max session bytes %d is below the minimum of %d", cfg.MaxSessionBytes, MinMaxSessionBytes)
	}
	cfg.RedeliveryInterval = defaults.Positive(cfg.RedeliveryInterval, DefaultRedeliveryInterval)
	cfg.DealSweep = defaults.Positive(cfg.DealSweep, DefaultDealSweep)
	cfg.LogLeaseTTL = defaults.Positive(cfg.LogLeaseTTL, DefaultLogLeaseTTL)
	cfg = cfg.withLimitDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ledger == nil {
		cfg.Ledger = memstore.NewLedger()
	}
	if cfg.Nonces == nil {
		cfg.Nonces = newMemNonces(cfg.Now)
	}
	if cfg.Shared != nil {
		if err := cfg.Shared.check(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+anp.RouteChallenge, s.handleChallenge)
	mux.HandleFunc("POST "+anp.RouteToken, s.handleToken)
	mux.HandleFunc("GET "+anp.RouteKeys, s.handleKeys)
	mux.HandleFunc("POST "+anp.RouteDomains, s.handleBind)
	mux.HandleFunc("GET "+anp.RouteDomain, s.handleGetDomain)
	mux.HandleFunc("GET "+anp.RouteDomainKeys, s.handleKeyHistory)
	mux.HandleFunc("POST "+anp.RouteDomainKeys, s.handleKeyChange)
	mux.HandleFunc("POST "+anp.RouteRecords, s.handlePublishRecord)
	mux.HandleFunc("GET "+anp.RouteDiscover, s.handleDiscover)
	mux.HandleFunc("GET "+anp.RouteListing, s.handleListing)
	mux.HandleFunc("POST "+anp.RouteRelay, s.handleRelay)
	mux.HandleFunc("POST "+anp.RouteCallbacks, s.handleCallback)
	mux.HandleFunc("POST "+anp.RouteNotary, s.handleNotary)
	mux.HandleFunc("GET "+anp.RouteDeal, s.handleDeal)
	mux.HandleFunc("POST "+anp.RouteDealEvents, s.handleDealEvent)
	mux.HandleFunc("GET "+anp.RouteDisputes, s.handleDisputes)
	mux.HandleFunc("GET "+anp.RouteArbiter, s.handleArbiter)
	mux.HandleFunc("GET "+anp.RouteLogHead, s.withFreshLog(s.handleLogHead))
	mux.HandleFunc("GET "+anp.RouteConsistency, s.withFreshLog(s.handleConsistency))
	mux.HandleFunc("GET "+anp.RouteInclusion, s.withFreshLog(s.handleInclusion))
	mux.HandleFunc("GET "+anp.RouteEntries, s.withFreshLog(s.handleEntries))
	mux.HandleFunc("GET "+anp.RouteReputation, s.handleReputation)
	mux.HandleFunc("GET "+anp.RouteReputationParty, s.handlePartyReputation)
	mux.HandleFunc("GET "+anp.RouteWS, s.handleWS)
	mux.HandleFunc("POST "+RouteLogForward, s.handleLogForward)
	mux.HandleFunc("GET "+anp.RouteHealth, func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+RouteReady, s.handleReady)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return s.withRecover(mux)
}

// Handler returns the registry's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// NewHTTPServer returns an http.Server for the registry with conservative
// timeouts and header limits. Its error log goes to the configured logger.
func (s *Server) NewHTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(s.log.With().Str("source", "http").Logger(), "", 0),
	}
}

// RootKey returns the registry's root public key as hex.
func (s *Server) RootKey() string { return s.keys.rootHex }

// Close closes every WebSocket connection, stops background work and hands
// the log writer lease off. It does not close the Ledger, which the caller
// owns.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.hub.close()
		s.wg.Wait()
		if s.writer != nil {
			s.releaseLease()
		}
		s.log.Info().Msg("registry stopped")
	})
	return nil
}

// signer returns a signing function with the current chain key and its entry.
func (s *Server) signer(ctx context.Context) (func(anp.Purpose, any) (string, error), anp.KeyEntry, error) {
	priv, entry, err := s.keys.current(ctx)
	if err != nil {
		return nil, anp.KeyEntry{}, err
	}
	return anp.Signer(priv), entry, nil
}

// handleKeys publishes the root key and the key chain.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.keys.current(r.Context()); err != nil { // rotate if due
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, anp.KeysResponse{RootKey: s.keys.rootHex, Chain: s.keys.chain()})
}

// checkSignedTS refuses a signed timestamp more than window away from now.
func (s *Server) checkSignedTS(what string, ts int64, window time.Duration) error {
	now, w := s.now().UnixMilli(), window.Milliseconds()
	if ts > now+w || ts < now-w {
		return anp.Errorf(anp.CodeExpired, "%s timestamp %s is more than %s away from the registry clock %s",
			what, time.UnixMilli(ts).UTC().Format(time.RFC3339), window, time.UnixMilli(now).UTC().Format(time.RFC3339))
	}
	return nil
}
