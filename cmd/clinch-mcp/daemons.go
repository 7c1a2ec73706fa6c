package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/storeurl"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// subcommand returns the run function args[0] names among subs, if any.
func subcommand(args []string, subs map[string]func(context.Context, *cliEnv, []string) error) (func(context.Context, *cliEnv, []string) error, bool) {
	if len(args) == 0 {
		return nil, false
	}
	run, ok := subs[args[0]]
	return run, ok
}

func runRegistry(ctx context.Context, env *cliEnv, args []string) error {
	if sub, ok := subcommand(args, map[string]func(context.Context, *cliEnv, []string) error{"grant": runRegistryGrant, "revoke": runRegistryRevoke}); ok {
		return sub(ctx, env, args[1:])
	}
	fs := newFlags(env, "registry", "registry --addr HOST:PORT --db PATH [--key-file FILE]\n       clinch-mcp registry grant DOMAIN [--ttl 24h] [--key-file FILE]\n       clinch-mcp registry revoke DOMAIN --registry URL [--key-file FILE]",
		"Binding a domain needs a one-domain, single-use enrolment grant signed with the registry root key:\n"+
			"`registry grant DOMAIN` prints one for the seller's config (\"grant\" or \"grant_file\"). `registry revoke DOMAIN`\n"+
			"revokes a domain's key as the operator (a lost or stolen key); a new grant then lets the seller bind a new key.")
	var logs logFlags
	logs.register(fs, env)
	addr := fs.String("addr", envOr(env, "CLINCH_REGISTRY_ADDR", "127.0.0.1:8850"), "listen address (env CLINCH_REGISTRY_ADDR)")
	db := fs.String("db", envOr(env, "CLINCH_REGISTRY_DB", ""), "ledger: sqlite://PATH, a file path, or postgres://... (env CLINCH_REGISTRY_DB); default registry.db in the data directory")
	keyFile := fs.String("key-file", envOr(env, "CLINCH_REGISTRY_KEY_FILE", ""), "registry root key file; created on first start when missing (default registry.key in the data directory)")
	arbiterFile := fs.String("arbiter-key-file", envOr(env, "CLINCH_ARBITER_KEY_FILE", ""), "the arbiter key file (signs dispute resolutions; `clinch-mcp arbiter` uses it too); created on first start when missing (default arbiter.key in the data directory)")
	dealSweep := fs.Duration("deal-sweep", registry.DefaultDealSweep, "how often the deal rules run (breach past the delivery deadline, lapse of the receipt window, non-delivery resolutions)")
	difficulty := fs.Int("difficulty", 18, "proof-of-work bits demanded from clients (clients refuse more than 24)")
	operator := fs.String("operator-token", envOr(env, "CLINCH_OPERATOR_TOKEN", ""), "no longer used: domains are bound with per-domain grants (registry grant DOMAIN)")
	open := fs.Bool("open-enrollment", false, "let anyone bind an unbound domain without a grant (development only)")
	allowPrivate := fs.Bool("allow-private-endpoints", false, "accept seller endpoints on loopback/private addresses (development only)")
	advertise := fs.String("advertise", envOr(env, "CLINCH_REGISTRY_ADVERTISE", ""), "on a PostgreSQL ledger shared by several registry processes: the URL the others reach this one at, to forward log appends when it is the log writer (env CLINCH_REGISTRY_ADVERTISE); default http://ADDR when --addr names a host")
	leaseTTL := fs.Duration("log-lease-ttl", registry.DefaultLogLeaseTTL, "on a shared PostgreSQL ledger: the log writer lease lapses this long after the writer stops renewing it (another process then takes over)")
	var limits registryLimitFlags
	limits.register(fs)
	drainDelay := fs.Duration("drain-delay", 0, "on SIGTERM, how long /readyz answers 503 before the listener closes (let the load balancer notice); requests in flight then get --shutdown-timeout to finish")
	shutdownTimeout := fs.Duration("shutdown-timeout", 2*registry.DefaultSellerTimeout, "on SIGTERM, how long requests in flight (a relay waits for its seller) may take before the connections are closed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *operator != "" {
		return &exitError{2, fmt.Errorf("--operator-token (CLINCH_OPERATOR_TOKEN) is no longer used: a domain is bound with an enrolment grant for it; issue one with `clinch-mcp registry grant DOMAIN` and unset the token")}
	}
	cfg := registry.Config{OpenEnrollment: *open, AllowPrivateEndpoints: *allowPrivate, Difficulty: *difficulty, LogLeaseTTL: *leaseTTL}
	if err := limits.apply(&cfg); err != nil {
		return &exitError{2, err}
	}
	log, closer, err := logs.logger(env)
	if err != nil {
		return err
	}
	defer closer.Close()
	if *db == "" {
		*db = filepath.Join(dataDir(env), "registry.db")
	}
	kf := *keyFile
	if kf == "" {
		kf = filepath.Join(dataDir(env), "registry.key")
	}
	root, err := loadOrCreateKey(env, kf)
	if err != nil {
		return err
	}
	st, err := storeurl.OpenWithOptions(ctx, *db, storeurl.Options{Logger: log, Channel: registryChannel})
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer st.Close()
	if st.Kind == storeurl.KindRedis || st.Kind == storeurl.KindMemory {
		return &exitError{2, fmt.Errorf("--db: the registry ledger needs SQLite or Postgres (durable, append-only), not %s", st.Kind)}
	}
	arbiter, err := loadOrCreateKey(env, arbiterKeyPath(env, *arbiterFile))
	if err != nil {
		return err
	}
	cfg.Root, cfg.Ledger, cfg.Nonces, cfg.Logger, cfg.Arbiter, cfg.DealSweep = root, st.Ledger, st.Nonces, log, arbiter, *dealSweep
	if st.Kind == storeurl.KindPostgres { // any number of replicas may share it
		cfg.Shared = &registry.Shared{Notifier: st.Notifier, Locks: st.Locks, Limiter: st.RateLimiter}
	}
	return serveRegistry(ctx, cfg, registryServing{addr: *addr, advertise: *advertise, ledger: st.Kind, drainDelay: *drainDelay, grace: *shutdownTimeout}, log)
}

