package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
	"github.com/clinch-protocol/clinch-mcp/core/store/storeurl"
	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/secrets"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// serveFlags are the flags of `clinch-mcp serve`.
type serveFlags struct {
	transport   string
	http        httpFlags
	storeURL    string
	blindKeys   string
	sandbox     sandboxFlags
	autoApprove autoApproveFlag
	approval    approvalFlags
	minTrust    minTrustFlag
	identity    bool // --present-identity
	market      marketFlags
}

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "serve", "serve [--transport stdio|http|sse] [--addr 127.0.0.1:8848] [--registry URL] [flags]", serveEnvHelp)
	var f serveFlags
	f.market.register(fs, env)
	f.market.logs.register(fs, env)
	fs.StringVar(&f.transport, "transport", envOr(env, "CLINCH_TRANSPORT", "stdio"), "stdio, http (Streamable HTTP at /mcp) or sse (/sse + /message) (env CLINCH_TRANSPORT)")
	f.http.register(fs, env)
	fs.StringVar(&f.storeURL, "store", envOr(env, "CLINCH_STORE", ""), "where sessions live: sqlite://PATH, postgres://..., redis://... or memory: (env CLINCH_STORE); default sessions.db in the data directory with --registry, memory: on the embedded demo market")
	fs.StringVar(&f.blindKeys, "blind-keys", envOr(env, "CLINCH_BLIND_KEYS", ""), "JSON file of per-domain credentials sealed to each seller, never shown to the model (env CLINCH_BLIND_KEYS)")
	f.sandbox.register(fs, env)
	f.autoApprove.register(fs, env)
	f.approval.register(fs, env)
	f.minTrust.register(fs, env)
	fs.BoolVar(&f.identity, "present-identity", envOr(env, "CLINCH_PRESENT_IDENTITY", "") == "1",
		"name the identity key in every PROPOSE, so deals count toward this buyer's reputation and sellers with a buyer minimum see it (env CLINCH_PRESENT_IDENTITY=1); off: sessions stay unlinkable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch f.transport {
	case "stdio", "http", "sse":
	default:
		return &exitError{2, fmt.Errorf("--transport %q: want stdio, http or sse", f.transport)}
	}
	if f.transport != "stdio" {
		if err := f.http.validate(); err != nil {
			return &exitError{2, err}
		}
	}
	red := secrets.NewRedactor(f.http.authToken)
	log, closer, err := f.market.logs.loggerRedacting(env, red)
	if err != nil {
		return err
	}
	defer closer.Close()
	app, err := openApp(ctx, env, &f, log, red)
	if err != nil {
		return err
	}
	defer app.Close()
	srv := mcpserver.New(app.deps, log)
	log.Info().Str("transport", f.transport).Str("registry", app.market.url).Bool("demo_market", app.market.demo != nil).
		Str("sandbox", app.decider).Msg("clinch-mcp serving MCP")
	switch f.transport {
	case "http", "sse":
		o := f.http.options(log, readyLine(env))
		o.Participants = app.participants
		if f.transport == "sse" {
			return mcpserver.ServeSSE(ctx, srv, o)
		}
		return mcpserver.ServeHTTP(ctx, srv, o)
	}
	return mcpserver.ServeStdio(ctx, srv, env.stdin, env.stdout, log)
}

// serveEnvHelp lists every environment variable serve reads: the flags'
// (each also named in its flag's help) and the data directory's.
const serveEnvHelp = `Environment (a flag given on the command line wins):
  CLINCH_TRANSPORT, CLINCH_ADDR, CLINCH_AUTH_TOKEN     --transport, --addr, --auth-token
  CLINCH_ALLOWED_ORIGINS, CLINCH_MAX_BODY_BYTES        --allowed-origin (comma-separated), --max-body-bytes
  CLINCH_REGISTRY, CLINCH_REGISTRY_KEY                 --registry, --registry-key
  CLINCH_KEY_FILE, CLINCH_BLIND_KEYS, CLINCH_STORE     --key-file, --blind-keys, --store
  CLINCH_IDENTITY_KEY                                  the identity key as hex, used when no key file is given
  CLINCH_SANDBOX, OLLAMA_HOST, CLINCH_OLLAMA_MODEL     --sandbox, --ollama-host, --ollama-model
  CLINCH_AUTO_APPROVE_BELOW                            --auto-approve-below
  CLINCH_APPROVAL, CLINCH_APPROVAL_WINDOW              --approval, --approval-window
  CLINCH_APPROVAL_PERSON_ABOVE, CLINCH_APPROVAL_GROUP_ABOVE  --approval-person-above, --approval-group-above
  CLINCH_PARTICIPANTS                                  --participant (comma-separated NAME=TOKEN_FILE)
  CLINCH_AUTO_APPROVE_BELOW, CLINCH_MIN_TRUST          --auto-approve-below, --min-trust
  CLINCH_PRESENT_IDENTITY=1                            --present-identity
  CLINCH_LOG_LEVEL, CLINCH_LOG_FILE                    --log-level, --log-file
  CLINCH_DATA_DIR                                      the data directory (identity.key, sessions.db)
  XDG_DATA_HOME                                        without CLINCH_DATA_DIR the data directory is
                                                       $XDG_DATA_HOME/clinch-mcp, else ~/.local/share/clinch-mcp`

// httpFlags are the flags of the http and sse transports.
type httpFlags struct {
	addr      string
	authToken string
	origins   originList
	maxBody   string
}

