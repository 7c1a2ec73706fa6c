package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
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

func runDiscover(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "discover", "discover [--category C] [--mode ANP/C] [--json] [--registry URL]")
	var mf marketFlags
	mf.register(fs, env)
	mf.logs.registerWith(fs, env, "warn")
	category := fs.String("category", "", "only sellers in this category")
	mode := fs.String("mode", "", "only sellers supporting this mode (ANP/A, ANP/B, ANP/C)")
	limit := fs.Int("limit", tools.DefaultDiscoverLimit, fmt.Sprintf("at most this many sellers (1..%d), as discover_sellers", tools.MaxDiscoverLimit))
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > tools.MaxDiscoverLimit {
		return &exitError{2, fmt.Errorf("--limit %d must be between 1 and %d", *limit, tools.MaxDiscoverLimit)}
	}
	var m anp.Mode
	if *mode != "" {
		var err error
		if m, err = anp.ParseMode(*mode); err != nil {
			return &exitError{2, err}
		}
	}
	log, closer, err := mf.logs.logger(env)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	id, err := loadIdentity(env, mf.keyFile, true)
	if err != nil {
		return err
	}
	mk, err := openMarket(ctx, mf.registry, mf.registryKey, log)
	if err != nil {
		return err
	}
	defer mk.Close()
	listings, err := mk.client(id, log).Discover(ctx, *category, m, *limit)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	if *asJSON {
		type row struct {
			Domain      string   `json:"domain"`
			Address     string   `json:"address"`
			DisplayName string   `json:"display_name"`
			Categories  []string `json:"categories"`
			Modes       []string `json:"modes"`
			Demo        bool     `json:"demo"`
			Score       float64  `json:"score"`
			Key         string   `json:"key"`
		}
		rows := []row{}
		for _, l := range listings {
			r := l.Record.Record
			modes := make([]string, len(r.Modes))
			for i, x := range r.Modes {
				modes[i] = string(x)
			}
			rows = append(rows, row{r.Domain, string(r.Modes[0]) + "." + r.Domain, r.DisplayName, r.Categories, modes, r.Demo, l.Stats.Score, l.Binding.Key})
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"sellers": rows})
	}
	if len(listings) == 0 {
		fmt.Fprintln(env.stdout, "no sellers found")
		return nil
	}
	for _, l := range listings {
		r := l.Record.Record
		modes := make([]string, len(r.Modes))
		for i, x := range r.Modes {
			modes[i] = string(x)
		}
		demo := ""
		if r.Demo {
			demo = " [demo]"
		}
		fmt.Fprintf(env.stdout, "%-22s %-26s categories=%s modes=%s score=%.2f%s\n", r.Domain, r.DisplayName, strings.Join(r.Categories, ","), strings.Join(modes, ","), l.Stats.Score, demo)
	}
	return nil
}
