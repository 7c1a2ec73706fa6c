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

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/demomarket"
	"github.com/clinch-protocol/clinch-mcp/sandbox"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// negotiateFlags are the flags of `clinch-mcp negotiate`.
type negotiateFlags struct {
	market    marketFlags
	sandbox   sandboxFlags
	to        string
	item      string
	budget    string
	currency  string
	quantity  int
	maxTurns  int
	auto      bool
	approve   bool
	ceiling   autoApproveFlag
	json      bool
	out       string
	blindKeys string
	timeout   time.Duration
}

func (f *negotiateFlags) register(fs *flag.FlagSet, env *cliEnv) {
	f.market.register(fs, env)
	f.market.logs.registerWith(fs, env, "warn")
	fs.StringVar(&f.to, "to", "", "seller address, e.g. ANP/C.kitchen-outlet.anp; a bare domain (kitchen-outlet.anp) means ANP/C (required)")
	fs.StringVar(&f.item, "item", "", "what to buy (required)")
	fs.StringVar(&f.budget, "max-budget", "", "the most you will pay, in major units, e.g. 95 or 95.50 (required; never sent to the seller)")
	fs.StringVar(&f.currency, "currency", "USD", "ISO 4217 currency")
	fs.IntVar(&f.quantity, "quantity", 1, "quantity")
	fs.IntVar(&f.maxTurns, "max-turns", 8, "give up after this many turns")
	fs.BoolVar(&f.auto, "auto", false, "negotiate by itself until the seller confirms or max turns, with the decider --sandbox selects: "+
		"auto (the default) uses the local Ollama model (--ollama-model, default "+sandbox.DefaultModel+") when Ollama answers and has it, "+
		"else the deterministic adaptive strategy (it models the seller); strategy always uses that strategy; the chosen decider is printed first")
	fs.BoolVar(&f.approve, "approve", false, "sign and commit the deal once the seller confirms (commits money)")
	f.ceiling.register(fs, env)
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	fs.StringVar(&f.out, "out", "", "write the signed artifact JSON to this file")
	fs.StringVar(&f.blindKeys, "blind-keys", envOr(env, "CLINCH_BLIND_KEYS", ""), "JSON file of per-domain credentials (env CLINCH_BLIND_KEYS)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	f.sandbox.register(fs, env)
}

// validate checks the flags and returns the budget they set; usage shows
// the flags when a required one is missing.
func (f *negotiateFlags) validate(usage func()) (anp.Money, error) {
	if f.to == "" || f.item == "" || f.budget == "" {
		usage()
		return anp.Money{}, &exitError{2, fmt.Errorf("--to, --item and --max-budget are required")}
	}
	maxBudget, err := anp.ParseMoney(f.budget, f.currency)
	if err != nil {
		return anp.Money{}, &exitError{2, fmt.Errorf("--max-budget: %w", err)}
	}
	if f.out != "" && !f.approve {
		return anp.Money{}, &exitError{2, fmt.Errorf("--out needs --approve: only a signed deal has an artifact")}
	}
	return maxBudget, nil
}

func runNegotiate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "negotiate", "negotiate --to ADDRESS --item TEXT --max-budget N [--currency USD] [--auto] [--approve] [--json] [--out FILE]\n\n"+
		"Without --auto it sends the proposal, prints the seller's answer and says how to go on: the session lives in this\n"+
		"process only (in memory), so it ends when the command exits. With --auto it negotiates to the end.")
	var f negotiateFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	maxBudget, err := f.validate(fs.Usage)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	om, err := f.market.open(ctx, env)
	if err != nil {
		return err
	}
	defer om.Close()
	core, err := f.engine(ctx, om)
	if err != nil {
		return err
	}
	defer core.Close()
	if !f.json {
		unsub := core.Subscribe(func(e buyer.Event) { printEvent(env, e) })
		defer unsub()
	}
	decider, err := f.autoDecider(ctx, env, om.log) // chosen before anything reaches a seller
	if err != nil {
		return err
	}
	s, err := f.negotiate(ctx, core, maxBudget, decider)
	if err != nil {
		return err
	}
	s, art, err := f.approveDeal(ctx, core, s)
	if err != nil {
		return err
	}
	return f.report(env, fs, s, art)
}

// engine starts the buyer engine on the opened market, with the credentials
// of --blind-keys (the demo's on the embedded demo market). The caller closes
// it.
func (f *negotiateFlags) engine(ctx context.Context, om *openedMarket) (*buyer.Core, error) {
	bk, err := loadBlindKeys(f.blindKeys, om.market)
	if err != nil {
		return nil, err
	}
	ceiling, err := f.ceiling.ceiling()
	if err != nil {
		return nil, err
	}
	core, err := buyer.New(buyer.Config{Identity: om.id, Registry: om.client(), BlindKeys: bk, Logger: om.log, MaxTurns: f.maxTurns, AutoApproveBelow: ceiling,
		KeyPins: om.market.keyPins()})
	if err != nil {
		return nil, err
	}
	if err := core.Initialize(ctx); err != nil {
		core.Close() // stops a subscription a failed Initialize left running
		return nil, err
	}
	return core, nil
}

