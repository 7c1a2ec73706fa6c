package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/tools"
)

// marketFlags select the market and identity.
type marketFlags struct {
	registry    string
	registryKey string
	keyFile     string
	logs        logFlags
}

func (m *marketFlags) register(fs flagSet, env *cliEnv) {
	fs.StringVar(&m.registry, "registry", envOr(env, "CLINCH_REGISTRY", ""), "registry URL (env CLINCH_REGISTRY); default: the embedded demo market")
	fs.StringVar(&m.registryKey, "registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""), "pin the registry root key, hex (env CLINCH_REGISTRY_KEY)")
	fs.StringVar(&m.keyFile, "key-file", envOr(env, "CLINCH_KEY_FILE", ""), "identity key file (env CLINCH_KEY_FILE; CLINCH_IDENTITY_KEY holds a hex key); default: created in the data directory")
}

type flagSet interface {
	StringVar(p *string, name, value, usage string)
}

// openedMarket is what marketFlags open for a command that acts on the
// market: its logger, the identity and the market.
type openedMarket struct {
	log     zerolog.Logger
	id      ed25519.PrivateKey
	market  *market
	logFile io.Closer // the log file, or a no-op closer for stderr
}

// open builds the logger, loads the identity (creating the default key when
// missing) and connects to the market. The caller closes what it returns.
func (m *marketFlags) open(ctx context.Context, env *cliEnv) (*openedMarket, error) {
	log, closer, err := m.logs.logger(env)
	if err != nil {
		return nil, err
	}
	o := &openedMarket{log: log, logFile: closer}
	if o.id, err = loadIdentity(env, m.keyFile, true); err != nil {
		o.Close()
		return nil, err
	}
	if o.market, err = openMarket(ctx, m.registry, m.registryKey, dataDir(env), log); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// Close closes the market, then the log file.
func (o *openedMarket) Close() {
	if o.market != nil {
		o.market.Close()
	}
	if o.logFile != nil { // nil only before the logger was opened
		_ = o.logFile.Close()
	}
}

// client is a registry client of the market signing with the identity.
func (o *openedMarket) client() *registry.Client { return o.market.client(o.id, o.log) }

// discoverFlags are the flags of `clinch-mcp discover`.
type discoverFlags struct {
	market   marketFlags
	category string
	mode     string
	limit    int
	json     bool
}

func (f *discoverFlags) register(fs *flag.FlagSet, env *cliEnv) {
	f.market.register(fs, env)
	f.market.logs.registerWith(fs, env, "warn")
	fs.StringVar(&f.category, "category", "", "only sellers in this category")
	fs.StringVar(&f.mode, "mode", "", "only sellers supporting this mode (ANP/A, ANP/B, ANP/C)")
	fs.IntVar(&f.limit, "limit", tools.DefaultDiscoverLimit, fmt.Sprintf("at most this many sellers (1..%d), as discover_sellers", tools.MaxDiscoverLimit))
	fs.BoolVar(&f.json, "json", false, "print JSON")
}

// validate checks --limit and --mode and returns the mode to filter on ("":
// any).
func (f *discoverFlags) validate() (anp.Mode, error) {
	if f.limit < 1 || f.limit > tools.MaxDiscoverLimit {
		return "", &exitError{2, fmt.Errorf("--limit %d must be between 1 and %d", f.limit, tools.MaxDiscoverLimit)}
	}
	if f.mode == "" {
		return "", nil
	}
	m, err := anp.ParseMode(f.mode)
	if err != nil {
		return "", &exitError{2, err}
	}
	return m, nil
}

func runDiscover(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "discover", "discover [--category C] [--mode ANP/C] [--json] [--registry URL]")
	var f discoverFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	mode, err := f.validate()
	if err != nil {
		return err
	}
	om, err := f.market.open(ctx, env)
	if err != nil {
		return err
	}
	defer om.Close()
	listings, err := om.client().Discover(ctx, f.category, mode, f.limit)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	if f.json {
		return printJSON(env, map[string]any{"sellers": listingRows(listings)})
	}
	printListings(env, listings)
	return nil
}

// listingRow is a seller as discover --json prints it.
type listingRow struct {
	Domain      string   `json:"domain"`
	Address     string   `json:"address"`
	DisplayName string   `json:"display_name"`
	Categories  []string `json:"categories"`
	Modes       []string `json:"modes"`
	Demo        bool     `json:"demo"`
	Score       float64  `json:"score"`
	Key         string   `json:"key"`
}

// listingRows are the rows of discover --json, never nil.
func listingRows(listings []anp.Listing) []listingRow {
	rows := []listingRow{}
	for _, l := range listings {
		r := l.Record.Record
		rows = append(rows, listingRow{r.Domain, string(r.Modes[0]) + "." + r.Domain, r.DisplayName, r.Categories, modeNames(r.Modes), r.Demo, l.Stats.Score, l.Binding.Key})
	}
	return rows
}

// printListings prints one line a seller, or that none was found.
func printListings(env *cliEnv, listings []anp.Listing) {
	if len(listings) == 0 {
		fmt.Fprintln(env.stdout, "no sellers found")
		return
	}
	for _, l := range listings {
		r := l.Record.Record
		demo := ""
		if r.Demo {
			demo = " [demo]"
		}
		fmt.Fprintf(env.stdout, "%-22s %-26s categories=%s modes=%s score=%.2f%s%s\n", r.Domain, r.DisplayName, strings.Join(r.Categories, ","), strings.Join(modeNames(r.Modes), ","), l.Stats.Score, evidenceNote(l.Reputation), demo)
	}
}

// evidenceNote summarises the evidence of a listing's reputation.
func evidenceNote(r *anp.Reputation) string {
	if r == nil {
		return ""
	}
	e := r.Evidence
	return fmt.Sprintf(" (deals %d: on time %d, late %d, breaches %d, disputes lost %d)", e.Deals, e.OnTime, e.Late, e.Breaches, e.DisputesLost)
}

// modeNames are the modes as strings, e.g. "ANP/C".
func modeNames(modes []anp.Mode) []string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	return names
}
