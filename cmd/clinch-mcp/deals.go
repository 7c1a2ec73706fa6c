package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/core/seller"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// arbiterKeyPath is the arbiter key file: path, or arbiter.key in the data
// directory.
func arbiterKeyPath(env *cliEnv, path string) string {
	if path == "" {
		return filepath.Join(dataDir(env), "arbiter.key")
	}
	return path
}

// arbiterFlags are the flags of every arbiter subcommand.
type arbiterFlags struct {
	registry string
	keyFile  string
	rootKey  string
}

func (f *arbiterFlags) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&f.registry, "registry", envOr(env, "CLINCH_REGISTRY", ""), "registry URL (env CLINCH_REGISTRY); required")
	fs.StringVar(&f.keyFile, "key-file", envOr(env, "CLINCH_ARBITER_KEY_FILE", ""), "the registry's arbiter key file (default arbiter.key in the data directory)")
	fs.StringVar(&f.rootKey, "registry-key", envOr(env, "CLINCH_REGISTRY_KEY", ""), "pin the registry root key, hex; default: the key fetched first")
}

// client is a registry client acting with the arbiter key.
func (f *arbiterFlags) client(env *cliEnv) (*registry.Client, ed25519.PrivateKey, error) {
	if f.registry == "" {
		return nil, nil, &exitError{2, fmt.Errorf("--registry is required")}
	}
	key, err := secrets.LoadIdentityFile(arbiterKeyPath(env, f.keyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("arbiter key: %w", err)
	}
	return registry.NewClient(f.registry, key, registry.ClientOptions{RootKey: f.rootKey, Logger: zerolog.Nop()}), key, nil
}

func runArbiter(ctx context.Context, env *cliEnv, args []string) error {
	subs := map[string]func(context.Context, *cliEnv, []string) error{"list": runArbiterList, "show": runArbiterShow, "resolve": runArbiterResolve}
	if sub, ok := subcommand(args, subs); ok {
		return sub(ctx, env, args[1:])
	}
	fs := newFlags(env, "arbiter", "arbiter list|show SESSION|resolve SESSION --outcome for_buyer|for_seller|split --by NAME  --registry URL [--key-file FILE]",
		"The registry operator's disputes: list them, show one deal's lifecycle, decide one. A decision is a RESOLVE signed\n"+
			"with the registry's arbiter key file (the one `clinch-mcp registry` uses) and logged with the name of who decided.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Usage()
	return &exitError{2, fmt.Errorf("arbiter needs list, show or resolve")}
}

func runArbiterList(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "arbiter list", "arbiter list --registry URL [--key-file FILE]", "Lists the registry's disputes, open and resolved.")
	var f arbiterFlags
	f.register(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, _, err := f.client(env)
	if err != nil {
		return err
	}
	list, err := c.Disputes(ctx)
	if err != nil {
		return fmt.Errorf("list disputes: %w", err)
	}
	for _, d := range list {
		decided := "open"
		if d.Resolution != nil {
			decided = fmt.Sprintf("%s by %s", d.Resolution.Outcome, d.Resolution.DecidedBy)
		}
		fmt.Fprintf(env.stdout, "%s %s deal@%d %s by the %s, severity %d, %s: %s\n",
			d.Session, d.SellerDomain, d.DealLeaf, d.Reason, d.By, d.Severity, time.UnixMilli(d.At).UTC().Format(time.RFC3339), decided)
	}
	fmt.Fprintf(env.stderr, "clinch-mcp: %d disputes\n", len(list))
	return nil
}

// oneSession returns the single SESSION argument of fs.
func oneSession(fs *flag.FlagSet, cmd string) (string, error) {
	if fs.NArg() != 1 || !anp.ValidSessionID(fs.Arg(0)) {
		fs.Usage()
		return "", &exitError{2, fmt.Errorf("%s needs exactly one SESSION id (32 hex characters)", cmd)}
	}
	return fs.Arg(0), nil
}

func runArbiterShow(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "arbiter show", "arbiter show SESSION --registry URL [--key-file FILE]", "Prints a deal's lifecycle and logged events as JSON.")
	var f arbiterFlags
	f.register(fs, env)
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	session, err := oneSession(fs, "arbiter show")
	if err != nil {
		return err
	}
	c, _, err := f.client(env)
	if err != nil {
		return err
	}
	st, err := c.DealStatus(ctx, session)
	if err != nil {
		return fmt.Errorf("read the deal of session %s: %w", session, err)
	}
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

func runArbiterResolve(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "arbiter resolve", "arbiter resolve SESSION --outcome for_buyer|for_seller|split --by NAME --registry URL [--key-file FILE]",
		"Decides the dispute of SESSION: signs a RESOLVE with the arbiter key, naming the person who decided (--by: a-z, 0-9, . _ @ -),\n"+
			"and has the registry log it.")
	var f arbiterFlags
	f.register(fs, env)
	outcome := fs.String("outcome", "", "for_buyer, for_seller or split; required")
	by := fs.String("by", "", "who decided (a person's handle); required")
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	session, err := oneSession(fs, "arbiter resolve")
	if err != nil {
		return err
	}
	decider := anp.Decider{Kind: anp.DecidedByPerson, ID: *by}
	if err := (&anp.ResolveBody{Deal: anp.HashBytes(nil), Dispute: anp.HashBytes(nil), Outcome: *outcome, DecidedBy: decider}).Validate(); err != nil {
		return &exitError{2, fmt.Errorf("arbiter resolve: %w", err)}
	}
	c, key, err := f.client(env)
	if err != nil {
		return err
	}
	st, err := c.DealStatus(ctx, session)
	if err != nil {
		return fmt.Errorf("read the deal of session %s: %w", session, err)
	}
	env2, err := registry.SealResolve(key, &st.Lifecycle, *outcome, decider, time.Now())
	if err != nil {
		return err
	}
	entry, err := c.SubmitDealEvent(ctx, env2)
	if err != nil {
		return fmt.Errorf("resolve the dispute of session %s: %w", session, err)
	}
	fmt.Fprintf(env.stdout, "dispute of session %s resolved %s by %s: log index %d\n", session, *outcome, decider, entry.LeafIndex)
	return nil
}

// sellerAdmin is what a running seller node writes for `clinch-mcp fulfil`:
// where its admin listener is and the token it takes.
type sellerAdmin struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

const sellerAdminFile = "admin.json"

// startSellerAdmin serves the node's admin routes on addr (loopback) with a
// fresh token, and writes both to admin.json in stateDir (mode 0600).
func startSellerAdmin(node *seller.Node, addr, stateDir string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("seller admin listener: %w", err)
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		_ = ln.Close()
		return nil, err
	}
	admin := sellerAdmin{URL: "http://" + ln.Addr().String(), Token: hex.EncodeToString(tok[:])}
	data, err := json.Marshal(admin)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stateDir, sellerAdminFile), data, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	hs := &http.Server{Handler: node.AdminHandler(admin.Token), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return hs, nil
}