// registryServing is how `clinch-mcp registry` listens and shuts down.
type registryServing struct {
	addr, advertise, ledger string
	drainDelay, grace       time.Duration
}

// serveRegistry listens, starts the registry of cfg and serves it until ctx
// is done; then it drains and shuts down.
func serveRegistry(ctx context.Context, cfg registry.Config, sv registryServing, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", sv.addr) // first: the address taken (port 0 picks one) is the one advertised
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.Advertise = advertiseURL(sv.advertise, ln.Addr().String())
	srv, err := registry.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := srv.NewHTTPServer(sv.addr)
	errc := serveInBackground(hs, ln)
	log.Info().Str("addr", ln.Addr().String()).Str("ledger", sv.ledger).Bool("replicas", cfg.Shared != nil).Str("root_key", srv.RootKey()).Msg("registry listening")
	if err := waitUntilDone(ctx, errc); err != nil {
		return err
	}
	return drainThenShutdown(registryDrainer{srv}, hs, sv.drainDelay, sv.grace, log)
}

// registryChannel is the notification channel of registry replicas on one
// PostgreSQL (apart from the buyer pods' channel of sessions).
const registryChannel = "clinch_registry"

// registryDrainer drains a registry: /readyz fails and its drain hooks run.
type registryDrainer struct{ srv *registry.Server }

func (d registryDrainer) Drain() { d.srv.Drain(context.Background()) }

// advertiseURL is the --advertise URL, or http://addr when addr names a
// host other processes can reach (not an unspecified address).
func advertiseURL(advertise, addr string) string {
	if advertise != "" {
		return advertise
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return ""
	}
	return "http://" + addr
}

// registryLimitFlags are the abuse limits of `clinch-mcp registry`
// (registry.Config; docs/protocol.md, "Abuse limits"). Rate limits are
// shared by registry replicas on PostgreSQL and per process on SQLite; the
// WebSocket caps are per process.
type registryLimitFlags struct {
	authRate, wsUpgradeRate, sessionRate, reportRate     float64
	authBurst, wsUpgradeBurst, sessionBurst, reportBurst int
	maxPendingWS, maxWS, maxWSPerIdentity                int
	maxCallbacksPerSeller, limiterTable                  int
	trustedProxies, endpointPorts                        string
	sessionTTL, sessionSweep                             time.Duration
	maxSessionBytes                                      int64
}