func (h *httpFlags) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&h.addr, "addr", envOr(env, "CLINCH_ADDR", "127.0.0.1:8848"), "listen address for http and sse (env CLINCH_ADDR)")
	fs.StringVar(&h.authToken, "auth-token", envOr(env, "CLINCH_AUTH_TOKEN", ""), "bearer token required by http/sse; mandatory when --addr is not loopback (env CLINCH_AUTH_TOKEN)")
	if v := env.getenv("CLINCH_ALLOWED_ORIGINS"); v != "" {
		h.origins = originList{list: splitList(v), fromEnv: true}
	}
	fs.Var(&h.origins, "allowed-origin", "a browser origin (scheme://host[:port]) allowed to call http/sse besides the server's own and, on a loopback --addr, loopback origins; any other Origin header gets 403; repeat or separate with commas (env CLINCH_ALLOWED_ORIGINS)")
	fs.StringVar(&h.maxBody, "max-body-bytes", envOr(env, "CLINCH_MAX_BODY_BYTES", strconv.Itoa(mcpserver.DefaultMaxBodyBytes)), "largest request body http/sse accept; larger ones get 413 (env CLINCH_MAX_BODY_BYTES)")
}

// validate checks the bind (CheckBind), the origins and the body cap.
func (h *httpFlags) validate() error {
	if err := mcpserver.CheckBind(h.addr, h.authToken); err != nil {
		return err
	}
	if _, err := mcpserver.ParseOrigins(h.origins.list); err != nil {
		return fmt.Errorf("--allowed-origin: %w", err)
	}
	if n, err := strconv.ParseInt(h.maxBody, 10, 64); err != nil || n < 1 {
		return fmt.Errorf("--max-body-bytes %q: want a positive number of bytes", h.maxBody)
	}
	return nil
}

// options are the transport options of validated flags.
func (h *httpFlags) options(log zerolog.Logger, ready func(string)) mcpserver.HTTPOptions {
	maxBody, _ := strconv.ParseInt(h.maxBody, 10, 64)
	return mcpserver.HTTPOptions{Addr: h.addr, AuthToken: h.authToken, AllowedOrigins: h.origins.list, MaxBodyBytes: maxBody,
		Logger: log, Ready: ready}
}

// originList is a repeatable, comma-separated flag. Values from the
// environment are replaced, not extended, by the first flag.
type originList struct {
	list    []string
	fromEnv bool
}

func (o *originList) String() string { return strings.Join(o.list, ",") }

func (o *originList) Set(v string) error {
	if o.fromEnv {
		o.list, o.fromEnv = nil, false
	}
	o.list = append(o.list, splitList(v)...)
	return nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readyLine announces the bound address on stderr (useful with port 0).
func readyLine(env *cliEnv) func(string) {
	return func(addr string) { fmt.Fprintf(env.stderr, "clinch-mcp: listening on %s\n", addr) }
}

// app is everything serve runs on.
type app struct {
	market  *market
	core    *buyer.Core
	deps    *tools.Deps
	decider string
	// participants are the decision-room participants' tokens, by name.
	participants map[string]string
	closers      []func()
}

func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

func openApp(ctx context.Context, env *cliEnv, f *serveFlags, log zerolog.Logger, red *secrets.Redactor) (*app, error) {
	a := &app{}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	id, err := loadIdentity(env, f.market.keyFile, true)
	if err != nil {
		return nil, err
	}
	red.Add(hex.EncodeToString(id.Seed()), hex.EncodeToString(id))
	storeURL := f.storeURL
	if storeURL == "" && f.market.registry == "" {
		// The embedded demo market lives and dies with this process (fresh keys
		// each start), so its sessions cannot be continued later: keep them in memory.
		storeURL = "memory:"
	}
	st, err := openStore(ctx, env, storeURL, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = st.Close() })
	mk, err := openMarket(ctx, f.market.registry, f.market.registryKey, dataDir(env), log)
	if err != nil {
		return nil, err
	}
	a.market = mk
	a.closers = append(a.closers, mk.Close)
	bk, err := loadBlindKeys(f.blindKeys, mk)
	if err != nil {
		return nil, err
	}
	if bk != nil {
		red.Add(bk.Values()...)
	}
	ceiling, err := f.autoApprove.ceiling()
	if err != nil {
		return nil, err
	}
	policy, err := f.approval.load(a, red)
	if err != nil {
		return nil, err
	}
	minTrust, err := f.minTrust.value()
	if err != nil {
		return nil, err
	}
	core, err := buyer.New(buyer.Config{Identity: id, Registry: mk.client(id, log), Sessions: st.Sessions, Notifier: st.Notifier,
		BlindKeys: bk, Logger: log, AutoApproveBelow: ceiling, KeyPins: mk.keyPins(), Approval: policy, Participants: names(a.participants),
		MinTrust: minTrust, PresentIdentity: f.identity})
	if err != nil {
		return nil, err
	}
	a.core = core
	a.closers = append(a.closers, core.Close) // also stops a subscription a failed Initialize left running
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := core.Initialize(ictx); err != nil {
		return nil, err
	}
	deps := &tools.Deps{Core: core, RegistryRootKey: mk.rootKey, Secrets: tools.NewSecretFilter(red), Logger: log,
		Deterministic: concession.Default()}
	if deps.Decider, a.decider, err = f.sandbox.decider(ctx, log); err != nil {
		return nil, err
	}
	a.deps = deps
	ok = true
	return a, nil
}

// openStore opens the session store named by --store (default: SQLite in
// the data directory).
func openStore(ctx context.Context, env *cliEnv, raw string, log zerolog.Logger) (*storeurl.Backend, error) {
	if raw == "" {
		raw = "sqlite://" + filepath.Join(dataDir(env), "sessions.db")
	}
	b, err := storeurl.OpenWithOptions(ctx, raw, storeurl.Options{Logger: log})
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--store: %w", err)}
	}
	return b, nil
}

// names returns the keys of m.
func names(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	return out
}