func runFulfil(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "fulfil", "fulfil --session ID --evidence TEXT [--config FILE | --state-dir DIR]",
		"Tells the running seller node of the config that it delivered the deal of session ID. The node hashes the evidence\n"+
			"text (a tracking reference, a delivery note) and has the registry log a FULFILL with the hash: the text never leaves it.")
	config := fs.String("config", envOr(env, "CLINCH_SELLER_CONFIG", ""), "the seller config of the running node")
	stateDir := fs.String("state-dir", envOr(env, "CLINCH_SELLER_STATE_DIR", ""), "the node's state directory (default seller/DOMAIN in the data directory)")
	session := fs.String("session", "", "the signed session; required")
	evidence := fs.String("evidence", "", "what proves delivery; required (only its SHA-256 is sent)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !anp.ValidSessionID(*session) || *evidence == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("fulfil needs --session (32 hex characters) and --evidence")}
	}
	admin, err := readSellerAdmin(env, *config, *stateDir)
	if err != nil {
		return err
	}
	body, err := json.Marshal(seller.FulfilRequest{Session: *session, Evidence: *evidence})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin.URL+seller.RouteAdminFulfil, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("reach the seller node at %s: %w", admin.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb anp.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil {
			return fmt.Errorf("fulfil session %s: %s", *session, eb.Error.Message)
		}
		return fmt.Errorf("fulfil session %s: HTTP %d", *session, resp.StatusCode)
	}
	var entry anp.DealEventEntry
	if err := json.Unmarshal(data, &entry); err != nil {
		return fmt.Errorf("the seller node's answer: %w", err)
	}
	fmt.Fprintf(env.stdout, "session %s fulfilled: evidence %s logged at index %d\n", *session, anp.HashBytes([]byte(*evidence)), entry.LeafIndex)
	return nil
}

// readSellerAdmin reads the admin.json of a running seller node: in
// stateDir, or in the default state directory of the config's domain.
func readSellerAdmin(env *cliEnv, config, stateDir string) (*sellerAdmin, error) {
	if stateDir == "" {
		if config == "" {
			return nil, &exitError{2, fmt.Errorf("fulfil needs --config or --state-dir to find the running seller node")}
		}
		fc, _, err := loadSellerConfig(config)
		if err != nil {
			return nil, err
		}
		stateDir = filepath.Join(dataDir(env), "seller", fc.Domain)
	}
	data, err := os.ReadFile(filepath.Join(stateDir, sellerAdminFile))
	if err != nil {
		return nil, fmt.Errorf("the seller node's admin file (is the node running?): %w", err)
	}
	var a sellerAdmin
	if err := anp.DecodeStrict(data, &a); err != nil {
		return nil, fmt.Errorf("the seller node's admin file: %w", err)
	}
	return &a, nil
}