func (f *registryLimitFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.authRate, "auth-rate", registry.DefaultAuthRate, "challenge and token requests per second per source address (negative: no limit)")
	fs.IntVar(&f.authBurst, "auth-burst", registry.DefaultAuthBurst, "burst of challenge and token requests per source address")
	fs.Float64Var(&f.wsUpgradeRate, "ws-upgrade-rate", registry.DefaultWSUpgradeRate, "WebSocket upgrades per second per source address (negative: no limit)")
	fs.IntVar(&f.wsUpgradeBurst, "ws-upgrade-burst", registry.DefaultWSUpgradeBurst, "burst of WebSocket upgrades per source address")
	fs.Float64Var(&f.sessionRate, "session-rate", registry.DefaultSessionRate, "new sessions per second per buyer identity (negative: no limit)")
	fs.IntVar(&f.sessionBurst, "session-burst", registry.DefaultSessionBurst, "burst of new sessions per buyer identity")
	fs.Float64Var(&f.reportRate, "report-rate", registry.DefaultReportRate, "full reputation reports (GET /v1/reputation, every party) per second per source address (negative: no limit)")
	fs.IntVar(&f.reportBurst, "report-burst", registry.DefaultReportBurst, "burst of full reputation reports per source address")
	fs.IntVar(&f.maxPendingWS, "max-pending-ws", registry.DefaultMaxPendingWS, "WebSockets waiting for AUTH at once")
	fs.IntVar(&f.maxWS, "max-ws", registry.DefaultMaxWS, "WebSockets at once (keep it below the descriptor limit)")
	fs.IntVar(&f.maxWSPerIdentity, "max-ws-per-identity", registry.DefaultMaxWSPerIdentity, "authenticated WebSockets per identity")
	fs.IntVar(&f.maxCallbacksPerSeller, "max-callbacks-per-seller", registry.DefaultMaxCallbacksSeller, "undelivered callbacks one seller may queue for one buyer")
	fs.IntVar(&f.limiterTable, "limiter-table", registry.DefaultLimiterTable, "sources or identities each rate limiter remembers")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For names the client (default none: the TCP peer is the source)")
	fs.StringVar(&f.endpointPorts, "endpoint-ports", "", "comma-separated seller endpoint ports allowed besides 80, 443 and 8443")
	fs.DurationVar(&f.sessionTTL, "session-ttl", registry.DefaultSessionTTL, "delete a session that was not notarised after this long without activity")
	fs.DurationVar(&f.sessionSweep, "session-sweep", registry.DefaultSessionSweep, "how often idle sessions are deleted")
	fs.Int64Var(&f.maxSessionBytes, "max-session-bytes", registry.DefaultMaxSessionBytes, "bytes one witnessed session may hold (its stored record, bodies in canonical form); at least 16 KiB")
}

// apply copies the limits into cfg.
func (f *registryLimitFlags) apply(cfg *registry.Config) error {
	if f.maxSessionBytes < registry.MinMaxSessionBytes {
		return fmt.Errorf("--max-session-bytes: %d is below the minimum of %d", f.maxSessionBytes, registry.MinMaxSessionBytes)
	}
	proxies, err := registry.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	ports, err := registry.ParsePorts(f.endpointPorts)
	if err != nil {
		return fmt.Errorf("--endpoint-ports: %w", err)
	}
	cfg.AuthRate, cfg.AuthBurst = f.authRate, f.authBurst
	cfg.WSUpgradeRate, cfg.WSUpgradeBurst = f.wsUpgradeRate, f.wsUpgradeBurst
	cfg.SessionRate, cfg.SessionBurst = f.sessionRate, f.sessionBurst
	cfg.ReportRate, cfg.ReportBurst = f.reportRate, f.reportBurst
	cfg.MaxPendingWS, cfg.MaxWS, cfg.MaxWSPerIdentity = f.maxPendingWS, f.maxWS, f.maxWSPerIdentity
	cfg.MaxCallbacksPerSeller, cfg.LimiterTable = f.maxCallbacksPerSeller, f.limiterTable
	cfg.TrustedProxies, cfg.EndpointPorts = proxies, ports
	cfg.SessionTTL, cfg.SessionSweep = f.sessionTTL, f.sessionSweep
	cfg.MaxSessionBytes = f.maxSessionBytes
	return nil
}

// sellerFlags are the flags of `clinch-mcp seller`.
type sellerFlags struct {
	logs        logFlags
	config      string
	registryKey string // pin of the registry root key
	stateDir    string
	adminAddr   string
	storeURL    string
	drainDelay  time.Duration
	limits      seller.Config // the session table limits only
}