// autoDecider is the decider --sandbox selects for --auto, announced unless
// --json; nil without --auto.
func (f *negotiateFlags) autoDecider(ctx context.Context, env *cliEnv, log zerolog.Logger) (buyer.Decider, error) {
	if !f.auto {
		return nil, nil
	}
	d, desc, err := f.sandbox.decider(ctx, log)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, &exitError{2, fmt.Errorf("--auto needs a decider: --sandbox is off")}
	}
	if !f.json {
		fmt.Fprintf(env.stdout, "autonomous decider: %s\n", desc)
	}
	return d, nil
}

// negotiate proposes the deal, then negotiates it to the end with decider
// (--auto) or waits for the seller's first answer. Arguments the engine
// refuses exit with 2, as a bad flag does.
func (f *negotiateFlags) negotiate(ctx context.Context, core *buyer.Core, maxBudget anp.Money, decider buyer.Decider) (buyer.Session, error) {
	s, err := core.ProposeDeal(ctx, f.to, buyer.Constraints{Item: f.item, Quantity: f.quantity, MaxBudget: maxBudget, MaxTurns: f.maxTurns}, buyer.ProposeOptions{})
	if errors.Is(err, buyer.ErrInvalidInput) || errors.Is(err, buyer.ErrOverBudget) {
		return s, &exitError{2, fmt.Errorf("propose: %w", err)}
	}
	if err != nil {
		return s, fmt.Errorf("propose: %w", err)
	}
	if !f.auto {
		return core.WaitForSeller(ctx, s.ID)
	}
	if s, err = core.NegotiateAutonomously(ctx, s.ID, decider); err != nil {
		return s, fmt.Errorf("negotiate: %w", err)
	}
	return s, nil
}

// approveDeal, with --approve, signs and commits the deal session s reached
// and writes its artifact to --out when set. It returns the session as it is
// then and the artifact; without --approve, s and nil.
func (f *negotiateFlags) approveDeal(ctx context.Context, core *buyer.Core, s buyer.Session) (buyer.Session, *anp.Artifact, error) {
	if !f.approve {
		return s, nil, nil
	}
	if s.State != buyer.StateConfirmed && s.State != buyer.StateSigned { // SIGNED: under --auto-approve-below; signing again returns the same artifact
		hint := ""
		if !f.auto {
			hint = "; without --auto nothing is negotiated after the seller's first answer, so add --auto to reach a deal"
		}
		return s, nil, &exitError{3, fmt.Errorf("no deal to approve: session %s ended %s %s%s", s.ID, s.State, s.Reason, hint)}
	}
	art, err := core.ApproveAndSign(buyer.WithApprover(ctx, buyer.PresetApprover{By: "the user, with --approve on the command line"}), s.ID)
	if err != nil {
		return s, nil, fmt.Errorf("approve: %w", err)
	}
	if s, err = core.GetSession(ctx, s.ID); err != nil {
		return s, nil, err
	}
	if f.out != "" {
		data, _ := json.MarshalIndent(art, "", "  ")
		if err := os.WriteFile(f.out, append(data, '\n'), 0o644); err != nil {
			return s, nil, fmt.Errorf("write artifact: %w", err)
		}
	}
	return s, art, nil
}

// report prints the outcome: the session (and the artifact, with --approve)
// as JSON with --json, else a summary; and, after a session left open without
// --auto, how to go on (on stderr with --json, so stdout stays one JSON
// document).
func (f *negotiateFlags) report(env *cliEnv, fs *flag.FlagSet, s buyer.Session, art *anp.Artifact) error {
	next := ""
	if !f.auto && !s.State.Terminal() {
		next = nextSteps(s, fs)
	}
	if f.json {
		if next != "" {
			fmt.Fprint(env.stderr, next)
		}
		result := map[string]any{"session": s}
		if f.approve {
			result["artifact"] = art
		}
		return printJSON(env, result)
	}
	fmt.Fprintln(env.stdout, outcome(s))
	fmt.Fprint(env.stdout, next)
	if art != nil && f.out != "" {
		fmt.Fprintf(env.stdout, "artifact written to %s (log leaf %d); check it with: clinch-mcp verify %s --registry-key %s\n", f.out, art.Receipt.LeafIndex, f.out, art.Receipt.RootKey)
	}
	return nil
}

// outcome is the one-line summary of session s: its state after how many
// turns, and the agreed price or the seller's standing ask against the budget.
func outcome(s buyer.Session) string {
	line := fmt.Sprintf("session %s with %s: %s after %s", s.ID, s.Seller, s.State, plural(s.Turn, "turn"))
	if s.AgreedPrice != nil {
		return line + fmt.Sprintf(" at %s (budget %s)", s.AgreedPrice, s.MaxBudget)
	}
	if s.LastSellerPrice != nil {
		return line + fmt.Sprintf("; the seller asks %s (your budget %s)", s.LastSellerPrice, s.MaxBudget)
	}
	return line
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
