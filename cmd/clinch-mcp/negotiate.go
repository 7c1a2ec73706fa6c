package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runNegotiate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "negotiate", "negotiate --to ADDRESS --item TEXT --max-budget N [--currency USD] [--auto] [--approve] [--json] [--out FILE]")
	var mf marketFlags
	mf.register(fs, env)
	mf.logs.registerWith(fs, env, "warn")
	to := fs.String("to", "", "seller address, e.g. ANP/C.kitchen-outlet.anp (required)")
	item := fs.String("item", "", "what to buy (required)")
	budget := fs.String("max-budget", "", "the most you will pay, in major units, e.g. 95 or 95.50 (required; never sent to the seller)")
	currency := fs.String("currency", "USD", "ISO 4217 currency")
	quantity := fs.Int("quantity", 1, "quantity")
	maxTurns := fs.Int("max-turns", 8, "give up after this many turns")
	auto := fs.Bool("auto", false, "concede by the built-in deterministic strategy until the seller confirms or max turns")
	approve := fs.Bool("approve", false, "sign and commit the deal once the seller confirms (commits money)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	out := fs.String("out", "", "write the signed artifact JSON to this file")
	blindKeys := fs.String("blind-keys", envOr(env, "CLINCH_BLIND_KEYS", ""), "JSON file of per-domain credentials (env CLINCH_BLIND_KEYS)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	var sf sandboxFlags
	sf.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to == "" || *item == "" || *budget == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("--to, --item and --max-budget are required")}
	}
	addr, err := anp.ParseSellerAddress(*to)
	if err != nil {
		return &exitError{2, err}
	}
	maxBudget, err := anp.ParseMoney(*budget, *currency)
	if err != nil {
		return &exitError{2, fmt.Errorf("--max-budget: %w", err)}
	}
	if *out != "" && !*approve {
		return &exitError{2, fmt.Errorf("--out needs --approve: only a signed deal has an artifact")}
	}
	log, closer, err := mf.logs.logger(env)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	id, err := loadIdentity(env, mf.keyFile, true)
	if err != nil {
		return err
	}
	mk, err := openMarket(ctx, mf.registry, mf.registryKey, log)
	if err != nil {
		return err
	}
	defer mk.Close()
	bk, err := loadBlindKeys(*blindKeys, mk)
	if err != nil {
		return err
	}
	core, err := buyer.New(buyer.Config{Identity: id, Registry: mk.client(id, log), BlindKeys: bk, Logger: log, MaxTurns: *maxTurns})
	if err != nil {
		return err
	}
	if err := core.Initialize(ctx); err != nil {
		return err
	}
	defer core.Close()
	if !*asJSON {
		unsub := core.Subscribe(func(e buyer.Event) { printEvent(env, e) })
		defer unsub()
	}
	var decider buyer.Decider // chosen before anything reaches a seller
	if *auto {
		d, desc, err := sf.decider(ctx, log)
		if err != nil {
			return err
		}
		if d == nil {
			return &exitError{2, fmt.Errorf("--auto needs a decider: --sandbox is off")}
		}
		decider = d
		if !*asJSON {
			fmt.Fprintf(env.stdout, "autonomous decider: %s\n", desc)
		}
	}
	s, err := core.ProposeDeal(ctx, addr.String(), buyer.Constraints{Item: *item, Quantity: *quantity, MaxBudget: maxBudget, MaxTurns: *maxTurns}, buyer.ProposeOptions{})
	if err != nil {
		return fmt.Errorf("propose: %w", err)
	}
	if *auto {
		if s, err = core.NegotiateAutonomously(ctx, s.ID, decider); err != nil {
			return fmt.Errorf("negotiate: %w", err)
		}
	} else if s, err = core.WaitForSeller(ctx, s.ID); err != nil {
		return err
	}
	result := map[string]any{"session": s}
	var art *anp.Artifact
	if *approve {
		if s.State != buyer.StateConfirmed {
			return &exitError{3, fmt.Errorf("no deal to approve: session %s ended %s %s", s.ID, s.State, s.Reason)}
		}
		if art, err = core.ApproveAndSign(ctx, s.ID); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if s, err = core.GetSession(ctx, s.ID); err != nil {
			return err
		}
		result["session"], result["artifact"] = s, art
		if *out != "" {
			data, _ := json.MarshalIndent(art, "", "  ")
			if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
				return fmt.Errorf("write artifact: %w", err)
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	fmt.Fprintf(env.stdout, "session %s with %s: %s after %d turns", s.ID, s.Seller, s.State, s.Turn)
	if s.AgreedPrice != nil {
		fmt.Fprintf(env.stdout, " at %s (budget %s)", s.AgreedPrice, s.MaxBudget)
	}
	fmt.Fprintln(env.stdout)
	if art != nil && *out != "" {
		fmt.Fprintf(env.stdout, "artifact written to %s (log leaf %d); check it with: clinch-mcp verify %s --registry-key %s\n", *out, art.Receipt.LeafIndex, *out, art.Receipt.RootKey)
	}
	return nil
}

// The blind keys file is what seals the buyer's credentials.
var _ buyer.Credentials = (*secrets.BlindKeys)(nil)

func loadBlindKeys(path string, mk *market) (*secrets.BlindKeys, error) {
	if path != "" {
		return secrets.LoadBlindKeys(path)
	}
	if mk.demo != nil {
		return secrets.NewBlindKeys(demomarket.DemoCredentials(nil))
	}
	return nil, nil
}

func printEvent(env *cliEnv, e buyer.Event) {
	s := e.Session
	switch e.Type {
	case buyer.EventCounterReceived:
		fmt.Fprintf(env.stdout, "turn %d: %s asks %s (your last offer %s): %q\n", s.Turn, s.Seller, money(s.LastSellerPrice), money(s.LastOwnOffer), s.SellerMessage)
	case buyer.EventApprovalRequired:
		fmt.Fprintf(env.stdout, "turn %d: %s confirms %s — approval required\n", s.Turn, s.Seller, money(s.AgreedPrice))
	case buyer.EventDealSigned:
		fmt.Fprintf(env.stdout, "deal signed by buyer, seller and registry: %s at %s\n", s.Seller, money(s.AgreedPrice))
	case buyer.EventSessionCancelled:
		fmt.Fprintf(env.stdout, "session ended %s: %s\n", s.State, s.Reason)
	}
}

func money(m *anp.Money) string {
	if m == nil {
		return "-"
	}
	return m.String()
}
