package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runNegotiate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "negotiate", "negotiate --to ADDRESS --item TEXT --max-budget N [--currency USD] [--auto] [--approve] [--json] [--out FILE]\n\n"+
		"Without --auto it sends the proposal, prints the seller's answer and says how to go on: the session lives in this\n"+
		"process only (in memory), so it ends when the command exits. With --auto it negotiates to the end.")
	var mf marketFlags
	mf.register(fs, env)
	mf.logs.registerWith(fs, env, "warn")
	to := fs.String("to", "", "seller address, e.g. ANP/C.kitchen-outlet.anp; a bare domain (kitchen-outlet.anp) means ANP/C (required)")
	item := fs.String("item", "", "what to buy (required)")
	budget := fs.String("max-budget", "", "the most you will pay, in major units, e.g. 95 or 95.50 (required; never sent to the seller)")
	currency := fs.String("currency", "USD", "ISO 4217 currency")
	quantity := fs.Int("quantity", 1, "quantity")
	maxTurns := fs.Int("max-turns", 8, "give up after this many turns")
	auto := fs.Bool("auto", false, "negotiate by itself until the seller confirms or max turns, with the decider --sandbox selects: "+
		"auto (the default) uses the local Ollama model (--ollama-model, default "+sandbox.DefaultModel+") when Ollama answers and has it, "+
		"else the deterministic Boulware concession strategy; strategy always uses that strategy; the chosen decider is printed first")
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
	s, err := core.ProposeDeal(ctx, *to, buyer.Constraints{Item: *item, Quantity: *quantity, MaxBudget: maxBudget, MaxTurns: *maxTurns}, buyer.ProposeOptions{})
	if errors.Is(err, buyer.ErrInvalidInput) || errors.Is(err, buyer.ErrOverBudget) {
		return &exitError{2, fmt.Errorf("propose: %w", err)} // the arguments are wrong, as with a bad flag
	}
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
			hint := ""
			if !*auto {
				hint = "; without --auto nothing is negotiated after the seller's first answer, so add --auto to reach a deal"
			}
			return &exitError{3, fmt.Errorf("no deal to approve: session %s ended %s %s%s", s.ID, s.State, s.Reason, hint)}
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
	next := ""
	if !*auto && !s.State.Terminal() {
		next = nextSteps(s, fs)
	}
	if *asJSON {
		if next != "" {
			fmt.Fprint(env.stderr, next) // stdout stays one JSON document
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	fmt.Fprintf(env.stdout, "session %s with %s: %s after %s", s.ID, s.Seller, s.State, plural(s.Turn, "turn"))
	if s.AgreedPrice != nil {
		fmt.Fprintf(env.stdout, " at %s (budget %s)", s.AgreedPrice, s.MaxBudget)
	} else if s.LastSellerPrice != nil {
		fmt.Fprintf(env.stdout, "; the seller asks %s (your budget %s)", s.LastSellerPrice, s.MaxBudget)
	}
	fmt.Fprintln(env.stdout)
	fmt.Fprint(env.stdout, next)
	if art != nil && *out != "" {
		fmt.Fprintf(env.stdout, "artifact written to %s (log leaf %d); check it with: clinch-mcp verify %s --registry-key %s\n", *out, art.Receipt.LeafIndex, *out, art.Receipt.RootKey)
	}
	return nil
}

// The blind keys file is what seals the buyer's credentials.
var _ buyer.Credentials = (*secrets.BlindKeys)(nil)

// nextSteps tells the user of a negotiation started without --auto how to
// go on: the session is in this process's memory only and ends with it.
func nextSteps(s buyer.Session, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The session lives in this command's memory only, so it ends now that the command exits.\n")
	fmt.Fprintf(&b, "To negotiate to a deal from the terminal, run it again with --auto (add --approve to sign the deal it reaches):\n  %s\n",
		rerunCommand(fs, "--auto"))
	fmt.Fprintf(&b, "To make every move yourself (counter, accept, approve), use the MCP tools of `clinch-mcp serve` from an MCP host such as Claude Desktop.\n")
	return b.String()
}

// rerunCommand is the negotiate command line of fs's set flags (those that
// define the purchase and the market) plus extra, quoted for a POSIX shell.
func rerunCommand(fs *flag.FlagSet, extra ...string) string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	parts := []string{"clinch-mcp", "negotiate"}
	for _, name := range []string{"to", "item", "max-budget", "currency", "quantity", "max-turns", "registry", "registry-key",
		"key-file", "blind-keys", "sandbox", "ollama-host", "ollama-model"} {
		if set[name] {
			parts = append(parts, "--"+name, shellQuote(fs.Lookup(name).Value.String()))
		}
	}
	return strings.Join(append(parts, extra...), " ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// plural renders n with the noun in the right number: "1 turn", "3 turns".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

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