func (f *sellerFlags) register(fs *flag.FlagSet, env *cliEnv) {
	f.logs.register(fs, env)
	fs.StringVar(&f.config, "config", envOr(env, "CLINCH_SELLER_CONFIG", ""), "seller config JSON (see examples/seller.json)")
	fs.StringVar(&f.registryKey, "registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""),
		"pin the registry root key, hex (env CLINCH_REGISTRY_KEY): relayed requests are verified against the key chain it signs; default: the key fetched first")
	fs.StringVar(&f.adminAddr, "admin-addr", envOr(env, "CLINCH_SELLER_ADMIN_ADDR", "127.0.0.1:0"),
		"loopback address of the operator routes (`clinch-mcp fulfil`); its URL and token go to admin.json in the state directory; \"\" turns them off")
	fs.StringVar(&f.stateDir, "state-dir", envOr(env, "CLINCH_SELLER_STATE_DIR", ""),
		"directory for state kept across restarts (session ids of recent PROPOSEs, and the sessions unless --store names another place) (env CLINCH_SELLER_STATE_DIR); default seller/DOMAIN in the data directory")
	fs.StringVar(&f.storeURL, "store", envOr(env, "CLINCH_SELLER_STORE", ""),
		"where sessions live: sqlite://PATH, postgres://... (several seller processes behind one endpoint), redis://... or memory: (env CLINCH_SELLER_STORE); default sessions.db in the state directory")
	fs.DurationVar(&f.drainDelay, "drain-delay", 0, "on SIGTERM, how long /readyz answers 503 before the listener closes (let the load balancer notice); requests in flight then get 5 s to finish")
	fs.IntVar(&f.limits.MaxSessions, "max-sessions", seller.DefaultMaxSessions, "sessions held at once")
	fs.IntVar(&f.limits.MaxFreshSessions, "max-propose-sessions", seller.DefaultMaxFreshSessions,
		"sessions whose buyer sent only its PROPOSE; past it the oldest of them is evicted")
	fs.DurationVar(&f.limits.ProposeTTL, "propose-ttl", seller.DefaultProposeTTL, "how long a session waits for the buyer's message after its PROPOSE")
	fs.Int64Var(&f.limits.MaxSessionBytes, "max-session-bytes", seller.DefaultMaxSessionBytes, "bytes one session may hold")
	fs.Int64Var(&f.limits.MaxTotalBytes, "max-total-bytes", 0, "bytes all sessions may hold together; 0: a quarter of the memory (half of GOMEMLIMIT when set)")
}

// apply puts the flags' limits and state directory into cfg.
func (f *sellerFlags) apply(env *cliEnv, cfg *seller.Config) {
	cfg.MaxSessions, cfg.MaxFreshSessions, cfg.ProposeTTL = f.limits.MaxSessions, f.limits.MaxFreshSessions, f.limits.ProposeTTL
	cfg.MaxSessionBytes, cfg.MaxTotalBytes = f.limits.MaxSessionBytes, f.limits.MaxTotalBytes
	cfg.StateDir = f.stateDirFor(env, cfg.Domain)
}

// stateDirFor is --state-dir, or seller/DOMAIN in the data directory.
func (f *sellerFlags) stateDirFor(env *cliEnv, domain string) string {
	if f.stateDir != "" {
		return f.stateDir
	}
	return filepath.Join(dataDir(env), "seller", domain)
}

// validate checks that --config is set; usage shows the flags when not.
func (f *sellerFlags) validate(usage func()) error {
	if f.config == "" {
		usage()
		return &exitError{2, fmt.Errorf("--config is required")}
	}
	return nil
}

func runSeller(ctx context.Context, env *cliEnv, args []string) error {
	if sub, ok := subcommand(args, map[string]func(context.Context, *cliEnv, []string) error{"rotate": runSellerRotate, "revoke": runSellerRevoke}); ok {
		return sub(ctx, env, args[1:])
	}
	fs := newFlags(env, "seller", "seller --config FILE\n       clinch-mcp seller rotate --config FILE --new-key FILE\n       clinch-mcp seller revoke --config FILE",
		"The config file and the key and grant files it names must not be accessible by group or others (chmod 600).\n"+
			"`seller rotate` hands the domain over to a new key (both keys sign; the registry logs it): then point key_file\n"+
			"at the new key and restart the seller. `seller revoke` revokes the configured key: no new sessions until the\n"+
			"registry operator grants the domain again and a new key is bound.")
	var f sellerFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.validate(fs.Usage); err != nil {
		return err
	}
	fc, grant, err := loadSellerConfig(f.config)
	if err != nil {
		return err
	}
	log, closer, err := f.logs.loggerRedacting(env, secrets.NewRedactor(grant))
	if err != nil {
		return err
	}
	defer closer.Close()
	st, err := openSellerStore(ctx, f.storeURL, f.stateDirFor(env, fc.Domain), log)
	if err != nil {
		return err
	}
	defer st.Close()
	node, err := newSellerNode(env, &f, fc, log, st.Sessions)
	if err != nil {
		return err
	}
	defer node.Close()
	hs, ln, endpoint, err := listenSeller(node, fc)
	if err != nil {
		return err
	}
	errc := serveInBackground(hs, ln)
	if f.adminAddr != "" {
		admin, err := startSellerAdmin(node, f.adminAddr, f.stateDirFor(env, fc.Domain))
		if err != nil {
			_ = hs.Close()
			return err
		}
		defer admin.Close()
	}
	if err := registerSeller(ctx, node, fc, endpoint, grant); err != nil {
		_ = hs.Close()
		return err
	}
	log.Info().Str("domain", fc.Domain).Str("endpoint", endpoint).Str("registry", fc.Registry).Str("store", st.Kind).Msg("seller node registered and listening")
	if err := waitUntilDone(ctx, errc); err != nil {
		return err
	}
	return drainThenShutdown(node, hs, f.drainDelay, shutdownGrace, log)
}

