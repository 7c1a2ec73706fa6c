package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// newFlags returns a flag set that prints usage to stderr and reports -h as
// errHelpShown. Text in footer follows the flags.
func newFlags(env *cliEnv, name, synopsis string, footer ...string) *flag.FlagSet {
	fs := flag.NewFlagSet("clinch-mcp "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: clinch-mcp %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		for _, f := range footer {
			fmt.Fprintf(env.stderr, "\n%s\n", f)
		}
	}
	return fs
}

// parseFlags parses args, mapping -h to errHelpShown and other errors to exit 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		}
		return &exitError{2, err}
	}
	return nil
}

// envOr returns the environment value of key, or def.
func envOr(env *cliEnv, key, def string) string {
	if v := env.getenv(key); v != "" {
		return v
	}
	return def
}

// logFlags are shared by every long-running command.
type logFlags struct {
	level string
	file  string
}

func (l *logFlags) register(fs *flag.FlagSet, env *cliEnv) { l.registerWith(fs, env, "info") }

// registerWith registers the flags with a default level (interactive commands use warn).
func (l *logFlags) registerWith(fs *flag.FlagSet, env *cliEnv, level string) {
	fs.StringVar(&l.level, "log-level", envOr(env, "CLINCH_LOG_LEVEL", level), "log level: debug, info, warn, error (env CLINCH_LOG_LEVEL)")
	fs.StringVar(&l.file, "log-file", envOr(env, "CLINCH_LOG_FILE", ""), "append logs to this file instead of stderr (env CLINCH_LOG_FILE)")
}

// logger builds a zerolog logger on stderr (or the log file). Never stdout:
// in stdio mode stdout carries only MCP JSON-RPC.
func (l *logFlags) logger(env *cliEnv) (zerolog.Logger, io.Closer, error) {
	return l.loggerRedacting(env, nil)
}

// nopCloser is the closer of a logger that writes to stderr.
type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// loggerRedacting is logger with every line passed through red (when set), so
// secrets added to red later can never reach a log sink.
// The closer is never nil: callers defer its Close.
func (l *logFlags) loggerRedacting(env *cliEnv, red *secrets.Redactor) (zerolog.Logger, io.Closer, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(l.level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Nop(), nil, &exitError{2, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.level)}
	}
	var out io.Writer = env.stderr
	var closer io.Closer = nopCloser{}
	if l.file != "" {
		f, err := os.OpenFile(l.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return zerolog.Nop(), nil, fmt.Errorf("open log file: %w", err)
		}
		out, closer = f, f
	}
	if red != nil {
		out = red.Writer(out)
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), closer, nil
}

// printJSON writes v to stdout as indented JSON.
func printJSON(env *cliEnv, v any) error {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dataDir is where clinch-mcp keeps its files by default.
func dataDir(env *cliEnv) string {
	if d := env.getenv("CLINCH_DATA_DIR"); d != "" {
		return d
	}
	if d := env.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "clinch-mcp")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "clinch-mcp")
	}
	return ".clinch-mcp"
}

// loadIdentity reads the identity key from CLINCH_IDENTITY_KEY, the key file,
// or, when create is set and the default file is missing, creates it.
func loadIdentity(env *cliEnv, keyFile string, create bool) (ed25519.PrivateKey, error) {
	if v := env.getenv("CLINCH_IDENTITY_KEY"); v != "" && keyFile == "" {
		k, err := secrets.LoadIdentityHex(v)
		if err != nil {
			return nil, fmt.Errorf("CLINCH_IDENTITY_KEY: %w", err)
		}
		return k, nil
	}
	path := keyFile
	if path == "" {
		path = filepath.Join(dataDir(env), "identity.key")
	}
	k, err := secrets.LoadIdentityFile(path)
	if err == nil {
		return k, nil
	}
	if !create || keyFile != "" || !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err = secrets.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	if err := secrets.WriteIdentityFile(path, k); err != nil {
		return nil, err
	}
	fmt.Fprintf(env.stderr, "clinch-mcp: created identity key %s (public key %s)\n", path, secrets.Fingerprint(k.Public().(ed25519.PublicKey)))
	return k, nil
}

// market connects to --registry or starts the embedded demo market.
type market struct {
	url     string
	rootKey string
	demo    *demomarket.Market
	heads   registry.HeadStore // the log watcher's state; nil (in memory) for the demo market
	pins    string             // the file of pinned seller keys; "" (in memory) for the demo market
}

func (m *market) Close() {
	if m.demo != nil {
		m.demo.Close()
	}
}

// openMarket connects to registryURL, whose log watcher state is kept in
// the data directory dir, or starts the embedded demo market (fresh keys
// every run, so its log watcher state stays in memory).
func openMarket(ctx context.Context, registryURL, rootKey, dir string, log zerolog.Logger) (*market, error) {
	if registryURL != "" {
		u := strings.TrimRight(registryURL, "/")
		return &market{url: u, rootKey: rootKey, heads: headStoreFor(dir, u), pins: pinsPathFor(dir, u)}, nil
	}
	d, err := demomarket.Start(ctx, demomarket.Options{Logger: log, History: true}) // sellers with a logged history: reputations differ from the start
	if err != nil {
		return nil, fmt.Errorf("start the embedded demo market: %w", err)
	}
	log.Info().Str("registry", d.RegistryURL).Int("sellers", len(d.Nodes)).Msg("embedded DEMO market started (demo sellers, not real merchants)")
	return &market{url: d.RegistryURL, rootKey: d.RootKey, demo: d}, nil
}

func (m *market) client(identity ed25519.PrivateKey, log zerolog.Logger) *registry.Client {
	return registry.NewClient(m.url, identity, registry.ClientOptions{RootKey: m.rootKey, Logger: log, HeadStore: m.heads})
}

// autoApproveFlag is --auto-approve-below, the same for serve and negotiate:
// the engine's ceiling under which an autonomous session signs by itself.
type autoApproveFlag struct{ raw string }

func (a *autoApproveFlag) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&a.raw, "auto-approve-below", envOr(env, "CLINCH_AUTO_APPROVE_BELOW", ""),
		"let autonomous sessions sign deals strictly below this amount (USD) without asking (env CLINCH_AUTO_APPROVE_BELOW); off by default")
}

// ceiling returns the configured ceiling, or nil when it is off.
func (a *autoApproveFlag) ceiling() (*anp.Money, error) {
	if a.raw == "" {
		return nil, nil
	}
	m, err := anp.ParseMoney(a.raw, "USD")
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--auto-approve-below: %w", err)}
	}
	return &m, nil
}

// minTrustFlag is --min-trust: the lowest seller reputation (0..100) the
// buyer engine discovers and negotiates with; a tool call can raise it but
// not lower it.
type minTrustFlag struct{ raw string }

func (m *minTrustFlag) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&m.raw, "min-trust", envOr(env, "CLINCH_MIN_TRUST", ""),
		"deal only with sellers whose reputation is at least this, 0 to 100 (a seller without history has 50) (env CLINCH_MIN_TRUST); off by default")
}

// value returns the floor, 0 when it is off.
func (m *minTrustFlag) value() (float64, error) {
	if m.raw == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(m.raw, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, &exitError{2, fmt.Errorf("--min-trust %q: want a number from 0 to 100", m.raw)}
	}
	return v, nil
}