// newSellerNode builds the seller node of config fc, with its key file, a
// client of its registry (the root key pinned when --registry-key is set)
// and the limits and state directory of the flags.
func newSellerNode(env *cliEnv, f *sellerFlags, fc *seller.FileConfig, log zerolog.Logger, sessions store.Sessions) (*seller.Node, error) {
	key, err := secrets.LoadIdentityFile(fc.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("seller key: %w", err)
	}
	if f.registryKey == "" {
		log.Warn().Str("registry", fc.Registry).Msg("no --registry-key: the registry root key fetched first is trusted for relay signatures")
	}
	client := registry.NewClient(fc.Registry, key, registry.ClientOptions{Logger: log, RootKey: f.registryKey})
	cfg, err := fc.NodeConfig(key, client, log)
	if err != nil {
		return nil, err
	}
	f.apply(env, &cfg)
	cfg.Store = sessions
	return seller.NewNode(cfg)
}

// listenSeller listens on fc.Listen for the node and returns its HTTP server,
// the listener and the endpoint buyers reach it at: fc.Endpoint, or
// http:// and the listener's address.
func listenSeller(node *seller.Node, fc *seller.FileConfig) (*http.Server, net.Listener, string, error) {
	ln, err := net.Listen("tcp", fc.Listen)
	if err != nil {
		return nil, nil, "", err
	}
	endpoint := fc.Endpoint
	if endpoint == "" {
		endpoint = "http://" + ln.Addr().String()
	}
	hs, err := node.NewHTTPServerAt(fc.Listen, endpoint) // buyers reach the routes under the endpoint's path
	if err != nil {
		_ = ln.Close()
		return nil, nil, "", err
	}
	return hs, ln, endpoint, nil
}

// loadSellerConfig reads the seller config at path and its enrolment
// grant. The config, key and grant files must not be accessible by group or
// others.
func loadSellerConfig(path string) (*seller.FileConfig, string, error) {
	fc, err := seller.LoadFileConfig(path)
	if err != nil {
		return nil, "", err
	}
	if err := seller.CheckPrivateFile(fc.KeyFile, "key file"); err != nil {
		return nil, "", err
	}
	grant, err := fc.GrantText()
	if err != nil {
		return nil, "", err
	}
	return fc, grant, nil
}

// registerSeller lists the node at endpoint in its registry, giving the
// registry 30 seconds to answer. grant is needed while the domain is not
// bound to the node's key.
func registerSeller(ctx context.Context, node *seller.Node, fc *seller.FileConfig, endpoint, grant string) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := node.Register(rctx, endpoint, grant); err != nil {
		return fmt.Errorf("register %s at %s: %w", fc.Domain, fc.Registry, err)
	}
	return nil
}

// serveInBackground serves hs on ln in a goroutine; the channel receives
// what Serve returns.
func serveInBackground(hs *http.Server, ln net.Listener) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	return errc
}

// waitUntilDone waits until ctx is done or the server stops (errc); it
// returns the server's error, unless the server was closed.
func waitUntilDone(ctx context.Context, errc <-chan error) error {
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// shutdownGrace is how long open requests get when a server shuts down.
const shutdownGrace = 5 * time.Second

// shutdownGracefully shuts hs down, giving open requests grace.
func shutdownGracefully(hs *http.Server, grace time.Duration) error {
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return hs.Shutdown(sctx)
}

func loadOrCreateKey(env *cliEnv, path string) (ed25519.PrivateKey, error) {
	k, err := secrets.LoadIdentityFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if k, err = secrets.GenerateIdentity(); err != nil {
		return nil, err
	}
	if err := secrets.WriteIdentityFile(path, k); err != nil {
		return nil, err
	}
	fmt.Fprintf(env.stderr, "clinch-mcp: created key %s\n", path)
	return k, nil
}
